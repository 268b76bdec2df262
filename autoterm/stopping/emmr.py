"""EMMR: stop when the expected minimum simple regret has stopped moving.

Ishibashi, Karasuyama, Takeuchi & Hino, "A stopping criterion for Bayesian optimization by the gap
of expected minimum simple regrets", AISTATS 2023. A follow-up of the paper's rule that compares
two consecutive GP posteriors instead of the GP with the CV noise.

At the check ``t`` (records ``0 .. t-1``; the newest successful record is ``(x_n, y_n)``), with
``p`` the GP fitted on the successful records before ``x_n`` and ``q`` the GP fitted on all of
them, and ``x_p``, ``x_q`` the evaluated points minimising each posterior mean, their Thm. 2
bounds the gap of expected minimum simple regrets by

    Delta_t = |mu_p(x_p) - mu_q(x_q)| + v + kappa_p * sqrt(KL(q || p) / 2)

* ``v``: the expected improvement of ``x_q`` over ``x_p`` under ``q``: with
  ``g = mu_q(x_q) - mu_q(x_p)`` and ``s^2 = Var_q[f(x_q) - f(x_p)]``,
  ``v = s phi(g / s) + g Phi(g / s)`` (0 when ``x_p = x_q``);
* ``kappa_p``: the UCB-LCB gap of ``p`` (the paper's regret bound with the full Srinivas
  ``beta = 2 log(d n^2 pi^2 / (6 delta))``, ``n`` = number of evaluated points, latent sigma, lcb
  minimum by Sobol points + L-BFGS-B as for :mod:`autoterm.stopping.regret_bound`);
* ``KL(q || p)``: between the posteriors of ``f`` before and after observing ``y_n``; they differ
  only through ``f(x_n)``, so it is the KL of two normals: ``p``'s posterior at ``x_n``
  ``N(m, s^2)`` and its update by ``y_n`` with ``q``'s noise ``sigma_n^2``.

Their threshold, from the noise (their "auto" setting), with ``c = sqrt(-2 log delta)`` and the
variances of ``p`` at ``x_q`` and ``x_n``:
``tau_t = c sigma_n sqrt(v_n) (sqrt(v_q) + kappa_p / 2) / (v_n + sigma_n^2)``.

Contract (:mod:`autoterm.stopping.base`): the estimate is the ratio ``Delta_t / tau_t`` and the
threshold is the knob ``r`` (their rule is ``r = 1``), so the estimates can be cached and a knob
sweep needs no GP work. Departures: both GPs are :mod:`autoterm.bo.numpy_gp` fits (theirs: GPy),
refitted at every check; the recommended point is the evaluated point with the lowest posterior
mean; failed records are skipped.
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

import numpy as np
from scipy.stats import norm

from autoterm.stopping.base import StoppingRule, constant
from autoterm.stopping.baselines import signal
from autoterm.stopping.history import History
from autoterm.stopping.regret_bound import bound_from_numpy_gp, check_seed, fingerprint

CACHE_SIGNAL = "emmr"
log = logging.getLogger(__name__)


def gaussian_update_kl(m: float, s2: float, y: float, noise: float) -> float:
    """``KL(N(m', v') || N(m, s2))`` where ``N(m', v')`` is ``N(m, s2)`` updated by ``y``.

    The posterior of ``f(x)`` before (``N(m, s2)``) and after observing ``y = f(x) + e``,
    ``e ~ N(0, noise)``: ``v' = s2 noise / (s2 + noise)``,
    ``m' = m + s2 (y - m) / (s2 + noise)``.

    Args:
        m: prior mean of ``f(x)``.
        s2: prior variance of ``f(x)``.
        y: the observation.
        noise: the noise variance.

    Returns:
        The KL divergence (nats), ``>= 0``.
    """
    s2 = max(float(s2), 1e-300)
    gain = s2 / (s2 + noise)
    v = s2 * noise / (s2 + noise)
    dm = gain * (y - m)
    r = v / s2
    return float(max(0.0, 0.5 * (r + dm * dm / s2 - 1.0 - math.log(r))))


def emmr_terms(
    X: np.ndarray,
    y: np.ndarray,
    *,
    delta: float = 0.1,
    n_sobol: int = 512,
    num_restarts: int = 2,
    seed: int = 0,
    cache: dict[Any, Any] | None = None,
) -> dict[str, float]:
    """``Delta_t``, ``tau_t`` and their parts at one check (see the module notes).

    Args:
        X: successful evaluated points in the unit cube, oldest first, shape ``(t, d)``.
        y: their objective values (minimised), shape ``(t,)``.
        delta: confidence of ``kappa`` and of the threshold.
        n_sobol: Sobol candidates of the lcb search.
        num_restarts: L-BFGS-B refinements of the lcb search.
        seed: Sobol seed (keyed by the check).
        cache: fitted GPs keyed by their data (the ``q`` of one check is the ``p`` of the next).

    Returns:
        ``delta_t``, ``tau``, ``ratio``, ``delta_mu``, ``v``, ``kappa``, ``kl``.
    """
    from autoterm.bo.numpy_gp import one_blas_thread

    with one_blas_thread():  # small matrices: see autoterm.bo.numpy_gp
        return _terms(X, y, delta, n_sobol, num_restarts, seed, cache)


def fit_key(X: np.ndarray, y: np.ndarray) -> tuple[str, int]:
    """The key of the GP fitted on ``(X, y)`` in an EMMR fit cache (see :meth:`EMMR.offer_fit`)."""
    return ("emmr", fingerprint(X, y))


def _terms(
    X: np.ndarray,
    y: np.ndarray,
    delta: float,
    n_sobol: int,
    num_restarts: int,
    seed: int,
    cache: dict[Any, Any] | None,
) -> dict[str, float]:
    from autoterm.bo.numpy_gp import fit_numpy_gp

    def fit(Xf: np.ndarray, yf: np.ndarray) -> Any:
        key = fit_key(Xf, yf)
        if cache is not None and key in cache:
            return cache[key]
        gp = fit_numpy_gp(Xf, yf)
        if cache is not None:
            cache[key] = gp
        return gp

    t, d = X.shape
    Xp, yp = X[:-1], y[:-1]
    p, q = fit(Xp, yp), fit(X, y)
    mu_p = p.predict(Xp)[0]
    mu_q = q.predict(X)[0]
    ip, iq = int(np.argmin(mu_p)), int(np.argmin(mu_q))
    delta_mu = abs(float(mu_p[ip] - mu_q[iq]))
    if ip == iq:
        v = 0.0
    else:
        m2, c2 = q.predict_cov(X[[iq, ip]])
        g = float(m2[0] - m2[1])
        s2 = float(c2[0, 0] + c2[1, 1] - 2.0 * c2[0, 1])
        if s2 <= 0:
            v = max(g, 0.0)
        else:
            s = math.sqrt(s2)
            v = s * float(norm.pdf(g / s)) + g * float(norm.cdf(g / s))
    beta = 2.0 * math.log(d * t**2 * math.pi**2 / (6.0 * delta))
    ucb_min, lcb_min = bound_from_numpy_gp(
        p, Xp, beta, n_sobol=n_sobol, num_restarts=num_restarts, seed=seed
    )
    kappa = max(ucb_min - lcb_min, 0.0)
    noise = q.noise_variance
    m_n, c_n = p.predict_cov(X[[iq, t - 1]])
    kl = gaussian_update_kl(float(m_n[1]), float(c_n[1, 1]), float(y[-1]), noise)
    delta_t = delta_mu + v + kappa * math.sqrt(kl / 2.0)
    c = math.sqrt(-2.0 * math.log(delta))
    v_q, v_n = max(float(c_n[0, 0]), 0.0), max(float(c_n[1, 1]), 0.0)
    sn = math.sqrt(noise)
    tau = c * sn * math.sqrt(v_n) * (math.sqrt(v_q) + kappa / 2.0) / (v_n + noise)
    ratio = delta_t / tau if tau > 0 else math.nan
    return {
        "delta_t": delta_t,
        "tau": tau,
        "ratio": ratio,
        "delta_mu": delta_mu,
        "v": v,
        "kappa": kappa,
        "kl": kl,
    }


class EMMR(StoppingRule):
    """EMMR (Ishibashi et al., AISTATS 2023): the regret gap bound below ``r`` times its threshold.

    Estimate: ``Delta_t / tau_t`` (:func:`emmr_terms`) at every check from the warm-up, NaN on
    numerical failure (never stops); values stored as the per-record signal ``"emmr"`` are
    reused. Threshold: the knob ``r`` (their rule: ``r = 1``).

    Params:
        delta (0.1), n_sobol (512), num_restarts (2), seed (0).

    Cost: two GP fits on all points per check, one of them shared with the previous check
    (tens of milliseconds at 200 points).
    """

    name = "emmr"
    knob_name = "r"
    default_knobs: ClassVar[tuple[float, ...]] = (0.5, 1.0, 2.0)
    uses_gp = True

    def _kwargs(self) -> dict[str, Any]:
        keys = ("delta", "n_sobol", "num_restarts")
        return {k: self.params[k] for k in keys if k in self.params}

    def _at(self, h: History, t: int, cache: dict[Any, Any] | None) -> float:
        if h.X is None or t < 3:
            return math.nan
        ok = np.isfinite(h.val[:t])
        X, y = h.X[:t][ok], h.val[:t][ok]
        if len(y) < 3:
            return math.nan
        try:
            seed = check_seed(int(self.params.get("seed", 0)), t)
            return float(emmr_terms(X, y, **self._kwargs(), seed=seed, cache=cache)["ratio"])
        except Exception as exc:  # noqa: BLE001 - numerical failures never stop a run
            log.warning("emmr: no estimate at check %d (%s); not stopping there", t, exc)
            return math.nan

    def estimates(self, h: History) -> np.ndarray:
        """``Delta_t / tau_t`` at every check, shape ``(N + 1,)`` (NaN before the warm-up)."""
        out = signal(h, CACHE_SIGNAL)
        out[: min(self.warmup, len(out))] = np.nan
        cache: dict[Any, Any] = {}
        for t in range(self.warmup, len(h) + 1):
            if not np.isfinite(out[t]):
                while len(cache) > 4:
                    cache.pop(next(iter(cache)))
                out[t] = self._at(h, t, cache)
        return out

    def estimate_at(self, h: History, t: int) -> float:
        """The estimate at the single check ``t`` (reads records ``< t`` only).

        Online, consecutive checks share fits (the ``q`` of check ``t`` is the ``p`` of check
        ``t + 1``) and reuse the BO loop's own fit on the same points (:meth:`offer_fit`), so a
        check usually fits no GP at all.
        """
        if t < self.warmup:
            return math.nan
        cached = signal(h, CACHE_SIGNAL)
        if t < len(cached) and np.isfinite(cached[t]):
            return float(cached[t])
        fits = self._online_fits()
        out = self._at(h, t, fits)
        while len(fits) > 3:
            fits.pop(next(iter(fits)))
        return out

    def offer_fit(self, X: np.ndarray, y: np.ndarray, gp: Any) -> None:
        """Keep the BO loop's fit on ``(X, y)``.

        It is this rule's ``q`` at the coming check and its ``p`` at the next one (both fit every
        successful record with the same model).
        """
        fits = self._online_fits()
        fits[fit_key(np.asarray(X, dtype=float), np.asarray(y, dtype=float))] = gp
        while len(fits) > 3:
            fits.pop(next(iter(fits)))

    def _online_fits(self) -> dict[Any, Any]:
        if not hasattr(self, "_fits"):
            self._fits: dict[Any, Any] = {}
        return self._fits

    def thresholds(self, h: History, knob: float) -> np.ndarray:
        """The constant ``r``, shape ``(N + 1,)``."""
        return constant(h, float(knob))
