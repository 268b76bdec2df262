"""Acquisition maximisation over a mixed (continuous / integer / categorical) unit cube.

LogEI (Ament et al., NeurIPS 2023) is maximised by BoTorch's ``optimize_acqf`` on the continuous
relaxation followed by a discrete coordinate search (:func:`maximize_acqf`), which keeps integer
and categorical columns on their feasible values. The maximum of EI (Jones et al. 1998)
and of PI (Kushner 1964) over the space are logged as stopping signals (the EI and PI baselines of
Makarova et al., 2022, Sec. 6, after Nguyen et al. 2017 and Lorenz et al. 2016).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction, LogExpectedImprovement
from botorch.acquisition.analytic import LogProbabilityOfImprovement
from botorch.models.model import Model
from botorch.optim import optimize_acqf

from autoterm.bo.surrogate import DTYPE
from autoterm.space import SearchSpace

MAX_ENUM = 32


def maximize_acqf(
    acqf: AcquisitionFunction,
    space: SearchSpace,
    *,
    num_restarts: int,
    raw_samples: int,
    seed: int,
) -> tuple[np.ndarray, float]:
    """Maximise ``acqf`` over the feasible set of ``space``.

    Continuous relaxation first (BoTorch ``optimize_acqf``: scored raw samples, then L-BFGS-B from
    the best restarts), then every restart's optimum is snapped to the feasible set and improved
    by a discrete coordinate search: each integer or categorical column in turn is set to every
    feasible value (columns with more than ``MAX_ENUM`` values: the two neighbours of the snapped
    value), keeping the best. All candidates of a sweep are scored in one batch. This keeps
    integer and categorical columns on feasible values, like BoTorch's
    ``optimize_acqf_mixed_alternating``, at a fraction of its cost (measured: ~0.5 s against
    tens of seconds per call in the 9-D XGBoost space).

    Args:
        acqf: a BoTorch acquisition function (``q = 1``).
        space: the search space (defines the integer and categorical columns).
        num_restarts: L-BFGS restarts.
        raw_samples: initial candidates scored before choosing restarts.
        seed: seeds the optimiser's random initial candidates.

    Returns:
        The maximiser, shape ``(d,)``, on the feasible set, and the acquisition value there.
    """
    d = space.dim
    bounds = torch.stack([torch.zeros(d, dtype=DTYPE), torch.ones(d, dtype=DTYPE)])
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        x, _ = optimize_acqf(
            acqf,
            bounds,
            q=1,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            return_best_only=False,
        )
    starts = space.snap(x.detach().reshape(-1, d).numpy())
    grids = {**space.discrete_values(), **space.categorical_dims()}
    if not grids:
        vals = _score(acqf, starts)
        i = int(np.argmax(vals))
        return starts[i], float(vals[i])
    best_x, best_v = starts, _score(acqf, starts)
    for _ in range(3):  # a few coordinate sweeps; usually converges in one
        improved = False
        for j, grid in sorted(grids.items()):
            values = np.asarray(grid)
            if len(values) > MAX_ENUM:
                values = None
            cands, owner = [], []
            for r, xr in enumerate(best_x):
                if values is None:
                    k = int(np.argmin(np.abs(np.asarray(grid) - xr[j])))
                    opts = [grid[i] for i in (k - 1, k + 1) if 0 <= i < len(grid)]
                else:
                    opts = [v for v in values if v != xr[j]]
                for v in opts:
                    c = xr.copy()
                    c[j] = v
                    cands.append(c)
                    owner.append(r)
            if not cands:
                continue
            cv = _score(acqf, np.array(cands))
            for c, v, r in zip(cands, cv, owner, strict=True):
                if v > best_v[r] + 1e-12:
                    best_x[r], best_v[r] = c, v
                    improved = True
        if not improved:
            break
    i = int(np.argmax(best_v))
    return best_x[i], float(best_v[i])


def _score(acqf: AcquisitionFunction, X: np.ndarray) -> np.ndarray:
    """Acquisition values of the points ``X`` (shape ``(n, d)``) as an array ``(n,)``."""
    with torch.no_grad():
        return acqf(torch.as_tensor(X, dtype=DTYPE).unsqueeze(1)).numpy().astype(float)


def best_unseen(
    acqf: AcquisitionFunction,
    space: SearchSpace,
    seen: Collection[tuple],
    *,
    n_candidates: int,
    seed: int,
) -> tuple[np.ndarray, float] | None:
    """The best not-yet-evaluated point among snapped Sobol candidates (duplicate fallback).

    Args:
        acqf: the acquisition function.
        space: the search space.
        seen: keys (:meth:`SearchSpace.key`) of evaluated configurations.
        n_candidates: number of Sobol candidates.
        seed: Sobol scrambling seed.

    Returns:
        ``(x, value)`` with ``x`` of shape ``(d,)``, or ``None`` if every candidate was seen.
    """
    cand = space.sobol(n_candidates, seed)
    keep = [i for i, c in enumerate(space.decode(cand)) if space.key(c) not in seen]
    if not keep:
        return None
    cand = cand[keep]
    vals = _score(acqf, cand)
    i = int(np.argmax(vals))
    return cand[i], float(vals[i])


def log_ei(model: Model, best_f: float) -> LogExpectedImprovement:
    """LogEI for minimisation with incumbent value ``best_f`` (native units)."""
    return LogExpectedImprovement(model, best_f=best_f, maximize=False)


def log_pi(model: Model, best_f: float) -> LogProbabilityOfImprovement:
    """Log probability of improvement for minimisation with incumbent ``best_f``."""
    return LogProbabilityOfImprovement(model, best_f=best_f, maximize=False)


def safe_exp(v: float) -> float:
    """``exp`` that maps ``-inf`` (and underflow) to 0."""
    return math.exp(v) if math.isfinite(v) else 0.0
