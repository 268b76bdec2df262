"""The NumPy GP: gradients, agreement with BoTorch's fit of the same model, predictions."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import approx_fprime

from autoterm.bo.numpy_gp import _neg_log_posterior, fit_numpy_gp
from autoterm.bo.surrogate import fit_gp, gp_hyperparameters


def data(n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    return X, np.sin(3 * X).sum(1) + 0.1 * rng.standard_normal(n)


def test_gradient_matches_finite_differences():
    X, y = data()
    ys = (y - y.mean()) / y.std(ddof=1)
    rows, cols = np.tril_indices(len(y), -1)
    pairs = (rows, cols, rows * len(y) + cols)
    sq = ((X[rows] - X[cols]) ** 2).T.copy()
    for seed in range(3):
        theta = np.random.default_rng(seed).normal(size=X.shape[1] + 3) * 0.5
        g = _neg_log_posterior(theta, sq, ys, pairs)[1]
        fd = approx_fprime(theta, lambda t: _neg_log_posterior(t, sq, ys, pairs)[0], 1e-6)
        np.testing.assert_allclose(g, fd, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_matches_botorch_on_the_same_model(seed):
    X, y = data(seed=seed)
    gp = fit_numpy_gp(X, y)
    model = fit_gp(X, y)
    ref = gp_hyperparameters(model)
    np.testing.assert_allclose(gp.lengthscales, ref["lengthscales"], rtol=0.02)
    assert gp.outputscale == pytest.approx(ref["outputscale"], rel=0.02)
    assert gp.noise == pytest.approx(ref["noise"], rel=0.05)
    Xs = np.random.default_rng(9).random((20, X.shape[1]))
    mu, sd = gp.predict(Xs)
    with torch.no_grad():
        post = model.posterior(torch.as_tensor(Xs))
    np.testing.assert_allclose(mu, post.mean.numpy().ravel(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(sd, post.variance.sqrt().numpy().ravel(), rtol=0.02)


def test_noise_floor_and_prior_on_noiseless_data():
    X, _ = data(30, 2)
    y = X.sum(1)  # a noiseless plane: the noise goes to BoTorch's floor region
    gp = fit_numpy_gp(X, y)
    assert 1e-4 <= gp.noise < 1e-2
    mu, sd = gp.predict(X)
    np.testing.assert_allclose(mu, y, atol=0.02)


def test_predict_cov_and_lcb_gradient_agree_with_predict():
    X, y = data()
    gp = fit_numpy_gp(X, y)
    Xs = np.random.default_rng(3).random((6, X.shape[1]))
    mu, sd = gp.predict(Xs)
    m2, cov = gp.predict_cov(Xs)
    np.testing.assert_allclose(m2, mu)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), sd, rtol=1e-8)
    assert np.all(np.linalg.eigvalsh(cov) > -1e-10)
    for noise in (False, True):
        lcb, grad = gp.lcb_and_grad(Xs, 1.7, noise)
        m, s = gp.predict(Xs, noise)
        np.testing.assert_allclose(lcb, m - 1.7 * s, rtol=1e-10)
        eps = 1e-6
        for j in range(X.shape[1]):
            e = np.zeros(X.shape[1])
            e[j] = eps
            fd = (gp.lcb_and_grad(Xs + e, 1.7, noise)[0] - lcb) / eps
            np.testing.assert_allclose(grad[:, j], fd, atol=1e-4 * max(1, np.abs(fd).max()))
    assert gp.noise_variance == pytest.approx(gp.noise * gp.y_std**2)


def test_constant_targets_do_not_break_the_fit():
    X, _ = data(10, 2)
    gp = fit_numpy_gp(X, np.full(10, 0.3))
    mu, sd = gp.predict(X)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(sd))
    assert np.allclose(mu, 0.3, atol=1e-6)
    assert math.isfinite(gp.nll)
