"""The PI signal's NumPy search against BoTorch's optimize_acqf on the same GP."""

import math

import numpy as np
import pytest

from autoterm.bo.acquisition import log_pi, maximize_acqf, safe_exp
from autoterm.bo.numpy_gp import fit_numpy_gp
from autoterm.bo.signals import _log_pi_and_grad, max_pi
from autoterm.bo.surrogate import FixedGP
from autoterm.objectives.random_forest import RandomForestObjective
from autoterm.objectives.xgboost import XGBoostObjective


def _history(space, n, seed=0):
    rng = np.random.default_rng(seed)
    X = space.snap(space.sobol(n, seed))
    c = rng.random(space.dim)
    y = 0.1 + ((X - c) ** 2).sum(1) / space.dim + 0.01 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("cls, n", [(XGBoostObjective, 40), (RandomForestObjective, 30)])
def test_max_pi_matches_botorch_and_is_feasible(cls, n):
    space = cls.space
    X, y = _history(space, n)
    gp = fit_numpy_gp(X, y)
    best = float(y.min())
    _, lpi = maximize_acqf(
        log_pi(FixedGP.from_numpy_gp(gp), best), space, num_restarts=10, raw_samples=512, seed=3
    )
    ref = safe_exp(lpi)
    ours = max_pi(gp, best, space, seed=3)
    assert 0.0 < ours <= 1.0
    assert ours == pytest.approx(ref, rel=0.02)
    # a given feasible start is never beaten by the reported maximum's lower bound
    mu, sd = gp.predict(X[:1])
    start_pi = 0.5 * math.erfc(-((best - mu[0]) / sd[0]) / math.sqrt(2))
    assert max_pi(gp, best, space, seed=3, starts=[X[0]]) >= start_pi - 1e-12


def test_log_pi_gradient_matches_finite_differences():
    space = XGBoostObjective.space
    X, y = _history(space, 25, seed=1)
    gp = fit_numpy_gp(X, y)
    z = np.random.default_rng(2).random((3, space.dim)) * 0.8 + 0.1
    best = float(np.median(gp.predict(z)[0]))  # PI away from 0 and 1 at these points
    _, g = _log_pi_and_grad(gp, z, best)
    h = 1e-6
    for j in range(space.dim):
        e = np.zeros(space.dim)
        e[j] = h
        fd = (_log_pi_and_grad(gp, z + e, best)[0] - _log_pi_and_grad(gp, z - e, best)[0]) / (2 * h)
        assert np.allclose(g[:, j], fd, rtol=1e-4, atol=1e-6)
