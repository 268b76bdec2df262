"""One palette for every figure: the same colour and marker per stopping rule everywhere.

The paper's rule (Makarova et al., 2022: the GP regret bound against the statistical error of
cross-validation) is drawn in strong red with a star, autoterm's bound filled and the authors'
logged bound (``regret_bound_authors``, or ``regret_bound`` rows with ``bound_source=authors``
from the paper grid) in dark red with an open star; the baselines use the Okabe–Ito
colour-blind-safe palette. Figures are sized for a single column (:data:`PANEL_WIDTH` inches per
panel) and styled through :func:`style_context`, a local ``plt.rc_context``: global rcParams are
never changed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

#: Width of one panel (inches): a single column of a two-column paper.
PANEL_WIDTH = 3.3
#: Height of one panel (inches).
PANEL_HEIGHT = 2.4
#: Font sizes (points).
FONT_SIZE = 8.0
SMALL_SIZE = 7.0
TINY_SIZE = 6.0
#: The rules of the paper (drawn distinctly).
PAPER_RULES = ("regret_bound", "regret_bound_authors")

#: Local rc settings of every figure (used only inside :func:`style_context`).
RC: dict[str, Any] = {
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "legend.fontsize": SMALL_SIZE,
    "xtick.labelsize": SMALL_SIZE,
    "ytick.labelsize": SMALL_SIZE,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "lines.linewidth": 1.0,
    "lines.markersize": 4.0,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}


@dataclass(frozen=True)
class RuleStyle:
    """How a rule is drawn.

    Attributes:
        label: the legend label.
        color: line and marker colour.
        marker: matplotlib marker.
        size: marker size (points).
        filled: filled or open marker.
        zorder: drawing order (the paper's rule on top).
        linestyle: style of stop lines.
        linewidth: width of stop lines.
    """

    label: str
    color: str
    marker: str
    size: float = 4.5
    filled: bool = True
    zorder: float = 3.0
    linestyle: str = ":"
    linewidth: float = 0.9

    @property
    def facecolor(self) -> str:
        """The marker face colour (white for open markers)."""
        return self.color if self.filled else "white"

    def marker_kw(self) -> dict[str, Any]:
        """Keyword arguments for ``plot``/``errorbar`` markers."""
        return {
            "marker": self.marker,
            "markersize": self.size,
            "markerfacecolor": self.facecolor,
            "markeredgecolor": self.color,
            "markeredgewidth": 0.8,
            "color": self.color,
        }


_STAR = {"marker": "*", "size": 8.5, "zorder": 5.0, "linestyle": "--", "linewidth": 1.3}
#: The palette: one style per rule key (see :func:`rule_key`).
RULE_STYLES: dict[str, RuleStyle] = {
    "regret_bound": RuleStyle("Regret bound (paper)", "#D7191C", **_STAR),
    "regret_bound_authors": RuleStyle(
        "Regret bound (authors' log)", "#7B0A0A", filled=False, **_STAR
    ),
    "conv": RuleStyle("Conv", "#0072B2", "o"),
    "ei": RuleStyle("EI", "#E69F00", "s", size=4.0),
    "pi": RuleStyle("PI", "#56B4E9", "D", size=3.6),
    "iqr": RuleStyle("IQR (Ax)", "#009E73", "^"),
    "plateau": RuleStyle("Plateau (Ray Tune)", "#CC79A7", "v"),
    "emmr": RuleStyle("EMMR", "#8C510A", "h", size=4.2),
    "full_budget": RuleStyle("Full budget", "#7F7F7F", "X", size=4.0),
    "oracle": RuleStyle("Oracle", "#000000", "P", size=4.0),
}
_FALLBACK = ("#8C564B", "#BCBD22", "#17BECF", "#9467BD", "#2CA02C", "#FF7F0E")
_FALLBACK_MARKERS = ("h", "p", "<", ">", "d", "8")

#: Symbol of each rule's knob in labels.
KNOB_SYMBOLS: dict[str, str] = {
    "regret_bound": "c",
    "regret_bound_authors": "c",
    "conv": "k",
    "ei": "τ",
    "pi": "τ",
    "iqr": "α",
    "plateau": "s",
    "emmr": "r",
    "oracle": "tol",
}


def rule_key(rule: str, bound_source: str = "") -> str:
    """The palette key: ``regret_bound`` rows whose bound is the authors' map to theirs."""
    if rule == "regret_bound" and bound_source == "authors":
        return "regret_bound_authors"
    return rule


def rule_style(rule: str, bound_source: str = "") -> RuleStyle:
    """The style of a rule (a stable colour derived from the name for unknown rules)."""
    key = rule_key(rule, bound_source)
    if key in RULE_STYLES:
        return RULE_STYLES[key]
    i = zlib.crc32(key.encode())
    return RuleStyle(key, _FALLBACK[i % len(_FALLBACK)], _FALLBACK_MARKERS[i % 6])


def is_paper_rule(rule: str, bound_source: str = "") -> bool:
    """Whether the rule is the paper's regret bound (either source)."""
    return rule_key(rule, bound_source) in PAPER_RULES


def format_knob(knob: float) -> str:
    """``10``, ``2.38``, ``1e-08``."""
    if not math.isfinite(knob):
        return ""
    if knob == int(knob) and abs(knob) < 1e6:
        return str(int(knob))
    return f"{knob:.3g}"


def knob_label(rule: str, knob: float, paper_method: str = "", bound_source: str = "") -> str:
    """A short label of one rule × knob: the authors' name if set, else ``Conv k=10``."""
    if paper_method:
        if rule == "regret_bound" and bound_source:
            return f"{paper_method} ({'their bound' if bound_source == 'authors' else 'our GP'})"
        return paper_method
    key = rule_key(rule, bound_source)
    name = rule_style(rule, bound_source).label.split(" (")[0]
    if key == "full_budget":
        return name
    sym = KNOB_SYMBOLS.get(key, "knob")
    return f"{name} {sym}={format_knob(knob)}"


@contextmanager
def style_context() -> Iterator[None]:
    """The figures' rc settings, locally (``plt.rc_context``); global rcParams are untouched."""
    with plt.rc_context(RC):
        yield


def finish_axes(ax: Axes) -> Axes:
    """Fix tick label sizes on the axes (ticks made later, outside the style, keep them)."""
    ax.tick_params(labelsize=SMALL_SIZE, width=0.6)
    ax.tick_params(which="minor", width=0.4)
    return ax
