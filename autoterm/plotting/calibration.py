"""Calibration of the regret bound: does it bound the true regret of the incumbent?

Makarova et al. (2022, Sec. 4) bound the regret of the incumbent by ``min UCB − min LCB``. Here
the *true* regret at check ``t`` is the incumbent's test error after ``t`` evaluations minus the
best test error over the whole run (``DESIGN.md`` §5: ``e`` is the incumbent's test error), a
quantity the rule never sees. Each point is one run × check; above the diagonal the bound holds.
The fraction of checks where ``bound ≥ true regret`` is written in the panel, and
:func:`plot_coverage` shows it per iteration over runs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from autoterm.plotting.style import (
    PANEL_HEIGHT,
    PANEL_WIDTH,
    SMALL_SIZE,
    TINY_SIZE,
    finish_axes,
    rule_style,
    style_context,
)
from autoterm.plotting.trace import BoundTrace, bound_trace
from autoterm.stopping import History, load_history

log = logging.getLogger(__name__)

POINT_COLUMNS = ("run", "source", "t", "bound", "regret")


def calibration_points(h: History, bound: BoundTrace, *, run: str = "") -> pd.DataFrame:
    """The bound and the true regret of the incumbent at every check with a bound.

    Args:
        h: the run.
        bound: its stored bound (:func:`autoterm.plotting.trace.bound_trace`).
        run: a name for the ``run`` column.

    Returns:
        Columns ``run``, ``source``, ``t`` (check: number of evaluations seen), ``bound``
        and ``regret`` (incumbent test error after ``t`` evaluations minus the run's best test
        error), one row per check ``t`` with a finite bound and an incumbent.
    """
    inc = h.incumbents()  # (N + 1,)
    best = float(np.nanmin(h.test)) if np.isfinite(h.test).any() else math.nan
    t = np.arange(len(inc))
    e = np.where(inc >= 0, h.test[np.maximum(inc, 0)], np.nan)
    b = bound.estimates[: len(inc)]
    ok = np.isfinite(b) & np.isfinite(e)
    return pd.DataFrame(
        {
            "run": run,
            "source": bound.source,
            "t": t[ok],
            "bound": b[ok],
            "regret": e[ok] - best,
        }
    )


def collect_calibration(run_dirs: Sequence[str | Path], *, source: str = "auto") -> pd.DataFrame:
    """:func:`calibration_points` of every run with a stored bound (runs without are skipped).

    Args:
        run_dirs: run directories.
        source: which bound (see :func:`autoterm.plotting.trace.bound_trace`).

    Returns:
        The points of all runs (columns :data:`POINT_COLUMNS`; empty if no run has a bound).
    """
    frames = []
    for d in run_dirs:
        h = load_history(d)
        b = bound_trace(h, d, source=source)
        if b is None:
            log.info("%s: no stored regret bound, left out of the calibration", d)
            continue
        frames.append(calibration_points(h, b, run=str(d)))
    if not frames:
        return pd.DataFrame(columns=list(POINT_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def coverage(points: pd.DataFrame) -> float:
    """Fraction of checks where the bound is at least the true regret (NaN if none)."""
    if points.empty:
        return math.nan
    return float(np.mean(points["bound"].to_numpy() >= points["regret"].to_numpy()))


def plot_calibration(points: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """The bound (y, log) against the true regret (x, symlog: zero regret is common).

    Args:
        points: :func:`calibration_points` / :func:`collect_calibration`.
        ax: the axes (default: a new single-column figure).

    Returns:
        The axes: one scatter collection per bound source, the diagonal ``bound = regret`` and
        the coverage text.
    """
    with style_context():
        if ax is None:
            _, ax = plt.subplots(figsize=(PANEL_WIDTH, PANEL_HEIGHT), layout="constrained")
        pos = points["regret"][points["regret"] > 0]
        lin = 10.0 ** math.floor(math.log10(float(pos.quantile(0.02)))) if len(pos) else 1e-3
        for src, g in points.groupby("source", sort=False):
            st = rule_style("regret_bound_authors" if src == "authors" else "regret_bound")
            ax.scatter(
                g["regret"],
                g["bound"].where(g["bound"] > 0),
                s=3,
                color=st.color,
                alpha=0.25,
                linewidths=0,
                label=f"{st.label}, {g['run'].nunique()} runs",
                rasterized=len(g) > 2000,
            )
        hi = float(np.nanmax(points[["regret", "bound"]].to_numpy())) if len(points) else 1.0
        diag = np.geomspace(lin, max(hi, lin * 10), 50)
        ax.plot(diag, diag, color="0.3", lw=0.8, ls="--", label="bound = true regret")
        ax.set_xscale("symlog", linthresh=lin, linscale=0.5)
        ax.set_yscale("log")
        ax.set_xlim(left=-0.1 * lin)
        ax.set_xlabel("true regret (incumbent test error − best)")
        ax.set_ylabel("regret bound")
        frac = coverage(points)
        text = "no checks" if math.isnan(frac) else f"bound ≥ true regret\nat {frac:.0%} of "
        if not math.isnan(frac):
            text += f"{len(points):,} checks"
        ax.text(
            0.97,
            0.04,
            text,
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=SMALL_SIZE,
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.7", "lw": 0.5},
        )
        leg = ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            fontsize=TINY_SIZE,
            markerscale=2.5,
            borderaxespad=0.2,
        )
        for handle in leg.legend_handles:
            if handle is not None:
                handle.set_alpha(1.0)
        finish_axes(ax)
    return ax


def plot_coverage(points: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Per iteration: the fraction of runs whose bound is at least their true regret.

    Args:
        points: :func:`calibration_points` / :func:`collect_calibration`.
        ax: the axes (default: a new single-column figure).

    Returns:
        The axes: one line per bound source.
    """
    with style_context():
        if ax is None:
            _, ax = plt.subplots(figsize=(PANEL_WIDTH, PANEL_HEIGHT), layout="constrained")
        for src, g in points.groupby("source", sort=False):
            st = rule_style("regret_bound_authors" if src == "authors" else "regret_bound")
            frac = (g["bound"] >= g["regret"]).groupby(g["t"]).mean()
            ax.plot(frac.index, frac.to_numpy(), color=st.color, lw=1.0, label=st.label)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("iteration")
        ax.set_ylabel("fraction of runs\nwith bound ≥ regret")
        finish_axes(ax)
    return ax


def calibration_figure(points: pd.DataFrame) -> Figure:
    """Bound against true regret (top) and the per-iteration coverage (bottom), one column.

    Args:
        points: :func:`collect_calibration`.

    Returns:
        The figure.
    """
    with style_context():
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(PANEL_WIDTH, PANEL_HEIGHT * 1.75),
            height_ratios=(1.4, 1.0),
            layout="constrained",
        )
        plot_calibration(points, ax=top)
        plot_coverage(points, ax=bottom)
    return fig
