"""Reference rules: never stop (the denominator of every measure) and the test-set oracle."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from autoterm.stopping.base import StoppingRule, constant
from autoterm.stopping.history import History


class FullBudget(StoppingRule):
    """Never stops: the full-budget run every relative measure compares with."""

    name = "full_budget"
    knob_name = "none"
    default_knobs: ClassVar[tuple[float, ...]] = (0.0,)

    def estimates(self, h: History) -> np.ndarray:
        """``+inf`` everywhere."""
        return constant(h, np.inf)

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """``-inf`` everywhere."""
        return constant(h, -np.inf)


class Oracle(StoppingRule):
    """Knows the test curve: the earliest check whose incumbent test error is within ``tol``.

    Estimate ``(e_t - e_N) / max(e_t, e_N)``, the relative test-error gap between the incumbent
    at ``t`` and the final incumbent (``-RYC`` of stopping at ``t``, ``DESIGN.md`` §5); threshold
    ``tol`` (plus 1e-12, so ``tol = 0`` fires where the gap is exactly 0). Not a usable rule: the
    best any rule could do on this run.
    """

    name = "oracle"
    knob_name = "tol"
    default_knobs: ClassVar[tuple[float, ...]] = (0.0, 0.01, 0.05)

    def estimates(self, h: History) -> np.ndarray:
        """Relative gap to the final incumbent's test error, shape ``(N + 1,)``."""
        inc = h.incumbents()
        e = np.array([h.test[i] if i >= 0 else np.nan for i in inc])
        final = e[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = np.maximum(e, final)
            gap = np.where(denom > 0, (e - final) / denom, 0.0)
        gap[~np.isfinite(e)] = np.nan
        return gap

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """``tol + 1e-12``."""
        return constant(h, float(knob) + 1e-12)
