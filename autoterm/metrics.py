"""The authors' measures of a stop: relative time change (RTC) and relative test-error change (RYC).

Makarova et al. (2022, Sec. 6; ``DESIGN.md`` §5). With stop ``s`` and final ``T`` of the
full-budget run and ``e`` the incumbent's test error:

* RTC (iterations) = (T − s) / T
* RTC (time) = (time_T − time_s) / time_T, time = cumulative evaluation + optimiser seconds
* RYC = (e_T − e_s) / max(e_T, e_s): negative when stopping early cost test accuracy.

``convention="paper"`` reproduces the authors' published table exactly
(``../shared/paper-runs/README.md``): ``T`` is the last check (``N − 1``), time is the evaluation
time of records ``warmup .. s`` *inclusive*, and ``rel_val`` is reported as well.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autoterm.stopping.history import History


def _rel(final: float, at_stop: float) -> float:
    """``(final − at_stop) / max(final, at_stop)`` (0 when both are 0, NaN when unknown)."""
    if not (math.isfinite(final) and math.isfinite(at_stop)):
        return math.nan
    denom = max(final, at_stop)
    return 0.0 if denom == 0 else (final - at_stop) / denom


def measures(
    h: History, s: int, *, T: int | None = None, convention: str = "autoterm", warmup: int = 20
) -> dict[str, Any]:
    """RTC and RYC of stopping run ``h`` after ``s`` evaluations.

    Args:
        h: the full-budget run.
        s: the stop iteration (number of evaluations).
        T: the final iteration (default ``N``, or ``N − 1`` with the paper's convention).
        convention: ``"autoterm"`` or ``"paper"`` (see the module docstring).
        warmup: first check (start of the paper's time window).

    Returns:
        ``rtc_iter``, ``rtc_time``, ``ryc``, ``rel_val``, ``total_iter``, ``total_time``,
        ``test_at_stop``, ``test_final``, ``time_at_stop``.
    """
    n = len(h)
    if convention == "paper":
        T = n - 1 if T is None else T
        cost = h.eval_cost if h.eval_cost is not None else h.cost
        cum = np.concatenate([[0.0], np.cumsum(cost[warmup:])])  # cum[j] = rows warmup..warmup+j-1

        def time_at(t: int) -> float:
            return float(cum[min(max(t - warmup + 1, 0), len(cum) - 1)])
    elif convention == "autoterm":
        T = n if T is None else T
        cum = np.concatenate([[0.0], np.cumsum(h.cost)])

        def time_at(t: int) -> float:
            return float(cum[t])
    else:
        raise ValueError(f"unknown convention {convention!r}; use 'autoterm' or 'paper'")
    s = min(int(s), T)
    inc = h.incumbents()
    e_s = h.test[inc[s]] if inc[s] >= 0 else math.nan
    e_T = h.test[inc[T]] if inc[T] >= 0 else math.nan
    v_s = h.val[inc[s]] if inc[s] >= 0 else math.nan
    v_T = h.val[inc[T]] if inc[T] >= 0 else math.nan
    t_s, t_T = time_at(s), time_at(T)
    return {
        "rtc_iter": (T - s) / T if T > 0 else 0.0,
        "rtc_time": (t_T - t_s) / t_T if t_T > 0 else 0.0,
        "ryc": _rel(float(e_T), float(e_s)),
        "rel_val": _rel(float(v_T), float(v_s)),
        "total_iter": T,
        "total_time": t_T,
        "time_at_stop": t_s,
        "test_at_stop": float(e_s),
        "test_final": float(e_T),
    }
