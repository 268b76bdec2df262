"""Per-run traces: the regret bound against its threshold, the incumbent's errors, the stops.

Makarova et al. (2022, Fig. 1): the paper's rule stops when the GP regret bound (``min UCB`` over
evaluated points ``− min LCB`` over the space) falls below ``c`` times the statistical error of
the incumbent's cross-validation estimate. The top panel shows the bound and the thresholds
(log y), the bottom panel the incumbent's validation and test error; vertical lines mark where
each replayed rule stops (``DESIGN.md`` §5: the stop iteration ``s``).

The bound is never recomputed here (a GP fit per check is slow): it is read from what a run or
a replay stored, in this order: the signal ``regret_bound`` (logged by ``autoterm run``), the
replay cache ``replay_cache.json`` next to the run (written by ``autoterm replay``), the
authors' logged bound ``authors_regret_bound`` (imported paper runs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    format_knob,
    is_paper_rule,
    rule_key,
    rule_style,
    style_context,
)
from autoterm.stopping import WARMUP, History

log = logging.getLogger(__name__)

SOURCES = ("auto", "autoterm", "authors")
_THRESHOLD_DASHES = ((5, 2), (2.5, 1.5), (1, 1.2), (5, 1.5, 1, 1.5))
_THRESHOLD_GREYS = ("0.6", "0.35", "0.0", "0.5")


@dataclass
class BoundTrace:
    """The paper's bound and thresholds of one run, per check.

    Attributes:
        estimates: the bound at every check ``t = 0 .. N``, shape ``(N + 1,)`` (NaN where none).
        thresholds: ``c · eps_t`` per knob ``c``, each of shape ``(N + 1,)``.
        source: ``"autoterm"`` (autoterm's GP bound) or ``"authors"`` (their logged bound).
        warmup: the first check.
    """

    estimates: np.ndarray
    thresholds: dict[float, np.ndarray] = field(default_factory=dict)
    source: str = "autoterm"
    warmup: int = WARMUP

    @property
    def rule(self) -> str:
        """The palette key of the bound's rule."""
        return "regret_bound_authors" if self.source == "authors" else "regret_bound"


def bound_trace(
    h: History,
    run_dir: str | Path | None = None,
    *,
    knobs: Sequence[float] | None = None,
    source: str = "auto",
) -> BoundTrace | None:
    """The stored regret bound of a run and its thresholds, or ``None`` if none is stored.

    Args:
        h: the run (:func:`autoterm.stopping.load_history`).
        run_dir: its directory (for the replay cache).
        knobs: the ``c`` values of the thresholds (default: the rule's default knobs).
        source: ``"auto"`` (autoterm's bound if stored, else the authors'), ``"autoterm"`` or
            ``"authors"``.

    Returns:
        The trace; thresholds use the authors' frozen ``eps`` for their bound, and the rule's
        own parameters (from the replay cache) for autoterm's.
    """
    from autoterm.stopping.regret_bound import (
        AUTHORS_BOUND,
        CACHE_SIGNAL,
        AuthorsRegretBound,
        RegretBound,
    )

    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)} (got {source!r})")
    n = len(h)
    rule = None
    est = None
    if source in ("auto", "autoterm"):
        s = _signal(h, CACHE_SIGNAL)
        if np.isfinite(s).any():
            rule, est, src = RegretBound(), s, "autoterm"
        elif run_dir is not None:
            params, cached = _from_replay_cache(Path(run_dir), n)
            if cached is not None:
                rule, est, src = RegretBound(**params), cached, "autoterm"
    if est is None and source in ("auto", "authors"):
        s = _signal(h, AUTHORS_BOUND)
        if np.isfinite(s).any():
            rule, est, src = AuthorsRegretBound(frozen_threshold=True), s, "authors"
    if rule is None or est is None:
        return None
    est = est.copy()
    est[: min(rule.warmup, len(est))] = np.nan
    thr = {float(c): rule.thresholds(h, float(c)) for c in (knobs or rule.default_knobs)}
    return BoundTrace(est, thr, src, rule.warmup)


def _signal(h: History, name: str) -> np.ndarray:
    out = np.full(len(h) + 1, np.nan)
    s = h.signals.get(name)
    if s is not None:
        m = min(len(s), len(out))
        out[:m] = s[:m]
    return out


def _from_replay_cache(run_dir: Path, n: int) -> tuple[dict, np.ndarray | None]:
    """The first ``regret_bound`` entry of ``replay_cache.json`` for ``n`` records."""
    from autoterm.replay import CACHE

    path = run_dir / CACHE
    if not path.exists():
        return {}, None
    try:
        cache = json.loads(path.read_text())
    except ValueError:
        log.warning("%s: unreadable replay cache", path)
        return {}, None
    for entry in cache.values():
        if entry.get("rule") == "regret_bound" and entry.get("n") == n:
            est = np.array([np.nan if v is None else v for v in entry["estimates"]], dtype=float)
            return dict(entry.get("params") or {}), est
    return {}, None


def incumbent_errors(h: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The incumbent's validation and test error after ``t = 1 .. N`` evaluations.

    Returns:
        ``t`` of shape ``(N,)`` and the validation and test error, each of shape ``(N,)`` (NaN
        while no evaluation succeeded).
    """
    inc = h.incumbents()[1:]
    ok = inc >= 0
    val = np.where(ok, h.val[np.maximum(inc, 0)], np.nan)
    test = np.where(ok, h.test[np.maximum(inc, 0)], np.nan)
    return np.arange(1, len(h) + 1), val, test


def draw_stops(ax: Axes, stops: pd.DataFrame | None, *, label: bool = True) -> list[str]:
    """Vertical lines at the stop iterations of the rules that fired, coloured by rule.

    Args:
        ax: the axes.
        stops: replay rows of one run (``rule``, ``stop_iter``, ``fired``, optional
            ``bound_source``).
        label: label the first line of each rule (for a legend).

    Returns:
        The palette keys drawn, in order.
    """
    if stops is None or stops.empty:
        return []
    fired = stops[stops["fired"].astype(bool)]
    bound = fired["bound_source"] if "bound_source" in fired else pd.Series("", index=fired.index)
    drawn: list[str] = []
    done: set[tuple[str, int]] = set()
    for r, b, s in zip(fired["rule"], bound.fillna(""), fired["stop_iter"], strict=True):
        key = rule_key(str(r), str(b))
        if (key, int(s)) in done:
            continue
        done.add((key, int(s)))
        st = rule_style(key)
        ax.axvline(
            int(s),
            color=st.color,
            ls=st.linestyle,
            lw=st.linewidth,
            alpha=0.9,
            zorder=st.zorder - 2,
            label=st.label if label and key not in drawn else "_nolegend_",
        )
        if key not in drawn:
            drawn.append(key)
    return drawn


def plot_bound_trace(
    h: History,
    bound: BoundTrace | None,
    stops: pd.DataFrame | None = None,
    *,
    ax: Axes | None = None,
    legend: bool = True,
) -> Axes:
    """The regret bound and its thresholds ``c · eps_t`` against the iteration (log y).

    Args:
        h: the run.
        bound: :func:`bound_trace` (``None``: only the stops and a note are drawn).
        stops: replay rows of this run (vertical lines where each rule stops).
        ax: the axes (default: a new single-column figure).
        legend: draw a legend of the bound and thresholds.

    Returns:
        The axes (y on a log scale).
    """
    with style_context():
        if ax is None:
            _, ax = plt.subplots(figsize=(PANEL_WIDTH, PANEL_HEIGHT), layout="constrained")
        draw_stops(ax, stops)
        handles = []
        if bound is None:
            ax.text(
                0.5,
                0.5,
                "no stored regret bound",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=SMALL_SIZE,
                color="0.4",
            )
        else:
            t = np.arange(len(bound.estimates))
            st = rule_style(bound.rule)
            ok = np.isfinite(bound.estimates) & (bound.estimates > 0)
            handles += ax.plot(
                t[ok],
                bound.estimates[ok],
                color=st.color,
                lw=1.1,
                label="regret bound",
                gid="bound",
            )
            for i, (c, thr) in enumerate(bound.thresholds.items()):
                m = np.isfinite(thr) & (thr > 0) & (t >= bound.warmup)
                handles += ax.plot(
                    t[m],
                    thr[m],
                    color=_THRESHOLD_GREYS[i % len(_THRESHOLD_GREYS)],
                    lw=0.9,
                    dashes=_THRESHOLD_DASHES[i % len(_THRESHOLD_DASHES)],
                    label=f"threshold {format_knob(c)}·ε",
                    gid="threshold",
                )
        ax.set_yscale("log")
        ax.set_xlim(0, len(h) + 1)
        ax.set_ylabel("regret bound")
        ax.set_xlabel("iteration")
        if legend and handles:
            ax.legend(
                handles,
                [ln.get_label() for ln in handles],
                loc="upper right",
                fontsize=TINY_SIZE,
                ncol=2,
                handlelength=2.0,
                columnspacing=0.8,
            )
        finish_axes(ax)
    return ax


def plot_error_trace(
    h: History,
    stops: pd.DataFrame | None = None,
    *,
    ax: Axes | None = None,
    legend: bool = True,
) -> Axes:
    """The incumbent's validation and test error after each evaluation, with the stops.

    Args:
        h: the run.
        stops: replay rows of this run (vertical lines where each rule stops).
        ax: the axes (default: a new single-column figure).
        legend: draw a legend of the two errors.

    Returns:
        The axes.
    """
    t, val, test = incumbent_errors(h)
    metric = str(h.meta.get("metric") or "error")
    with style_context():
        if ax is None:
            _, ax = plt.subplots(figsize=(PANEL_WIDTH, PANEL_HEIGHT), layout="constrained")
        draw_stops(ax, stops)
        lv = ax.step(t, val, where="post", color="0.15", lw=1.0, label="validation (CV)")[0]
        lt = ax.step(t, test, where="post", color="#1B9E77", lw=1.0, ls="--", label="test")[0]
        ax.set_xlim(0, len(h) + 1)
        _focus_ylim(ax, val, test, start=min(WARMUP, len(h)) // 2)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"incumbent {metric}")
        if legend:
            ax.legend([lv, lt], [lv.get_label(), lt.get_label()], loc="best")
        finish_axes(ax)
    return ax


def _focus_ylim(ax: Axes, val: np.ndarray, test: np.ndarray, start: int) -> None:
    """Y range of the incumbents from ``start`` on: the first random draws can be far worse."""
    both = np.concatenate([val[start:], test[start:]])
    both = both[np.isfinite(both)]
    if both.size:
        lo, hi = float(both.min()), float(both.max())
        pad = 0.08 * (hi - lo) if hi > lo else 0.05 * abs(hi) or 0.01
        ax.set_ylim(lo - pad, hi + pad)


def trace_figure(
    h: History,
    stops: pd.DataFrame | None = None,
    bound: BoundTrace | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Bound and thresholds (top, log y) over the incumbent's errors (bottom), stops in both.

    Args:
        h: the run.
        stops: replay rows of this run.
        bound: :func:`bound_trace` of the run (``None``: a note instead of the curves).
        title: the figure title (default: model, dataset and seed from ``run.json``).

    Returns:
        The figure, single-column wide, with a legend of the rules that stopped underneath.
    """
    with style_context():
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(PANEL_WIDTH, 2 * PANEL_HEIGHT * 0.8 + 0.6),
            sharex=True,
            layout="constrained",
        )
        plot_bound_trace(h, bound, stops, ax=top, legend=False)
        plot_error_trace(h, stops, ax=bottom)
        top.set_xlabel("")
        meta = h.meta
        if title is None:
            title = " · ".join(
                str(v)
                for v in (
                    str(meta.get("model", "")).replace("_", " "),
                    meta.get("dataset_slug") or meta.get("dataset"),
                    f"seed {meta['seed']}" if meta.get("seed") is not None else None,
                )
                if v
            )
        top.set_title(title)
        curves = [ln for ln in top.get_lines() if ln.get_gid() in ("bound", "threshold")]
        keys = draw_stops_legend_keys(stops)
        stop_handles = [
            plt.Line2D(
                [],
                [],
                color=rule_style(k).color,
                ls=rule_style(k).linestyle,
                lw=rule_style(k).linewidth,
            )
            for k in keys
        ]
        handles = [*curves, *stop_handles]
        labels = [ln.get_label() for ln in curves] + [f"stop: {rule_style(k).label}" for k in keys]
        if handles:
            fig.legend(
                handles,
                labels,
                loc="outside lower center",
                ncol=2,
                fontsize=TINY_SIZE,
                handlelength=2.0,
                columnspacing=0.9,
            )
    return fig


def draw_stops_legend_keys(stops: pd.DataFrame | None) -> list[str]:
    """The palette keys of the rules that fired in ``stops``, the paper's rule first."""
    if stops is None or stops.empty:
        return []
    fired = stops[stops["fired"].astype(bool)]
    bound = fired["bound_source"] if "bound_source" in fired else pd.Series("", index=fired.index)
    keys = list(
        dict.fromkeys(
            rule_key(str(r), str(b)) for r, b in zip(fired["rule"], bound.fillna(""), strict=True)
        )
    )
    return sorted(keys, key=lambda k: not is_paper_rule(k))


def pick_runs(rows: pd.DataFrame, n: int) -> list[str]:
    """Up to ``n`` runs of ``rows`` worth a trace, spread over models and datasets.

    Models take turns, and within a model its datasets; runs where the paper's rule fired come
    first (their trace shows the bound crossing its threshold), and so do datasets with such a
    run.

    Args:
        rows: replay rows (``run``, ``model``, ``dataset``, ``rule``, ``fired``, optional
            ``bound_source``).
        n: how many runs.

    Returns:
        Values of the ``run`` column.
    """
    if n <= 0 or rows.empty:
        return []
    bound = rows["bound_source"] if "bound_source" in rows else pd.Series("", index=rows.index)
    paper = pd.Series(
        [
            is_paper_rule(str(r), str(b))
            for r, b in zip(rows["rule"], bound.fillna(""), strict=True)
        ],
        index=rows.index,
    )
    hit = set(rows.loc[rows["fired"].astype(bool) & paper, "run"])
    per_model = []
    for _, gm in rows.groupby("model", sort=False):
        queues = []
        for _, gd in gm.groupby("dataset", sort=False):
            runs = list(dict.fromkeys(gd["run"]))
            queues.append(sorted(runs, key=lambda r: r not in hit))
        queues.sort(key=lambda q: q[0] not in hit)  # datasets where it fired first
        per_model.append(_interleave(queues))
    return _interleave(per_model)[:n]


def _interleave(queues: list[list[str]]) -> list[str]:
    """Take one from each queue in turn until all are empty."""
    out: list[str] = []
    queues = [list(q) for q in queues]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def rows_for_runs(rows: pd.DataFrame, run_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """The replay rows of the given run directories, their ``run`` set to the resolved path.

    A row belongs to a run if its ``run`` is the same path, or else (a table written elsewhere
    or the runs moved) if its model, dataset and seed are those of the run's ``run.json``.

    Args:
        rows: replay rows.
        run_dirs: run directories.

    Returns:
        The matching rows (a copy).
    """
    from autoterm.trajectory import read_run_meta

    resolved = rows["run"].map(lambda r: str(Path(r).resolve()))
    key = list(zip(rows["model"], rows["dataset"], rows["seed"].astype(int), strict=True))
    frames = []
    for d in run_dirs:
        d = str(Path(d).resolve())
        mask = resolved == d
        if not mask.any():
            meta = read_run_meta(Path(d)) or {}
            want = (
                meta.get("model"),
                meta.get("dataset_slug") or meta.get("dataset"),
                meta.get("seed"),
            )
            mask = pd.Series([k == want for k in key], index=rows.index)
        frames.append(rows[mask].assign(run=d))
    return pd.concat(frames) if frames else rows.iloc[:0]
