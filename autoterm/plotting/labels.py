"""Point labels that do not overlap each other or the labelled markers.

The paper rule's knob values (``c=1``, ``0.21`` …) sit next to markers that often crowd near
``(0, 0)`` (XGBoost rarely stops early). Each label takes the first free slot of a fixed list of
offsets around its point (above, below, right, left, the diagonals, then twice and three times as
far with a thin leader line); a slot is free when the label's estimated box overlaps no earlier
label and no marker and stays inside the axes. Greedy and deterministic (points in the given
order), measured in display points, so it needs the axes' final limits and layout: call it after
everything else is drawn (the figure functions call ``Figure.draw_without_rendering`` first).
The text box is estimated from the font size (0.6 em per character), not measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.text import Annotation

_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))
_GAP = 3.0  # points between a marker's edge and its label


@dataclass(frozen=True)
class PointLabel:
    """One label: the data point, its text and colour."""

    x: float
    y: float
    text: str
    color: str


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(
    ax: Axes,
    labels: Sequence[PointLabel],
    *,
    fontsize: float,
    marker_size: float = 6.0,
    obstacles: Sequence[tuple[float, float]] = (),
) -> list[Annotation]:
    """Annotate the points without overlaps (see the module notes).

    Args:
        ax: axes with final limits.
        labels: the points to label, in priority order.
        fontsize: label font size (points).
        marker_size: width of the markers to keep clear (points).
        obstacles: further data points whose markers labels must not cover, each ``(x, y)``.

    Returns:
        The annotations drawn (a label with no free slot is drawn at its least crowded slot).
    """
    fig = ax.figure
    to_pt = 72.0 / fig.dpi
    pts = [(lab.x, lab.y) for lab in labels if np.isfinite(lab.x) and np.isfinite(lab.y)]
    pts += [p for p in obstacles if np.isfinite(p[0]) and np.isfinite(p[1])]
    half = marker_size / 2
    boxes: list[tuple[float, float, float, float]] = []
    for px, py in ax.transData.transform(np.asarray(pts, dtype=float).reshape(-1, 2)) * to_pt:
        boxes.append((px - half, py - half, px + half, py + half))
    bb = ax.get_window_extent()
    frame = (bb.x0 * to_pt, bb.y0 * to_pt, bb.x1 * to_pt, bb.y1 * to_pt)
    out: list[Annotation] = []
    for lab in labels:
        if not (np.isfinite(lab.x) and np.isfinite(lab.y)):
            continue
        px, py = ax.transData.transform((lab.x, lab.y)) * to_pt
        w, h = 0.6 * fontsize * len(lab.text) + 1.0, 1.15 * fontsize
        best, best_hits = None, None
        for ring in (1, 2, 3):
            for dx, dy in _DIRECTIONS:
                ox = dx * (half + _GAP + w / 2) * ring
                oy = dy * (half + _GAP + h / 2) * ring
                box = (px + ox - w / 2, py + oy - h / 2, px + ox + w / 2, py + oy + h / 2)
                inside = (
                    box[0] >= frame[0]
                    and box[2] <= frame[2]
                    and box[1] >= frame[1]
                    and box[3] <= frame[3]
                )
                hits = sum(_overlap(box, o) for o in boxes) + (0 if inside else 100)
                if best_hits is None or hits < best_hits:
                    best, best_hits = (ox, oy, ring, box), hits
                if hits == 0:
                    break
            if best_hits == 0:
                break
        assert best is not None
        ox, oy, ring, box = best
        boxes.append(box)
        ann = ax.annotate(
            lab.text,
            (lab.x, lab.y),
            xytext=(ox, oy),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=fontsize,
            color=lab.color,
            zorder=6,
            arrowprops=(
                {"arrowstyle": "-", "color": lab.color, "lw": 0.4, "shrinkA": 0, "shrinkB": 2}
                if ring > 1
                else None
            ),
        )
        ann.set_in_layout(False)
        out.append(ann)
    return out
