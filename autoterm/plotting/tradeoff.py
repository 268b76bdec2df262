"""The paper's main figure: relative time change (RTC) against relative test-error change (RYC).

Makarova et al. (2022, Fig. 3; ``DESIGN.md`` §5): one marker per rule × knob at the mean over
seeds and datasets, with ±1 std bars in both directions, one panel per model. Up and right is
better: a rule that stops early (large RTC) without losing test accuracy (RYC near 0) sits at the
top right; full budget is (0, 0). Markers of one rule are joined in knob order (its trade-off
curve).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from autoterm.plotting.labels import PointLabel, place_labels
from autoterm.plotting.style import (
    PANEL_HEIGHT,
    PANEL_WIDTH,
    TINY_SIZE,
    finish_axes,
    format_knob,
    is_paper_rule,
    rule_key,
    rule_style,
    style_context,
)

X_LABELS = {"rtc_iter": "RTC (iterations)", "rtc_time": "RTC (time)"}


def as_summary(data: pd.DataFrame) -> pd.DataFrame:
    """The summary table (:func:`autoterm.report.summarize`) of replay rows, or ``data`` itself.

    Args:
        data: a summary (with ``rtc_iter_mean`` …) or raw replay rows.
    """
    if "rtc_iter_mean" in data.columns:
        return data
    from autoterm.report import prepare, summarize

    return summarize(prepare(data))


def plot_tradeoff(
    summary: pd.DataFrame,
    *,
    model: str | None = None,
    x: str = "rtc_iter",
    ax: Axes | None = None,
    legend: bool = True,
    annotate_paper: bool = True,
) -> Axes:
    """RTC against RYC of every rule × knob of one model, with ±1 std error bars.

    Args:
        summary: :attr:`autoterm.report.Report.summary` (or replay rows, summarised here):
            one row per rule × knob with ``<m>_mean`` and ``<m>_std``.
        model: the model to draw (default: the only one; required if there are several).
        x: ``"rtc_iter"`` or ``"rtc_time"``.
        ax: the axes (default: a new single-column figure).
        legend: draw a legend on the axes (one entry per rule).
        annotate_paper: write the knob next to the paper rule's markers.

    Returns:
        The axes: one ``ErrorbarContainer`` per rule × knob, one joining line per rule.

    Raises:
        ValueError: unknown ``x``, or several models and no ``model``.
    """
    if x not in X_LABELS:
        raise ValueError(f"x must be one of {', '.join(X_LABELS)} (got {x!r})")
    s = as_summary(summary)
    models = list(dict.fromkeys(s["model"]))
    if model is None:
        if len(models) > 1:
            raise ValueError(f"several models ({', '.join(models)}): pass model=")
        model = models[0] if models else ""
    s = s[s["model"] == model]
    with style_context():
        if ax is None:
            _, ax = plt.subplots(figsize=(PANEL_WIDTH, PANEL_HEIGHT), layout="constrained")
        ax.axhline(0.0, color="0.6", lw=0.6, ls="--", zorder=0)
        bound = s["bound_source"] if "bound_source" in s else pd.Series("", index=s.index)
        pm = s["paper_method"] if "paper_method" in s else pd.Series("", index=s.index)
        keys = [rule_key(r, b) for r, b in zip(s["rule"], bound, strict=True)]
        groups: dict[tuple[str, bool], list[int]] = {}
        for i, (k, p) in enumerate(zip(keys, pm, strict=True)):
            groups.setdefault((k, bool(p)), []).append(i)
        seen: set[str] = set()
        for (key, _), idx in groups.items():
            rows = s.iloc[idx]
            st = rule_style(key)
            xm, ym = rows[f"{x}_mean"].to_numpy(), rows["ryc_mean"].to_numpy()
            if len(rows) > 1:
                ax.plot(xm, ym, color=st.color, lw=0.7, alpha=0.55, zorder=st.zorder - 1)
            for (_, r), xi, yi in zip(rows.iterrows(), xm, ym, strict=True):
                cont = ax.errorbar(
                    xi,
                    yi,
                    xerr=_std(r, f"{x}_std"),
                    yerr=_std(r, "ryc_std"),
                    linestyle="none",
                    elinewidth=0.6,
                    capsize=1.5,
                    capthick=0.6,
                    ecolor=st.color,
                    zorder=st.zorder,
                    label=st.label if key not in seen else "_nolegend_",
                    **st.marker_kw(),
                )
                for art in (*cont.lines[1], *cont.lines[2]):  # bars light, markers solid
                    art.set_alpha(0.45)
                    art.set_zorder(1)
                seen.add(key)
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel("RYC")
        ax.set_title(model.replace("_", " "))
        ax.set_xlim(-0.05, 1.05)
        if legend:
            ax.legend(loc="lower left", fontsize=TINY_SIZE, handletextpad=0.3)
        finish_axes(ax)
        if annotate_paper:
            ax.figure.draw_without_rendering()  # final limits and layout before placing labels
            annotate_paper_knobs(ax, s, model=model, x=x)
    return ax


def annotate_paper_knobs(
    ax: Axes, summary: pd.DataFrame, *, model: str, x: str = "rtc_iter"
) -> None:
    """Write the paper rule's knob next to each of its markers, without overlaps.

    Labels go through :func:`autoterm.plotting.labels.place_labels`; every other rule's marker is
    an obstacle. Call once the axes have their final limits.

    Args:
        ax: a panel drawn by :func:`plot_tradeoff`.
        summary: the summary it was drawn from.
        model: its model.
        x: its x measure.
    """
    s = summary[summary["model"] == model]
    bound = s["bound_source"] if "bound_source" in s else pd.Series("", index=s.index)
    labels, others = [], []
    for (_, r), b in zip(s.iterrows(), bound, strict=True):
        xi, yi = float(r[f"{x}_mean"]), float(r["ryc_mean"])
        if is_paper_rule(r["rule"], b):
            labels.append(PointLabel(xi, yi, _knob_text(r), rule_style(r["rule"], b).color))
        else:
            others.append((xi, yi))
    place_labels(ax, labels, fontsize=TINY_SIZE, obstacles=others)


def _row_major(items: list[str], ncol: int) -> list[str]:
    """Reorder so that a legend (filled column by column) reads row by row."""
    nrow = -(-len(items) // ncol)
    grid = [items[r * ncol : (r + 1) * ncol] for r in range(nrow)]
    return [row[c] for c in range(ncol) for row in grid if c < len(row)]


def _knob_text(row: pd.Series) -> str:
    """``0.21`` for the authors' ``Ours_0.21``, else ``c=2.38``."""
    pm = str(row.get("paper_method", "") or "")
    return pm.rsplit("_", 1)[-1] if pm else f"c={format_knob(float(row['knob']))}"


def _std(row: pd.Series, col: str) -> float:
    v = float(row[col])
    return v if np.isfinite(v) else 0.0


def tradeoff_figure(
    summary: pd.DataFrame, *, x: str = "rtc_iter", models: Sequence[str] | None = None
) -> Figure:
    """The trade-off figure: one panel per model, a shared legend underneath.

    Args:
        summary: :attr:`autoterm.report.Report.summary` (or replay rows).
        x: ``"rtc_iter"`` or ``"rtc_time"``.
        models: the models, in panel order (default: all, in table order).

    Returns:
        The figure (``PANEL_WIDTH`` inches wide per panel).
    """
    s = as_summary(summary)
    models = list(models or dict.fromkeys(s["model"]))
    with style_context():
        fig, axes = plt.subplots(
            1,
            len(models),
            figsize=(PANEL_WIDTH * len(models), PANEL_HEIGHT + 0.45),
            sharey=True,
            squeeze=False,
            layout="constrained",
        )
        for ax, m in zip(axes[0], models, strict=True):
            plot_tradeoff(s, model=m, x=x, ax=ax, legend=False, annotate_paper=False)
        for ax in axes[0][1:]:
            ax.set_ylabel("")
        handles: dict[str, object] = {}
        for ax in axes[0]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
        labels = sorted(handles, key=lambda lab: not lab.startswith("Regret bound"))
        ncol = min(len(labels), 3 if len(models) == 1 else 5)
        fig.legend(
            [handles[lab] for lab in _row_major(labels, ncol)],
            _row_major(labels, ncol),
            loc="outside lower center",
            ncol=ncol,
            handletextpad=0.3,
            columnspacing=1.0,
        )
        fig.draw_without_rendering()  # final shared limits and layout before placing labels
        for ax, m in zip(axes[0], models, strict=True):
            annotate_paper_knobs(ax, s, model=m, x=x)
    return fig
