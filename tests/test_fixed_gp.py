"""The BO loop's NumPy-fitted GP (autoterm.bo.surrogate.FixedGP) against BoTorch's SingleTaskGP."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel

import autoterm.bo.numpy_gp as numpy_gp
from autoterm.bo.acquisition import log_ei, log_pi, maximize_acqf
from autoterm.bo.loop import BayesOpt
from autoterm.bo.numpy_gp import fit_numpy_gp
from autoterm.bo.surrogate import DTYPE, FixedGP, fit_gp, gp_hyperparameters
from autoterm.space import Float, Int, SearchSpace


def _data(n: int = 30, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(3.0 * X[:, 0]) + (X[:, 1] - 0.4) ** 2 + 0.01 * rng.normal(size=n) + 5.0
    return X, y


def _single_task_gp(gp: numpy_gp.NumpyGP, X: np.ndarray, y: np.ndarray) -> SingleTaskGP:
    """A SingleTaskGP with the NumPy fit's hyperparameters (as BoTorch would hold them)."""
    d = X.shape[1]
    model = SingleTaskGP(
        torch.as_tensor(X, dtype=DTYPE),
        torch.as_tensor(y, dtype=DTYPE).reshape(-1, 1),
        covar_module=ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d)),
        outcome_transform=Standardize(m=1),
    )
    model.covar_module.base_kernel.lengthscale = torch.as_tensor(gp.lengthscales)[None, :]
    model.covar_module.outputscale = gp.outputscale
    model.likelihood.noise = gp.noise
    model.mean_module.constant = gp.mean
    return model.eval()


@pytest.mark.parametrize("observation_noise", [False, True])
def test_fixed_gp_posterior_equals_single_task_gp(observation_noise: bool) -> None:
    X, y = _data()
    gp = fit_numpy_gp(X, y)
    ours, theirs = FixedGP.from_numpy_gp(gp), _single_task_gp(gp, X, y)
    pts = np.vstack([np.random.default_rng(1).random((40, X.shape[1])), X[:5]])
    Xt = torch.as_tensor(pts, dtype=DTYPE).unsqueeze(1)  # (b, 1, d)
    with torch.no_grad():
        p, q = (m.posterior(Xt, observation_noise=observation_noise) for m in (ours, theirs))
        assert p.mean.shape == q.mean.shape == (len(pts), 1, 1)
        np.testing.assert_allclose(p.mean.numpy(), q.mean.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(p.variance.numpy(), q.variance.numpy(), rtol=1e-6, atol=1e-12)


def test_fixed_gp_acquisition_values_and_gradients_equal_single_task_gp() -> None:
    X, y = _data(seed=2)
    gp = fit_numpy_gp(X, y)
    best = float(y.min())
    for make in (log_ei, log_pi):
        vals, grads = [], []
        for model in (FixedGP.from_numpy_gp(gp), _single_task_gp(gp, X, y)):
            x = torch.as_tensor(np.random.default_rng(3).random((7, 1, 3)), dtype=DTYPE)
            x.requires_grad_(True)
            v = make(model, best)(x)
            v.sum().backward()
            vals.append(v.detach().numpy())
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(vals[0], vals[1], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_gp_numpy_matches_botorch(seed: int) -> None:
    # the same MAP objective from the same start: the same optimum on a well-posed problem
    # (where the likelihood is flat, e.g. an irrelevant input, the two optimisers can stop at
    # different points; tests/test_numpy_gp.py compares them on real runs)
    X, y = _data(n=25, d=2, seed=seed)
    a, b = fit_gp(X, y, fitter="numpy"), fit_gp(X, y, fitter="botorch")
    assert isinstance(a, FixedGP) and isinstance(b, SingleTaskGP)
    ours, theirs = gp_hyperparameters(a), gp_hyperparameters(b)
    assert set(ours) == set(theirs)
    np.testing.assert_allclose(ours["lengthscales"], theirs["lengthscales"], rtol=0.02)
    for k in ("outputscale", "noise", "mean"):
        assert ours[k] == pytest.approx(theirs[k], rel=0.05, abs=1e-4)
    P = torch.as_tensor(np.random.default_rng(9).random((50, 2)), dtype=DTYPE).unsqueeze(1)
    with torch.no_grad():
        pa, pb = a.posterior(P), b.posterior(P)
        np.testing.assert_allclose(pa.mean.numpy(), pb.mean.numpy(), atol=1e-4)
        np.testing.assert_allclose(pa.variance.numpy(), pb.variance.numpy(), rtol=1e-2)


def test_fit_gp_numpy_falls_back_to_botorch(monkeypatch: pytest.MonkeyPatch) -> None:
    def singular(X: np.ndarray, y: np.ndarray) -> None:
        raise np.linalg.LinAlgError("not positive definite")

    monkeypatch.setattr(numpy_gp, "fit_numpy_gp", singular)
    X, y = _data(n=12)
    assert isinstance(fit_gp(X, y, fitter="numpy"), SingleTaskGP)
    with pytest.raises(ValueError, match="fitter"):
        fit_gp(X, y, fitter="gpy")


def test_fixed_gp_rejects_joint_posteriors() -> None:
    X, y = _data(n=10)
    model = FixedGP.from_numpy_gp(fit_numpy_gp(X, y))
    with pytest.raises(NotImplementedError):
        model.posterior(torch.zeros(2, 3, X.shape[1], dtype=DTYPE))


def test_maximize_acqf_on_fixed_gp_is_feasible() -> None:
    space = SearchSpace([Float("x", 0.0, 1.0), Int("k", 1, 8), Float("z", 1e-3, 1.0, log=True)])
    X = space.encode(space.decode(space.sobol(16, seed=0)))
    y = (X[:, 0] - 0.3) ** 2 + 0.1 * X[:, 1]
    model = fit_gp(X, y, fitter="numpy")
    x, v = maximize_acqf(
        log_ei(model, float(y.min())), space, num_restarts=2, raw_samples=64, seed=0
    )
    np.testing.assert_array_equal(space.snap(x[None, :])[0], x)
    assert np.isfinite(v)


def test_bo_backends() -> None:
    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])
    cfgs = space.decode(space.sobol(8, seed=1))
    history = [(c, (c["x"] - 0.3) ** 2 + (c["y"] - 0.6) ** 2) for c in cfgs]
    small = {"num_restarts": 2, "raw_samples": 64, "n_init": 4}
    assert BayesOpt(space, **small).gp_backend == "numpy"
    a = BayesOpt(space, seed=3, **small).suggest(history)
    b = BayesOpt(space, seed=3, **small).suggest(history)
    assert a.source == "logei" and a.config == b.config and a.info["gp"] == b.info["gp"]
    c = BayesOpt(space, seed=3, gp_backend="botorch", **small).suggest(history)
    assert c.source == "logei" and set(c.info["gp"]) == set(a.info["gp"])
    with pytest.raises(ValueError, match="gp_backend"):
        BayesOpt(space, gp_backend="gpy")


@pytest.mark.parametrize("observation_noise", [False, True])
def test_fixed_gp_analytic_gradient_passes_gradcheck(observation_noise: bool) -> None:
    """The posterior's hand-written backward against finite differences (torch.gradcheck),
    including a point on a training input (r = 0) and a batch shape (b1, b2, 1, d)."""
    X, y = _data(n=25, seed=4)
    model = FixedGP.from_numpy_gp(fit_numpy_gp(X, y))
    pts = np.vstack([np.random.default_rng(5).random((5, X.shape[1])), X[:1]])
    x = torch.as_tensor(pts, dtype=DTYPE).reshape(2, 3, 1, -1).requires_grad_(True)

    def f(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        post = model.posterior(z, observation_noise=observation_noise)
        return post.mean, post.variance.sqrt()

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6, rtol=1e-4)
