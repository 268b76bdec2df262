"""Summary tables of replayed stop decisions: mean ± std of RTC and RYC per model × rule × knob.

The measures are the authors' (Makarova et al., 2022, Sec. 6; ``DESIGN.md`` §5): RTC in
iterations ``(T − s)/T`` and in time, RYC ``(e_T − e_s)/max(e_T, e_s)``. :func:`build_report`
reads one or more tidy tables written by ``autoterm replay`` (one row per run × rule × knob, see
:mod:`autoterm.replay`) and aggregates them

* per *cell* ``model × rule × knob`` (kept apart by ``paper_method`` and ``bound_source`` where
  the paper grid sets them): mean ± std over seeds **and** datasets of ``rtc_iter``,
  ``rtc_time`` and ``ryc``, the fraction of runs where the rule fired, the mean stop iteration
  and the number of runs, and
* per ``model × dataset × rule × knob`` (the same statistics over seeds only).

Standard deviations are sample standard deviations (``ddof = 1`` by default; NaN for one run).

A completeness check compares every cell with the runs of its model: the expected runs of a
model are all its datasets × all its seeds (as seen in any of its cells). A cell missing some of
them (a dataset short of seeds, or a run present for other rules only) is listed in a
:class:`IncompleteWarning`; ``strict=True`` raises :class:`ReportError` instead. Means over
unequal sets of runs are not comparable across rules, hence the check.

Writers: :func:`write_csv`, :func:`to_markdown` (GitHub table, ``mean ± std`` cells),
:func:`to_latex` (booktabs only), all written atomically by :func:`write_report`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autoterm.trajectory import write_text_atomic

log = logging.getLogger(__name__)

#: Columns a replay table must have for a report.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "run",
    "model",
    "dataset",
    "seed",
    "rule",
    "knob",
    "stop_iter",
    "fired",
    "rtc_iter",
    "rtc_time",
    "ryc",
)
#: Optional label columns (empty when absent): the authors' method name and bound source.
LABEL_COLUMNS: tuple[str, ...] = ("paper_method", "bound_source")
#: The key of a summary cell (a row of the summary table), in sort order: the paper grid's rows
#: (``paper_method`` set) and autoterm's rows of the same rule stay apart.
CELL: tuple[str, ...] = ("model", "rule", "bound_source", "paper_method", "knob")
#: The key of a per-dataset row.
CELL_BY_DATASET: tuple[str, ...] = (
    "model",
    "dataset",
    "rule",
    "bound_source",
    "paper_method",
    "knob",
)
#: Key columns in display order.
DISPLAY_KEY: tuple[str, ...] = (
    "model",
    "dataset",
    "rule",
    "bound_source",
    "knob",
    "paper_method",
)
#: Measures averaged with a standard deviation.
MEASURES: tuple[str, ...] = ("rtc_iter", "rtc_time", "ryc")

_HEADERS = {
    "model": "model",
    "dataset": "dataset",
    "rule": "rule",
    "knob": "knob",
    "paper_method": "paper method",
    "bound_source": "bound",
    "n_runs": "runs",
    "fired": "fired",
    "stop_iter_mean": "stop iter",
    "rtc_iter": "RTC (iter)",
    "rtc_time": "RTC (time)",
    "ryc": "RYC",
}


class ReportError(ValueError):
    """Unusable input: a missing or malformed replay table, or an incomplete one with strict."""


class IncompleteWarning(UserWarning):
    """Some summary cells average over fewer runs than their model has."""


@dataclass(frozen=True)
class Gap:
    """A summary cell that lacks runs of its model.

    Attributes:
        model: the model.
        rule: the rule label.
        knob: the knob value.
        bound_source: ``authors`` / ``autoterm`` for the paper grid's bound, else empty.
        paper_method: the authors' method name, else empty.
        missing: the missing runs as ``(dataset, seed)`` pairs, sorted.
    """

    model: str
    rule: str
    knob: float
    bound_source: str
    paper_method: str
    missing: tuple[tuple[str, int], ...]

    @property
    def cell(self) -> str:
        """``rule[bound] knob`` (``(paper method)``) for messages."""
        label = self.rule + (f"[{self.bound_source}]" if self.bound_source else "")
        pm = f" ({self.paper_method})" if self.paper_method else ""
        return f"{label} {format_knob(self.knob)}{pm}"


@dataclass
class Report:
    """The aggregated tables.

    Attributes:
        summary: one row per ``model × rule × knob`` cell (columns :data:`CELL`, ``n_runs``,
            ``n_datasets``, ``n_seeds``, ``fired``, ``stop_iter_mean`` and ``<m>_mean``,
            ``<m>_std`` for each measure in :data:`MEASURES`).
        by_dataset: one row per ``model × dataset × rule × knob`` (same statistics).
        gaps: the incomplete cells (empty if complete).
        rows: the replay rows the tables were built from (deduplicated).
    """

    summary: pd.DataFrame
    by_dataset: pd.DataFrame
    gaps: list[Gap] = field(default_factory=list)
    rows: pd.DataFrame | None = None


# --------------------------------------------------------------------------------------- input


def load_replay(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Read and concatenate replay tables, checking their columns.

    Args:
        paths: CSV files written by ``autoterm replay``.

    Returns:
        The rows, with ``paper_method`` / ``bound_source`` as strings (empty where unset),
        ``fired`` as bool and ``seed`` as int. A column ``source`` names each row's file.

    Raises:
        ReportError: no path, a missing or unreadable file, or a table missing required columns.
    """
    if not paths:
        raise ReportError("no replay table given")
    frames = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise ReportError(f"{p}: no such file")
        try:
            df = pd.read_csv(p)
        except (ValueError, OSError) as exc:  # pandas' EmptyDataError / ParserError included
            raise ReportError(f"{p}: not a readable CSV table ({exc})") from exc
        try:
            df = prepare(df)
        except ReportError as exc:
            raise ReportError(f"{p}: {exc}") from exc
        df["source"] = str(p)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Check and normalise the columns of a replay table (a copy; see :func:`load_replay`).

    Raises:
        ReportError: required columns missing, or values that are not numbers where needed.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ReportError(
            f"not a replay table: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(REQUIRED_COLUMNS)})"
        )
    df = df.copy()
    for c in LABEL_COLUMNS:
        if c in df.columns:
            col = df[c].astype(object)
            df[c] = col.where(col.notna(), "").astype(str)
        else:
            df[c] = ""
    for c in ("model", "dataset", "rule", "run"):
        df[c] = df[c].astype(str)
    try:
        for c in ("knob", "stop_iter", *MEASURES):
            df[c] = pd.to_numeric(df[c], errors="raise").astype(float)
        df["seed"] = pd.to_numeric(df["seed"], errors="raise").astype(int)
    except (ValueError, TypeError) as exc:
        raise ReportError(f"non-numeric values in a numeric column ({exc})") from exc
    df["fired"] = df["fired"].map(_as_bool)
    if df["fired"].isna().any():
        raise ReportError("column 'fired' must hold True/False")
    df["fired"] = df["fired"].astype(bool)
    return df


def _as_bool(v: object) -> bool | None:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = str(v).strip().lower()
    return {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}.get(s)


# ------------------------------------------------------------------------------- completeness


def find_gaps(df: pd.DataFrame) -> list[Gap]:
    """Cells lacking runs of their model (see the module docstring).

    Args:
        df: prepared replay rows (:func:`prepare`).

    Returns:
        One :class:`Gap` per incomplete cell, in table order.
    """
    gaps = []
    for model, dm in df.groupby("model", sort=False):
        datasets = sorted(dm["dataset"].unique())
        seeds = sorted(dm["seed"].unique())
        expected = {(d, int(s)) for d in datasets for s in seeds}
        for key, dc in dm.groupby(list(CELL[1:]), sort=False):
            have = set(zip(dc["dataset"], dc["seed"].astype(int), strict=True))
            miss = tuple(sorted(expected - have))
            if miss:
                rule, bound, pm, knob = key
                gaps.append(Gap(str(model), rule, float(knob), bound, pm, miss))
    return gaps


def format_gaps(gaps: Iterable[Gap]) -> str:
    """A readable list of missing runs, cells with the same missing runs grouped together."""
    groups: dict[tuple[str, tuple[tuple[str, int], ...]], list[str]] = {}
    for g in gaps:
        groups.setdefault((g.model, g.missing), []).append(g.cell)
    lines = []
    for (model, miss), cells in groups.items():
        per_ds: dict[str, list[int]] = {}
        for d, s in miss:
            per_ds.setdefault(d, []).append(s)
        what = "; ".join(f"{d} seed(s) {_seed_list(s)}" for d, s in per_ds.items())
        lines.append(f"{model}: {', '.join(cells)} missing {what}")
    return "\n".join(lines)


def _seed_list(seeds: list[int]) -> str:
    """``0-4,7`` for ``[0, 1, 2, 3, 4, 7]``."""
    seeds = sorted(seeds)
    parts, start = [], seeds[0]
    for a, b in zip(seeds, [*seeds[1:], None], strict=True):
        if b is None or b != a + 1:
            parts.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ",".join(parts)


# -------------------------------------------------------------------------------- aggregation


def _dedupe(df: pd.DataFrame, strict: bool) -> pd.DataFrame:
    key = ["model", "dataset", "seed", *CELL[1:]]
    dup = df.duplicated(key, keep="last")
    if dup.any():
        ex = df.loc[dup, key].iloc[0].to_dict()
        msg = (
            f"{int(dup.sum())} duplicate row(s) (same model, dataset, seed, rule, knob), "
            f"e.g. {ex}; the same run replayed twice or overlapping tables"
        )
        if strict:
            raise ReportError(msg)
        warnings.warn(msg + "; keeping the last", IncompleteWarning, stacklevel=3)
        df = df.loc[~dup]
    return df


def figure_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Prepared rows without the autoterm rows the paper grid repeats under the authors' name.

    ``autoterm replay`` and ``autoterm replay --paper-grid`` of the same runs both hold e.g.
    ``conv`` with ``k = 30`` (``Conv_30`` in the grid, counted in the authors' convention): in a
    figure that is one rule drawn twice. This keeps the grid's row (the authors' name) and drops
    the unnamed one with the same run, rule, knob and bound source. Tables keep both.

    Args:
        df: prepared replay rows (:func:`prepare`).

    Returns:
        The rows to draw, a subset of ``df`` in its order.
    """
    key = ["run", "rule", "knob", "bound_source"]
    named = df["paper_method"] != ""
    if not named.any():
        return df
    shadow = set(map(tuple, df.loc[named, key].itertuples(index=False)))
    dup = ~named & pd.Series(
        [tuple(r) in shadow for r in df[key].itertuples(index=False)], index=df.index
    )
    return df.loc[~dup]


def _order(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Sort hierarchically by first appearance (models, then rules, then knobs within a rule).

    Each level is ranked by the first appearance of its key prefix, so the rule and knob order
    of the replay specs (e.g. ``ei`` 1e-8, 1e-12, 1e-16) is kept.
    """
    ranks = {}
    for i, k in enumerate(keys):
        prefix = list(zip(*(df[c] for c in keys[: i + 1]), strict=True))
        first = {v: j for j, v in enumerate(dict.fromkeys(prefix))}
        ranks[k] = [first[v] for v in prefix]
    order = pd.DataFrame(ranks, index=df.index).sort_values(list(keys), kind="stable").index
    return df.loc[order]


def summarize(df: pd.DataFrame, by: Sequence[str] = CELL, *, ddof: int = 1) -> pd.DataFrame:
    """Mean ± std of the measures per group (the tables of DESIGN §5).

    Args:
        df: prepared replay rows (:func:`prepare`), one per run × rule × knob.
        by: the group key, :data:`CELL` or :data:`CELL_BY_DATASET`.
        ddof: delta degrees of freedom of the standard deviations.

    Returns:
        One row per group, in the order groups first appear in ``df``, with the key columns,
        ``n_runs``, ``n_datasets``, ``n_seeds``, ``fired`` (fraction of runs where the rule
        fired), ``stop_iter_mean`` and ``<m>_mean`` / ``<m>_std`` for ``m`` in
        :data:`MEASURES`.
    """
    by = list(by)
    df = _order(df, by)
    g = df.groupby(by, sort=False, dropna=False)
    out = g.agg(
        n_runs=("seed", "size"),
        n_datasets=("dataset", "nunique"),
        n_seeds=("seed", "nunique"),
        fired=("fired", "mean"),
        stop_iter_mean=("stop_iter", "mean"),
    )
    for m in MEASURES:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_std"] = g[m].std(ddof=ddof)
    return out.reset_index()


def build_report(
    source: Sequence[str | Path] | pd.DataFrame, *, strict: bool = False, ddof: int = 1
) -> Report:
    """The summary and per-dataset tables of replay results, with the completeness check.

    Args:
        source: replay CSV paths, or a replay DataFrame.
        strict: raise on incomplete cells or duplicate rows instead of warning.
        ddof: delta degrees of freedom of the standard deviations.

    Returns:
        The :class:`Report`.

    Raises:
        ReportError: unusable input; with ``strict``, incomplete cells or duplicates.

    Warns:
        IncompleteWarning: incomplete cells or duplicate rows (without ``strict``).
    """
    df = prepare(source) if isinstance(source, pd.DataFrame) else load_replay(source)
    if df.empty:
        raise ReportError("the replay table has no rows")
    df = _dedupe(df, strict)
    gaps = find_gaps(df)
    if gaps:
        msg = "incomplete cells (means over different runs):\n" + format_gaps(gaps)
        if strict:
            raise ReportError(msg)
        warnings.warn(msg, IncompleteWarning, stacklevel=2)
    return Report(
        summary=summarize(df, CELL, ddof=ddof),
        by_dataset=summarize(df, CELL_BY_DATASET, ddof=ddof),
        gaps=gaps,
        rows=df,
    )


# ------------------------------------------------------------------------------------ writers


def format_knob(knob: float) -> str:
    """A compact knob: ``10``, ``2.381``, ``1e-08``."""
    if not math.isfinite(knob):
        return ""
    if knob == int(knob) and abs(knob) < 1e6:
        return str(int(knob))
    return f"{knob:.4g}"


def _fmt(x: float, digits: int) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def _columns(table: pd.DataFrame) -> list[str]:
    """Display columns: the key (label columns only where set) and the statistics."""
    key = [c for c in DISPLAY_KEY if c in table.columns]
    key = [c for c in key if c not in LABEL_COLUMNS or (table[c] != "").any()]
    return [*key, "n_runs", "fired", "stop_iter_mean", *MEASURES]


def display_table(table: pd.DataFrame, *, digits: int = 3, pm: str = " ± ") -> pd.DataFrame:
    """The table as strings: ``mean ± std`` cells, compact knobs, headers for people.

    Args:
        table: :attr:`Report.summary` or :attr:`Report.by_dataset`.
        digits: decimals of RTC / RYC.
        pm: the separator of mean and std.

    Returns:
        A DataFrame of strings with display headers.
    """
    cols = _columns(table)
    out = {}
    for c in cols:
        if c in MEASURES:
            mean, std = table[f"{c}_mean"], table[f"{c}_std"]
            out[_HEADERS[c]] = [
                _fmt(m, digits) + ("" if not math.isfinite(s) else pm + _fmt(s, digits))
                for m, s in zip(mean, std, strict=True)
            ]
        elif c == "knob":
            out[_HEADERS[c]] = [format_knob(k) for k in table[c]]
        elif c == "fired":
            out[_HEADERS[c]] = [_fmt(v, 2) for v in table[c]]
        elif c == "stop_iter_mean":
            out[_HEADERS[c]] = [_fmt(v, 1) for v in table[c]]
        else:
            out[_HEADERS[c]] = [str(v) for v in table[c]]
    return pd.DataFrame(out)


def to_markdown(table: pd.DataFrame, *, digits: int = 3) -> str:
    """A GitHub Markdown table with ``mean ± std`` cells.

    Args:
        table: :attr:`Report.summary` or :attr:`Report.by_dataset`.
        digits: decimals of RTC / RYC.
    """
    d = display_table(table, digits=digits)
    numeric = {"knob", "runs", "fired", "stop iter", "RTC (iter)", "RTC (time)", "RYC"}
    align = ["---:" if h in numeric else "---" for h in d.columns]

    def row(cells: Iterable[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    lines = [row(d.columns), "|" + "|".join(align) + "|"]
    lines += [row(r) for r in d.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: pd.DataFrame, *, digits: int = 3, caption: str | None = None) -> str:
    r"""A booktabs tabular (``\toprule``/``\\midrule``/``\\bottomrule``; no other package).

    Numbers are set in math mode (``$-0.055 \pm 0.012$``); a ``\midrule`` separates models.

    Args:
        table: :attr:`Report.summary` or :attr:`Report.by_dataset`.
        digits: decimals of RTC / RYC.
        caption: an optional comment line at the top (LaTeX ``%``).
    """
    d = display_table(table, digits=digits, pm=" \\pm ")
    text_cols = {"model", "dataset", "rule", "paper method", "bound"}
    spec = "".join("l" if h in text_cols else "r" for h in d.columns)

    def cell(h: str, v: str) -> str:
        if h in text_cols:
            return latex_escape(v)
        if v == "–":
            return "--"
        return f"${v}$"

    lines = []
    if caption:
        lines.append("% " + caption.replace("\n", " "))
    lines += [
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(latex_escape(h) for h in d.columns) + r" \\",
        "\\midrule",
    ]
    prev = None
    for r in d.itertuples(index=False):
        if prev is not None and r[0] != prev:
            lines.append("\\midrule")
        prev = r[0]
        lines.append(" & ".join(cell(h, v) for h, v in zip(d.columns, r, strict=True)) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    """Write the numeric table as CSV, atomically."""
    write_text_atomic(Path(path), table.to_csv(index=False))


def write_report(report: Report, out_dir: str | Path, *, by_dataset: bool = True) -> list[Path]:
    """Write ``summary.{csv,md,tex}`` (and ``summary_by_dataset.{csv,md,tex}``) atomically.

    Args:
        report: the tables.
        out_dir: the directory (created if needed).
        by_dataset: also write the per-dataset breakdown.

    Returns:
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = [("summary", report.summary)]
    if by_dataset:
        tables.append(("summary_by_dataset", report.by_dataset))
    written = []
    for stem, table in tables:
        write_csv(table, out / f"{stem}.csv")
        write_text_atomic(out / f"{stem}.md", to_markdown(table))
        caption = (
            "autoterm report: mean +- std over "
            + ("seeds" if stem.endswith("dataset") else "seeds and datasets")
            + " (Makarova et al., 2022; RTC/RYC as in DESIGN.md section 5)"
        )
        write_text_atomic(out / f"{stem}.tex", to_latex(table, caption=caption))
        written += [out / f"{stem}.{ext}" for ext in ("csv", "md", "tex")]
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return written
