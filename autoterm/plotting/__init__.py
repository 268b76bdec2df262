"""Figures of replayed stopping rules (Makarova et al., 2022; ``DESIGN.md`` §5), matplotlib.

One module per figure: :mod:`~autoterm.plotting.tradeoff` (RTC against RYC, the paper's main
figure), :mod:`~autoterm.plotting.trace` (a run's bound, thresholds, errors and stops),
:mod:`~autoterm.plotting.stops` (stop-iteration distributions) and
:mod:`~autoterm.plotting.calibration` (the bound against the true regret). Axes-level functions
take data and an optional ``ax`` and return the axes; ``*_figure`` functions build a whole
figure. Every rule has one colour and marker in every figure (:mod:`~autoterm.plotting.style`);
global rcParams are never changed. :func:`save_figure` writes PDF and PNG atomically.
"""

from autoterm.plotting.calibration import (
    calibration_figure,
    calibration_points,
    collect_calibration,
    coverage,
    plot_calibration,
    plot_coverage,
)
from autoterm.plotting.io import save_figure
from autoterm.plotting.stops import plot_stop_distribution, stops_figure
from autoterm.plotting.style import RULE_STYLES, rule_key, rule_style, style_context
from autoterm.plotting.trace import (
    BoundTrace,
    bound_trace,
    plot_bound_trace,
    plot_error_trace,
    trace_figure,
)
from autoterm.plotting.tradeoff import plot_tradeoff, tradeoff_figure

__all__ = [
    "RULE_STYLES",
    "BoundTrace",
    "bound_trace",
    "calibration_figure",
    "calibration_points",
    "collect_calibration",
    "coverage",
    "plot_bound_trace",
    "plot_calibration",
    "plot_coverage",
    "plot_error_trace",
    "plot_stop_distribution",
    "plot_tradeoff",
    "rule_key",
    "rule_style",
    "save_figure",
    "stops_figure",
    "style_context",
    "trace_figure",
    "tradeoff_figure",
]
