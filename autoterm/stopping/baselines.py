"""Baseline stopping rules of Makarova et al. (2022, Sec. 6) and of popular HPO libraries.

All read only the first ``t`` records at the check ``t`` (see :mod:`autoterm.stopping.history`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from autoterm.stopping.base import StoppingRule, constant
from autoterm.stopping.history import History


def best_so_far(h: History) -> np.ndarray:
    """``b[t]`` = best validation score among the first ``t`` records, shape ``(N + 1,)``.

    ``b[0]`` and prefixes with only failures are ``+inf``.
    """
    v = np.where(np.isfinite(h.val), h.val, np.inf)
    return np.concatenate([[np.inf], np.minimum.accumulate(v)]) if len(v) else np.array([np.inf])


def signal(h: History, name: str) -> np.ndarray:
    """A logged per-record signal aligned with the checks, shape ``(N + 1,)`` (NaN if absent)."""
    out = np.full(len(h) + 1, np.nan)
    s = h.signals.get(name)
    if s is not None:
        m = min(len(s), len(out))
        out[:m] = s[:m]
    return out


class Conv(StoppingRule):
    """Conv-k: stop after ``k`` consecutive checks without a strict improvement of the incumbent.

    The counter starts at 0 at the first check (``warmup``), resets when the incumbent's
    validation score strictly improves between consecutive checks, and otherwise grows by one;
    the rule fires when it reaches ``k``. Starting the count at the warm-up (not at the last
    improvement before it) is how the authors' results reproduce exactly
    (``../shared/paper-runs/README.md``); ``count_from="improvement"`` counts from the last
    improvement wherever it happened.

    Estimate ``-counter``, threshold ``0.5 - k`` (so ``estimate < threshold`` iff
    ``counter >= k``). Paper knobs: k in 10, 30, 50, 70, 90.
    """

    name = "conv"
    knob_name = "k"
    default_knobs: ClassVar[tuple[float, ...]] = (10, 30, 50, 70, 90)

    def estimates(self, h: History) -> np.ndarray:
        """``-counter[t]``, shape ``(N + 1,)``."""
        inc = h.incumbents()
        count_from = self.params.get("count_from", "warmup")
        out = np.full(len(inc), np.nan)
        last = 0
        for t in range(1, len(inc)):
            if inc[t] != inc[t - 1]:  # a strict improvement (float ties are not)
                last = t
            start = max(last, self.warmup) if count_from == "warmup" else last
            out[t] = -(t - start) if t >= start else 0.0
        return out

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """``0.5 - k``."""
        return constant(h, 0.5 - float(knob))


class MaxEI(StoppingRule):
    """EI < tau (Nguyen et al., 2017): the maximum expected improvement over the space.

    The estimate is the loop's logged ``ei_max`` of the check (the EI, in the units of the
    objective, of the point BO proposed after ``t`` evaluations). Paper knobs: 1e-8, 1e-12,
    1e-16 (also 1e-9, 1e-13, 1e-17, 1e-20).
    """

    name = "ei"
    knob_name = "tau"
    signal_name = "ei_max"
    default_knobs: ClassVar[tuple[float, ...]] = (1e-8, 1e-12, 1e-16)

    def estimates(self, h: History) -> np.ndarray:
        """The logged signal, shape ``(N + 1,)``."""
        return signal(h, self.params.get("signal", self.signal_name))

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """``tau``."""
        return constant(h, knob)


class MaxPI(MaxEI):
    """PI < tau (Lorenz et al., 2016): the maximum probability of improvement over the space.

    Paper knobs: 1e-4, 1e-8, 1e-12.
    """

    name = "pi"
    signal_name = "pi_max"
    default_knobs: ClassVar[tuple[float, ...]] = (1e-4, 1e-8, 1e-12)


class IQRImprovement(StoppingRule):
    """Ax's ``ImprovementGlobalStoppingStrategy``: little improvement relative to the spread.

    Estimate: improvement of the best value over the last ``window`` (5) evaluations divided by
    the interquartile range of all values so far; threshold ``alpha`` (Ax default 0.1). With a
    zero IQR the estimate is 0 when there was no improvement (constant scores stop) and +inf
    otherwise.
    """

    name = "iqr"
    knob_name = "alpha"
    default_knobs: ClassVar[tuple[float, ...]] = (0.01, 0.05, 0.1, 0.2)

    def estimates(self, h: History) -> np.ndarray:
        """Normalised improvement over the last window, shape ``(N + 1,)``."""
        b = best_so_far(h)
        return np.array([self._at(h, b, t) for t in range(len(b))], dtype=float)

    def estimate_at(self, h: History, t: int) -> float:
        """The estimate at the single check ``t`` (reads records ``< t`` only)."""
        return self._at(h, best_so_far(h), t)

    def _at(self, h: History, b: np.ndarray, t: int) -> float:
        w = int(self.params.get("window", 5))
        if t < w + 1 or t >= len(b):
            return math.nan
        v = h.val[:t]
        v = v[np.isfinite(v)]
        if v.size < 2 or not np.isfinite(b[t - w]):
            return math.nan
        gain = b[t - w] - b[t]
        iqr = float(np.subtract(*np.percentile(v, [75, 25])))
        return float(gain / iqr) if iqr > 0 else (0.0 if gain <= 0 else math.inf)

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """``alpha``."""
        return constant(h, knob)


class TopKPlateau(StoppingRule):
    """Ray Tune's ``ExperimentPlateauStopper``: the best ``top`` values stop moving.

    Estimate: the standard deviation of the best ``top`` (10) validation scores so far; with
    ``patience`` p the estimate is the largest of the last p + 1 such values, so it falls below
    the threshold only after p + 1 consecutive checks below it (Ray's patience counter).
    """

    name = "plateau"
    knob_name = "std"
    default_knobs: ClassVar[tuple[float, ...]] = (1e-4, 1e-3, 1e-2)

    def estimates(self, h: History) -> np.ndarray:
        """Std of the top values (max over the patience window), shape ``(N + 1,)``."""
        top = int(self.params.get("top", 10))
        patience = int(self.params.get("patience", 0))
        raw = np.full(len(h) + 1, np.nan)
        for t in range(top, len(h) + 1):
            v = h.val[:t]
            v = np.sort(v[np.isfinite(v)])
            if v.size >= top:
                raw[t] = float(np.std(v[:top]))
        if patience <= 0:
            return raw
        out = np.full_like(raw, np.nan)
        for t in range(patience, len(raw)):
            win = raw[t - patience : t + 1]
            if np.isfinite(win).all():
                out[t] = win.max()
        return out

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """``std``."""
        return constant(h, knob)
