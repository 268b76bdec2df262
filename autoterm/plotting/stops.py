"""Where each rule stops: the distribution of stop iterations over runs, per rule × knob.

A box (quartiles, whiskers at 1.5 IQR) and the individual runs as jittered points, one row per
rule × knob in the replay's order, coloured by rule. Runs where a rule never fired sit at the
horizon ``T`` (``DESIGN.md`` §5: then ``s = T`` and RTC = 0), marked by a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from autoterm.plotting.style import (
    PANEL_WIDTH,
    TINY_SIZE,
    finish_axes,
    knob_label,
    rule_style,
    style_context,
)

ROW_HEIGHT = 0.14  # inches per rule × knob
_HORIZONTAL = (
    {"orientation": "horizontal"}
    if tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    else {"vert": False}
)


def stop_groups(rows: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """Rows grouped by rule × knob (× paper method, bound source) in order of appearance.

    Args:
        rows: replay rows (``rule``, ``knob``, ``stop_iter``, optional ``paper_method`` and
            ``bound_source``).

    Returns:
        ``(label, rule, group)`` per rule × knob, ``rule`` being the rule's palette key.
    """
    from autoterm.plotting.style import rule_key

    df = rows.copy()
    for c in ("paper_method", "bound_source"):
        df[c] = df[c].astype(object).where(df[c].notna(), "") if c in df else ""
    keys = ["rule", "bound_source", "paper_method", "knob"]
    out = []
    for (rule, bound, pm, knob), g in df.groupby(keys, sort=False):
        out.append(
            (knob_label(str(rule), float(knob), str(pm), str(bound)), rule_key(rule, bound), g)
        )
    return out


def plot_stop_distribution(
    rows: pd.DataFrame,
    *,
    model: str | None = None,
    ax: Axes | None = None,
    seed: int = 0,
    labels: bool = True,
) -> Axes:
    """Horizontal box plot (plus the runs as points) of stop iterations per rule × knob.

    Args:
        rows: replay rows (:func:`autoterm.report.load_replay`).
        model: keep only this model's runs (default: all rows).
        ax: the axes (default: a new single-column figure sized to the number of rows).
        seed: seed of the vertical jitter of the points.
        labels: write the rule × knob labels on the y axis.

    Returns:
        The axes: one box per rule × knob (``ax.patches``), the first at the top.
    """
    groups = stop_groups(rows)  # all models: panels of one figure share the rows
    if model is not None:
        groups = [(lab, key, g[g["model"] == model]) for lab, key, g in groups]
        rows = rows[rows["model"] == model]
    n = len(groups)
    rng = np.random.default_rng(seed)
    with style_context():
        if ax is None:
            _, ax = plt.subplots(
                figsize=(PANEL_WIDTH, 0.6 + ROW_HEIGHT * max(n, 3)), layout="constrained"
            )
        pos = np.arange(n, 0, -1, dtype=float)  # first group at the top
        data = [g["stop_iter"].to_numpy(dtype=float) for _, _, g in groups]
        have = [i for i, d in enumerate(data) if d.size]
        bp = ax.boxplot(
            [data[i] for i in have],
            positions=pos[have],
            **_HORIZONTAL,
            widths=0.6,
            patch_artist=True,
            showfliers=False,
            whis=1.5,
            medianprops={"color": "black", "lw": 0.9},
            whiskerprops={"lw": 0.6},
            capprops={"lw": 0.6},
            boxprops={"lw": 0.6},
        )
        for box, i in zip(bp["boxes"], have, strict=True):
            st = rule_style(groups[i][1])
            box.set_facecolor(st.color)
            box.set_alpha(0.35)
            box.set_edgecolor(st.color)
        for p, d, (_, key, _) in zip(pos, data, groups, strict=True):
            st = rule_style(key)
            ax.scatter(
                d,
                p + rng.uniform(-0.22, 0.22, size=len(d)),
                s=3,
                color=st.color,
                alpha=0.6,
                linewidths=0,
                zorder=3,
            )
        horizon = rows["total_iter"].max() if "total_iter" in rows else None
        if horizon is not None and np.isfinite(horizon):
            ax.axvline(float(horizon), color="0.5", ls="--", lw=0.6, zorder=0)
        ax.set_yticks(pos)
        ax.set_yticklabels([lab for lab, _, _ in groups] if labels else [""] * n)
        ax.tick_params(axis="y", labelsize=TINY_SIZE, length=2)
        for tick, (_, key, _) in zip(ax.get_yticklabels(), groups, strict=True):
            tick.set_color(rule_style(key).color)
        ax.set_ylim(0.4, n + 0.6)
        ax.set_xlabel("stop iteration")
        if model is not None:
            ax.set_title(model.replace("_", " "))
        finish_axes(ax)
        ax.tick_params(axis="y", labelsize=TINY_SIZE)
    return ax


def stops_figure(rows: pd.DataFrame, *, models: Sequence[str] | None = None) -> Figure:
    """Stop-iteration distributions, one panel per model sharing the rule × knob rows.

    Args:
        rows: replay rows.
        models: the models, in panel order (default: all, in table order).

    Returns:
        The figure (``PANEL_WIDTH`` inches wide per panel).
    """
    models = list(models or dict.fromkeys(rows["model"]))
    n = len(stop_groups(rows))
    with style_context():
        fig, axes = plt.subplots(
            1,
            len(models),
            figsize=(PANEL_WIDTH * len(models), 0.7 + ROW_HEIGHT * max(n, 3)),
            squeeze=False,
            sharey=False,
            layout="constrained",
        )
        for i, (ax, m) in enumerate(zip(axes[0], models, strict=True)):
            plot_stop_distribution(rows, model=m, ax=ax, labels=i == 0)
    return fig
