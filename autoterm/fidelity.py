"""Compare a paper-grid replay with the authors' published stop decisions.

The authors' table (``result_identity_cv_top0.5.csv`` of amazon-research/bo-early-stopping,
Makarova et al. 2022) has one row per algorithm × dataset × seed × method with ``stop_iter`` and
the relative measures; :func:`compare_with_authors` joins a replay table (``autoterm replay
--paper-grid``) to it on those keys.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ALGO = {"xgboost": "XGB", "random_forest": "RF"}


def compare_with_authors(
    replay: pd.DataFrame, authors_csv: str | Path, *, tolerance: int = 0
) -> pd.DataFrame:
    """Join replay rows to the authors' rows and flag agreeing stop iterations.

    Args:
        replay: a paper-grid replay table (columns model, dataset, seed, paper_method,
            bound_source, stop_iter, rtc_iter, rtc_time, ryc).
        authors_csv: the authors' result table.
        tolerance: iterations within which two stops count as agreeing.

    Returns:
        One row per replay row with the authors' ``stop_iter_authors``, ``rel_*`` columns and
        ``agree``; replay rows without an authors' row are kept with ``agree = False``.
    """
    auth = pd.read_csv(authors_csv)
    r = replay[replay["paper_method"].fillna("") != ""].copy()
    r["algo"] = r["model"].map(ALGO)
    m = r.merge(
        auth[
            [
                "algo",
                "dataset",
                "seed",
                "method",
                "stop_iter",
                "rel_iter",
                "rel_time",
                "rel_test",
                "rel_val",
            ]
        ].rename(columns={"stop_iter": "stop_iter_authors"}),
        left_on=["algo", "dataset", "seed", "paper_method"],
        right_on=["algo", "dataset", "seed", "method"],
        how="left",
    )
    m["agree"] = (m["stop_iter"] - m["stop_iter_authors"]).abs() <= tolerance
    return m


def summary(compared: pd.DataFrame) -> pd.DataFrame:
    """Agreement and mean measures per algorithm × method × bound source, ours beside theirs."""
    g = compared.assign(family=compared["paper_method"].str.split("_").str[0]).groupby(
        ["algo", "paper_method", "bound_source"], dropna=False
    )
    return g.agg(
        runs=("agree", "size"),
        agree=("agree", "mean"),
        rtc_iter=("rtc_iter", "mean"),
        rtc_iter_authors=("rel_iter", "mean"),
        rtc_time=("rtc_time", "mean"),
        rtc_time_authors=("rel_time", "mean"),
        ryc=("ryc", "mean"),
        ryc_authors=("rel_test", "mean"),
    ).reset_index()
