"""The stopping-rule contract: an improvement estimate compared with a threshold.

After Optuna's terminator (an *improvement evaluator* and an *error evaluator*, both functions of
the trial history) and ``DESIGN.md`` §4: every rule maps a :class:`History` to

* ``estimates[t]``: what the rule believes can still be gained at the check after ``t``
  evaluations (knob-free; NaN where it cannot say, which never stops), and
* ``thresholds(knob)[t]``: the level the estimate must fall below; the knob lives here,

and stops at the first checked ``t`` (``warmup <= t <= horizon``) with
``estimates[t] < thresholds[t]``. A whole trade-off curve is therefore a re-thresholding of one
estimate array: no model is refit per knob value. A rule reads only records ``0 .. t-1`` for the
check at ``t``, never the BO loop's random stream, so replay of a full run is exact.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from autoterm.stopping.history import History

WARMUP = 20  # the authors' warm-up: no rule checks before 20 evaluations


@dataclass(frozen=True)
class StopDecision:
    """Where a rule stops a run.

    Attributes:
        stop_iter: number of evaluations when it stops (the horizon if it never fires).
        fired: whether the rule fired before or at the horizon.
        estimate: the estimate at ``stop_iter`` (NaN if unknown).
        threshold: the threshold at ``stop_iter``.
    """

    stop_iter: int
    fired: bool
    estimate: float
    threshold: float


class StoppingRule(ABC):
    """Base class of every rule.

    Args:
        warmup: first check (number of evaluations); ``WARMUP`` = 20 by default.
        params: rule-specific parameters (see each subclass).
    """

    name: ClassVar[str] = ""
    knob_name: ClassVar[str] = "threshold"
    default_knobs: ClassVar[tuple[float, ...]] = ()
    uses_gp: ClassVar[bool] = False
    estimate_version: ClassVar[int] = 1
    """Bumped when a change of the code changes the estimates: replay caches of other versions
    are recomputed (:mod:`autoterm.replay`)."""

    def __init__(self, warmup: int = WARMUP, **params: Any):
        if warmup < 1:
            raise ValueError(f"{self.name}: warmup must be >= 1 (got {warmup})")
        self.warmup = int(warmup)
        self.params = params

    @abstractmethod
    def estimates(self, h: History) -> np.ndarray:
        """The improvement estimate at every check ``t = 0 .. N``, shape ``(N + 1,)``."""

    @abstractmethod
    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """The threshold at every check ``t = 0 .. N`` for ``knob``, shape ``(N + 1,)``."""

    def estimate_at(self, h: History, t: int) -> float:
        """The estimate at the single check ``t`` (online use); reads records ``< t`` only."""
        return float(self.estimates(_prefix(h, t))[t])

    def offer_fit(self, X: np.ndarray, y: np.ndarray, gp: Any) -> None:
        """A GP the BO loop has just fitted, which a rule may reuse at its next online check.

        The default ignores it. A rule that keeps it must key it by its data (the fit is a pure
        function of ``(X, y)``), so reuse never changes an estimate.

        Args:
            X: the points the loop fitted (successful records, unit cube), shape ``(n, d)``.
            y: their objective values (minimised), shape ``(n,)``.
            gp: the fitted :class:`autoterm.bo.numpy_gp.NumpyGP`.
        """
        return None

    def stop(
        self,
        h: History,
        knob: float,
        *,
        horizon: int | None = None,
        estimates: np.ndarray | None = None,
    ) -> StopDecision:
        """The first check where the estimate falls below the threshold.

        Args:
            h: the run.
            knob: the rule's knob value.
            horizon: last check (default ``N``); not firing gives ``stop_iter = horizon``.
            estimates: precomputed :meth:`estimates` (so sweeps over knobs reuse them).
        """
        n = len(h)
        horizon = n if horizon is None else min(int(horizon), n)
        est = self.estimates(h) if estimates is None else estimates
        thr = self.thresholds(h, knob)
        lo = self.warmup
        if lo <= horizon:
            e, th = est[lo : horizon + 1], thr[lo : horizon + 1]
            with np.errstate(invalid="ignore"):
                hit = np.flatnonzero(np.isfinite(e) & (e < th))
            if hit.size:
                t = lo + int(hit[0])
                return StopDecision(t, True, float(est[t]), float(thr[t]))
        return StopDecision(horizon, False, _at(est, horizon), _at(thr, horizon))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}(warmup={self.warmup}{extra})"


def constant(h: History, value: float) -> np.ndarray:
    """A constant threshold array, shape ``(N + 1,)``."""
    return np.full(len(h) + 1, float(value))


def _at(a: np.ndarray, t: int) -> float:
    return float(a[t]) if 0 <= t < len(a) else math.nan


def _prefix(h: History, t: int) -> History:
    """The first ``t`` records of ``h`` (what an online rule sees at check ``t``)."""
    return History(
        val=h.val[:t],
        test=h.test[:t],
        folds=h.folds[:t],
        X=None if h.X is None else h.X[:t],
        cost=h.cost[:t],
        signals={k: v[: t + 1] for k, v in h.signals.items()},  # record t's signal is pre-t
        n_test_over_n_train=h.n_test_over_n_train,
        meta=h.meta,
        eval_cost=None if h.eval_cost is None else h.eval_cost[:t],
    )
