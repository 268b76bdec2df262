"""The Bayesian-optimisation loop: Sobol initial design, then LogEI on a Matérn-5/2 GP.

Every suggestion is a pure function of ``(seed, iteration, evaluated history)``: the Sobol design
is keyed by the seed, the GP is refit from scratch on the history, and every random draw of the
optimiser is seeded from ``(seed, iteration)``. A run interrupted after any record can therefore
be continued from its stored trajectory and produce the same configurations as an uninterrupted
run. Stopping rules never draw from this stream (Makarova et al., 2022; ``DESIGN.md`` §1), so a
full-budget trajectory contains every prefix an online run with any rule would have seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoterm.space import Config, SearchSpace


@dataclass
class Suggestion:
    """A proposed configuration and what the loop knew when proposing it.

    Attributes:
        config: native hyperparameters.
        x: its unit-cube encoding, shape ``(d,)``.
        source: ``"sobol"`` (initial design), ``"logei"``, or ``"fallback"`` (the acquisition
            maximiser was already evaluated; the best unseen Sobol candidate was taken).
        info: ``ei_max``, ``pi_max`` (over the space, native units), ``acq_value``, ``gp``
            (fitted hyperparameters), ``fit_seconds``, ``acq_seconds``; empty for Sobol points.
        optimizer_seconds: wall time of GP fit plus acquisition optimisation.
        fit: ``(X, y, gp)``: the points the GP was fitted on, shape ``(n, d)`` and ``(n,)``, and
            the fitted :class:`autoterm.bo.numpy_gp.NumpyGP` (``None`` for Sobol points and the
            BoTorch backend); the run offers it to the stopping rules
            (:meth:`autoterm.stopping.base.StoppingRule.offer_fit`). Not stored.
    """

    config: Config
    x: np.ndarray
    source: str
    info: dict[str, Any] = field(default_factory=dict)
    optimizer_seconds: float = 0.0
    fit: tuple[np.ndarray, np.ndarray, Any] | None = field(default=None, repr=False, compare=False)


def stream_seed(seed: int, iteration: int, purpose: int = 0) -> int:
    """A 31-bit seed keyed by ``(seed, iteration, purpose)`` (NumPy ``SeedSequence``)."""
    ss = np.random.SeedSequence([int(seed), int(iteration), int(purpose), 0xB0])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


class BayesOpt:
    """GP-EI Bayesian optimisation over a :class:`SearchSpace` (minimisation).

    Args:
        space: the search space.
        seed: the run's seed.
        n_init: size of the scrambled-Sobol initial design.
        num_restarts: restarts of the acquisition optimiser.
        raw_samples: initial candidates of the acquisition optimiser.
        signals: also maximise PI over the space (the EI maximum is the LogEI maximiser's value):
            by :func:`autoterm.bo.signals.max_pi` on the NumPy GP, or a second BoTorch
            ``optimize_acqf`` (LogPI) with the BoTorch backend.
        gp_backend: how the GP is fitted (:func:`autoterm.bo.surrogate.fit_gp`): ``"numpy"``
            (default: the same type-II MAP by :mod:`autoterm.bo.numpy_gp`, its exact posterior
            as a BoTorch model) or ``"botorch"`` (``fit_gpytorch_mll`` and the fitted
            ``SingleTaskGP``); the acquisition (BoTorch LogEI, ``optimize_acqf``) is the same.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        n_init: int = 5,
        num_restarts: int = 10,
        raw_samples: int = 512,
        signals: bool = True,
        gp_backend: str = "numpy",
    ):
        from autoterm.bo.surrogate import GP_FITTERS

        if n_init < 1:
            raise ValueError("n_init must be >= 1")
        if gp_backend not in GP_FITTERS:
            raise ValueError(f"gp_backend must be one of {GP_FITTERS}, not {gp_backend!r}")
        self.space = space
        self.seed = int(seed)
        self.n_init = int(n_init)
        self.num_restarts = int(num_restarts)
        self.raw_samples = int(raw_samples)
        self.signals = signals
        self.gp_backend = gp_backend
        # a long Sobol prefix: the first n_init points are the design, the rest are spares
        # used when snapping makes two design points coincide (small discrete spaces)
        self._design = space.sobol(max(64, 4 * n_init), seed=self.seed)

    def suggest(
        self, history: Sequence[tuple[Config, float | None]], iteration: int | None = None
    ) -> Suggestion:
        """Propose the next configuration.

        Args:
            history: ``(config, value)`` pairs in evaluation order; ``value`` is ``None`` (or
                NaN) for failed trials, which are never proposed again and not fit by the GP.
            iteration: the 0-based index of the proposal (defaults to ``len(history)``).

        Returns:
            The suggestion.
        """
        t = len(history) if iteration is None else int(iteration)
        seen = {self.space.key(c) for c, _ in history}
        ok = [(c, v) for c, v in history if v is not None and math.isfinite(v)]
        if t < self.n_init or len(ok) < 2:
            return self._design_point(t, seen)
        return self._bo_point(t, ok, seen)

    def _design_point(self, t: int, seen: set[tuple]) -> Suggestion:
        start = time.perf_counter()
        order = [t % len(self._design), *range(len(self._design))]
        for i in order:
            cfg = self.space.decode(self._design[i : i + 1])[0]
            if self.space.key(cfg) not in seen:
                x = self.space.encode([cfg])[0]
                return Suggestion(cfg, x, "sobol", {}, time.perf_counter() - start)
        # every design point taken: draw fresh Sobol points keyed by the iteration
        extra = self.space.sobol(1024, seed=stream_seed(self.seed, t, 1))
        for cfg in self.space.decode(extra):
            if self.space.key(cfg) not in seen:
                x = self.space.encode([cfg])[0]
                return Suggestion(cfg, x, "sobol", {}, time.perf_counter() - start)
        raise RuntimeError("the search space is exhausted: every configuration was evaluated")

    def _bo_point(self, t: int, ok: list[tuple[Config, float]], seen: set[tuple]) -> Suggestion:
        from autoterm.bo.acquisition import (
            best_unseen,
            log_ei,
            log_pi,
            maximize_acqf,
            safe_exp,
        )
        from autoterm.bo.signals import max_pi
        from autoterm.bo.surrogate import fit_gp, gp_hyperparameters

        start = time.perf_counter()
        X = self.space.encode([c for c, _ in ok])
        y = np.array([v for _, v in ok], dtype=float)
        model = fit_gp(X, y, seed=stream_seed(self.seed, t, 2), fitter=self.gp_backend)
        fit_s = time.perf_counter() - start
        best_f = float(y.min())
        acqf = log_ei(model, best_f)
        x, value = maximize_acqf(
            acqf,
            self.space,
            num_restarts=self.num_restarts,
            raw_samples=self.raw_samples,
            seed=stream_seed(self.seed, t, 3),
        )
        ei_max = safe_exp(value)
        source = "logei"
        cfg = self.space.decode(x[None, :])[0]
        if self.space.key(cfg) in seen:
            alt = best_unseen(
                acqf, self.space, seen, n_candidates=4096, seed=stream_seed(self.seed, t, 4)
            )
            if alt is None:
                raise RuntimeError(
                    "the search space is exhausted: every configuration was evaluated"
                )
            x, value = alt
            cfg = self.space.decode(x[None, :])[0]
            source = "fallback"
        info: dict[str, Any] = {"acq_value": value, "ei_max": ei_max}
        npgp = getattr(model, "numpy_gp", None)
        if self.signals and npgp is not None:  # the NumPy search (autoterm.bo.signals)
            info["pi_max"] = max_pi(
                npgp, best_f, self.space, seed=stream_seed(self.seed, t, 5), starts=[x]
            )
        elif self.signals:
            _, lpi = maximize_acqf(
                log_pi(model, best_f),
                self.space,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                seed=stream_seed(self.seed, t, 5),
            )
            info["pi_max"] = safe_exp(lpi)
        info["gp"] = gp_hyperparameters(model)
        info["fit_seconds"] = fit_s
        total = time.perf_counter() - start
        info["acq_seconds"] = total - fit_s
        fit = None if npgp is None else (X, y, npgp)
        return Suggestion(cfg, self.space.encode([cfg])[0], source, info, total, fit)
