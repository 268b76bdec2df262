"""The surrogate GP of :mod:`autoterm.bo.surrogate`, in NumPy with analytic gradients.

Same model as :func:`autoterm.bo.surrogate.fit_gp` (BoTorch ``SingleTaskGP``): constant mean,
``outputscale * Matérn-5/2`` with one length-scale per input, Gaussian noise with BoTorch's
``LogNormal(-4, 1)`` prior and floor ``1e-4``, outputs standardised (mean, ``ddof=1`` std), fit by
maximising the log marginal likelihood plus the noise log prior (type-II MAP) with L-BFGS-B from
BoTorch's initial values. Formulas: Rasmussen & Williams, *Gaussian Processes for Machine
Learning* (2006), Alg. 2.1 (prediction), Eq. 5.9 (gradient of the marginal likelihood), Eq. 4.17
(Matérn-5/2).

Why it exists: the paper's stopping rule refits a GP at every check. Through GPyTorch a fit costs
0.5-2 s on the authors' runs (autograd and module overhead on 20-100 points); here it costs a few
milliseconds, which is what makes a replay of hundreds of runs take minutes. The optimiser works on
log-parameters instead of GPyTorch's softplus-raw ones, so on multimodal likelihoods the two can
reach different local optima; ``tests/test_numpy_gp.py`` compares both on real runs.

Threads: the fit runs with one BLAS thread (threadpoolctl). Its matrices are at most a few hundred
wide, where threading buys nothing on an idle machine, and on a busy one OpenBLAS threads spin
against the other processes: measured 43x slower (4.6 s against 0.11 s per fit at 200 points,
9-D, 2 cores, while a 2-job sweep ran).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.linalg.lapack import dpotrf, dpotri, dpotrs
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

_CONTROLLER: list[ThreadpoolController] = []


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread (see the module notes).

    The threadpoolctl controller is built once per process (scanning the loaded libraries costs
    ~1 ms with torch loaded, which per GP fit was 10 % of a replay); entering it costs ~20 us.
    NumPy and SciPy, whose BLAS it limits, are loaded when this module is.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


SQRT5 = math.sqrt(5.0)
NOISE_FLOOR = 1e-4
"""BoTorch's ``MIN_INFERRED_NOISE_LEVEL``."""
NOISE_PRIOR = (-4.0, 1.0)
"""``LogNormal(loc, scale)`` prior on the noise variance (BoTorch's default likelihood)."""
_INIT_SOFTPLUS0 = math.log(2.0)  # GPyTorch's initial length-scale and outputscale: softplus(0)
_LOG_BOUNDS = (math.log(1e-4), math.log(1e4))


def _matern52(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matérn-5/2 correlation ``m(r)`` and ``g(r) = -m'(r) / r`` (R&W Eq. 4.17).

    Args:
        r: scaled distances, any shape.

    Returns:
        ``(m, g)`` of the shape of ``r``; ``g = 5/3 (1 + sqrt5 r) exp(-sqrt5 r)`` is finite at 0.
    """
    e = np.exp(-SQRT5 * r)
    m = (1.0 + SQRT5 * r + (5.0 / 3.0) * r * r) * e
    g = (5.0 / 3.0) * (1.0 + SQRT5 * r) * e
    return m, g


@dataclass
class NumpyGP:
    """A fitted GP; predictions are in the units of the training targets.

    Attributes:
        X: training inputs, shape ``(n, d)``.
        lengthscales: shape ``(d,)``.
        outputscale: signal variance (standardised units).
        noise: noise variance (standardised units).
        mean: constant mean (standardised units).
        y_mean: standardisation offset.
        y_std: standardisation scale.
        chol: lower Cholesky factor of ``K + noise I``, shape ``(n, n)``.
        alpha: ``(K + noise I)^-1 (y_std - mean)``, shape ``(n,)``.
        nll: the minimised negative log marginal likelihood + noise prior, per point.
    """

    X: np.ndarray
    lengthscales: np.ndarray
    outputscale: float
    noise: float
    mean: float
    y_mean: float
    y_std: float
    chol: np.ndarray
    alpha: np.ndarray
    nll: float

    def _cross(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        diff = (Xs[:, None, :] - self.X[None, :, :]) / self.lengthscales  # (m, n, d)
        r = np.sqrt(np.maximum((diff * diff).sum(-1), 0.0))
        m, g = _matern52(r)
        return self.outputscale * m, self.outputscale * g, diff

    def _kernel(self, Xs: np.ndarray) -> np.ndarray:
        """``k(Xs, X)``, shape ``(m, n)``, from BLAS inner products (no ``(m, n, d)`` array)."""
        a, b = Xs / self.lengthscales, self.X / self.lengthscales
        r2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
        return self.outputscale * _matern52(np.sqrt(np.maximum(r2, 0.0)))[0]

    def predict(
        self, Xs: np.ndarray, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (R&W Alg. 2.1).

        Args:
            Xs: test inputs, shape ``(m, d)``.
            observation_noise: std of a noisy observation instead of the latent ``f``.

        Returns:
            ``(mu, sigma)``, each shape ``(m,)``, in the units of the training targets.
        """
        Xs = np.atleast_2d(np.asarray(Xs, dtype=float))
        ks = self._kernel(Xs)
        mu = self.mean + ks @ self.alpha
        v = solve_triangular(self.chol, ks.T, lower=True)  # (n, m)
        var = self.outputscale - (v * v).sum(0)
        if observation_noise:
            var = var + self.noise
        sigma = np.sqrt(np.maximum(var, 1e-12))
        return self.y_mean + self.y_std * mu, self.y_std * sigma

    def predict_cov(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and full covariance of the latent ``f`` (R&W Eq. 2.24).

        Args:
            Xs: test inputs, shape ``(m, d)``.

        Returns:
            ``(mu, cov)`` of shapes ``(m,)`` and ``(m, m)``, in the units of the targets.
        """
        Xs = np.atleast_2d(np.asarray(Xs, dtype=float))
        ks = self._kernel(Xs)
        mu = self.mean + ks @ self.alpha
        v = solve_triangular(self.chol, ks.T, lower=True)  # (n, m)
        diff = (Xs[:, None, :] - Xs[None, :, :]) / self.lengthscales
        kss = self.outputscale * _matern52(np.sqrt((diff * diff).sum(-1)))[0]
        cov = kss - v.T @ v
        return self.y_mean + self.y_std * mu, self.y_std**2 * cov

    @property
    def noise_variance(self) -> float:
        """The learned noise variance in the units of the targets (squared)."""
        return float(self.noise * self.y_std**2)

    def mean_std_and_grad(
        self, Xs: np.ndarray, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation with their gradients in ``x``.

        ``d k(x, x_i) / d x = -g(r) (x - x_i) / l^2``, ``d mu = dK alpha``,
        ``d var = -2 dK K^-1 k*`` (R&W Alg. 2.1 differentiated).

        Args:
            Xs: inputs, shape ``(m, d)``.
            observation_noise: include the noise in sigma.

        Returns:
            ``(mu, sigma, dmu, dsigma)`` of shapes ``(m,)``, ``(m,)``, ``(m, d)``, ``(m, d)``, in
            target units.
        """
        ks, gs, diff = self._cross(Xs)  # (m, n), (m, n), (m, n, d)
        dk = -gs[:, :, None] * diff / self.lengthscales  # (m, n, d)
        mu = self.mean + ks @ self.alpha
        dmu = np.einsum("mnd,n->md", dk, self.alpha)
        w = cho_solve((self.chol, True), ks.T)  # (n, m) = K^-1 k*
        var = self.outputscale - (ks * w.T).sum(1)
        if observation_noise:
            var = var + self.noise
        var = np.maximum(var, 1e-12)
        sigma = np.sqrt(var)
        dvar = -2.0 * np.einsum("mnd,nm->md", dk, w)
        dsigma = dvar / (2.0 * sigma[:, None])
        s = self.y_std
        return self.y_mean + s * mu, s * sigma, s * dmu, s * dsigma

    def lcb_and_grad(
        self, Xs: np.ndarray, sqrt_beta: float, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``lcb(x) = mu(x) - sqrt_beta * sigma(x)`` and its gradient.

        Args:
            Xs: inputs, shape ``(m, d)``.
            sqrt_beta: multiplier of sigma.
            observation_noise: include the noise in sigma.

        Returns:
            ``(lcb, grad)`` of shapes ``(m,)`` and ``(m, d)``, in target units.
        """
        mu, sigma, dmu, dsigma = self.mean_std_and_grad(Xs, observation_noise)
        return mu - sqrt_beta * sigma, dmu - sqrt_beta * dsigma


def minimize_in_unit_cube(fn: Any, starts: np.ndarray, maxiter: int = 200) -> np.ndarray:
    """Minimise ``fn`` from ``k`` starts at once: one L-BFGS-B run on the sum of the ``k`` values.

    The starts do not interact (the gradient of the sum is block-diagonal), so this is ``k``
    local searches in one SciPy call; used by the lcb search of the regret bound and by the PI
    signal's search (:mod:`autoterm.bo.signals`).

    Args:
        fn: maps points of shape ``(k, d)`` to ``(values, gradients)``, shapes ``(k,)`` and
            ``(k, d)``.
        starts: the starting points in ``[0, 1]^d``, shape ``(k, d)``.
        maxiter: L-BFGS-B iterations.

    Returns:
        The end points, clipped to the unit cube, shape ``(k, d)``.
    """
    import warnings

    k, d = starts.shape

    def total(z: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = fn(z.reshape(k, d))
        return float(v.sum()), g.reshape(-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. exp overflow far in a tail: harmless
        res = minimize(
            total,
            starts.reshape(-1),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (k * d),
            options={"maxiter": maxiter},
        )
    return np.clip(res.x.reshape(k, d), 0.0, 1.0)


def _neg_log_posterior(
    theta: np.ndarray,
    sq: np.ndarray,
    y: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood + noise log prior and its gradient (R&W Eq. 5.9).

    Only the ``P = n (n - 1) / 2`` pairs below the diagonal are computed (the kernel matrix is
    symmetric with ``outputscale + noise`` on the diagonal), which halves the work.

    Args:
        theta: ``[log l_1 .. log l_d, log outputscale, log noise, mean]``, shape ``(d + 3,)``.
        sq: squared coordinate differences of the pairs, shape ``(d, P)``.
        y: standardised targets, shape ``(n,)``.
        pairs: row and column indices of the pairs (``numpy.tril_indices(n, -1)``) and their
            flat positions ``row * n + col``.

    Returns:
        ``(value, gradient)``; value per point, like GPyTorch's ``ExactMarginalLogLikelihood``.
    """
    d, n = sq.shape[0], len(y)
    inv_l2 = np.exp(-2.0 * theta[:d])
    s2, noise, c = math.exp(theta[d]), math.exp(theta[d + 1]), theta[d + 2]
    r = np.sqrt(np.maximum(inv_l2 @ sq, 0.0))  # (P,)
    m, g = _matern52(r)
    lo = pairs[2]  # flat (row-major) positions of the pairs
    K = np.empty(n * n)
    K[lo] = s2 * m
    K[:: n + 1] = s2 + noise
    L, info = dpotrf(K.reshape(n, n), lower=1, clean=0, overwrite_a=1)  # lower triangle only
    if info != 0:
        return 1e10, np.zeros_like(theta)
    resid = y - c
    alpha, _ = dpotrs(L, resid, lower=1)
    logdet = 2.0 * np.log(np.diag(L)).sum()
    u = theta[d + 1]
    loc, scale = NOISE_PRIOR
    # log density of LogNormal(loc, scale) at noise = e^u
    log_prior = -u - math.log(scale) - 0.5 * math.log(2 * math.pi) - 0.5 * ((u - loc) / scale) ** 2
    value = 0.5 * resid @ alpha + 0.5 * logdet + 0.5 * n * math.log(2 * math.pi) - log_prior
    Kinv, _ = dpotri(L, lower=1)  # lower triangle of K^-1
    w = Kinv.take(lo) - np.outer(alpha, alpha).take(lo)  # K^-1 - a a^T below the diagonal
    w_diag = np.diag(Kinv) - alpha * alpha
    grad = np.empty_like(theta)
    # dK / d log l_j = s2 * g(r) * (x_j - x'_j)^2 / l_j^2 (zero on the diagonal); each pair twice
    grad[:d] = s2 * (sq @ (w * g)) * inv_l2
    grad[d] = s2 * (w @ m) + 0.5 * s2 * w_diag.sum()
    grad[d + 1] = 0.5 * noise * w_diag.sum() + 1.0 + (u - loc) / scale**2
    grad[d + 2] = -alpha.sum()
    return value / n, grad / n


def fit_numpy_gp(X: np.ndarray, y: np.ndarray, maxiter: int = 200) -> NumpyGP:
    """Fit the GP by type-II MAP with L-BFGS-B, with one BLAS thread (see the module notes).

    Args:
        X: inputs in the unit cube, shape ``(n, d)``.
        y: targets (minimised, native units), shape ``(n,)``.
        maxiter: L-BFGS-B iterations.

    Returns:
        The fitted :class:`NumpyGP`.

    Raises:
        numpy.linalg.LinAlgError: if the final covariance is not positive definite.
    """
    with one_blas_thread():
        return _fit(np.asarray(X, dtype=float), np.asarray(y, dtype=float).reshape(-1), maxiter)


def _fit(X: np.ndarray, y: np.ndarray, maxiter: int) -> NumpyGP:
    n, d = X.shape
    y_mean = float(y.mean())
    y_std = float(y.std(ddof=1)) if n > 1 else 1.0
    if not math.isfinite(y_std) or y_std <= 0:
        y_std = 1.0
    ys = (y - y_mean) / y_std
    rows, cols = np.tril_indices(n, -1)
    pairs = (rows, cols, rows * n + cols)
    diff = X[rows] - X[cols]  # (P, d)
    sq = np.ascontiguousarray((diff * diff).T)  # (d, P)
    loc, scale = NOISE_PRIOR
    theta0 = np.concatenate(
        [
            np.full(d, math.log(_INIT_SOFTPLUS0)),
            [math.log(_INIT_SOFTPLUS0), loc - scale**2, 0.0],  # noise at the prior's mode
        ]
    )
    bounds = [_LOG_BOUNDS] * (d + 1) + [(math.log(NOISE_FLOOR), math.log(10.0)), (None, None)]
    res = minimize(
        _neg_log_posterior,
        theta0,
        args=(sq, ys, pairs),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": maxiter},
    )
    theta = res.x
    ls = np.exp(theta[:d])
    s2, noise, c = math.exp(theta[d]), math.exp(theta[d + 1]), float(theta[d + 2])
    K = np.empty((n, n))
    K[rows, cols] = s2 * _matern52(np.sqrt(np.maximum((1.0 / (ls * ls)) @ sq, 0.0)))[0]
    K[cols, rows] = K[rows, cols]
    K[np.diag_indices(n)] = s2 + noise
    chol = np.linalg.cholesky(K)
    alpha = cho_solve((chol, True), ys - c)
    return NumpyGP(X, ls, s2, noise, c, y_mean, y_std, chol, alpha, float(res.fun))
