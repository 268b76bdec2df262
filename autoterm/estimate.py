"""Estimate the wall time of a sweep from a few measured evaluations and BO steps.

A sweep is ``runs`` model × dataset × seed runs of ``budget`` evaluations each. One run costs,
in CPU seconds on one thread (what a sweep job gets):

``budget × f_eval × eval + (budget − n_init) × f_bo × bo_step + checks × rule_check``

where ``eval`` is one k-fold evaluation plus the test refit at the sweep's data size (the mean
over a few Sobol configurations of the model's space: the space spans cheap and expensive
models, so one configuration would mislead), ``bo_step`` one GP fit plus acquisition search at
the run's mid-point history size, ``rule_check`` the stopping rules logged at each check from
the warm-up on (the paper's regret bound: one NumPy GP fit), and ``f_eval``, ``f_bo`` the
per-model calibration of those proxies against real runs (:data:`BO_EVAL_FACTOR`,
:data:`BO_STEP_FACTOR`). A sweep on ``jobs`` parallel jobs then takes about
``max(sum / jobs, longest run)`` (longest-first list scheduling).

The measurements use synthetic objective values for the BO and rule timings (the GP's cost
depends on the number of points and dimensions, hardly on the values) and the real data for the
evaluations. They are as good as the machine is quiet: another process on the cores inflates
them.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from autoterm.runner import RunSpec, _limit_threads, _load_data, dataset_slug

log = logging.getLogger(__name__)

PROCESS_OVERHEAD_S = 5.0
"""Start-up of one sweep job (interpreter, imports, data loading), measured ~3-6 s."""

BO_EVAL_FACTOR = {"xgboost": 7.0, "random_forest": 10.0, "mlp": 3.5}
"""Mean evaluation in a BO run ÷ mean over Sobol configurations, per model.

BO soon settles on the expensive end of the spaces (hundreds of boosting rounds, 64 trees, wide
MLPs), while Sobol points spread over them log-uniformly. Measured on real ``laptop``-sized runs
(2000 rows, 5 folds, budget 60; satimage and diamonds, 2026-12-04, 2 cores):
XGBoost 6.3-8.2, random forest 9.4-11, MLP 2.3-4.5.
"""
BO_STEP_FACTOR = {"xgboost": 1.5, "random_forest": 3.0, "mlp": 3.0}
"""Mean BO step over a run ÷ the step timed on synthetic values at mid-run, per model (same
runs): real objective values make harder GP fits (the MLP's often needs all BoTorch's retries)."""


@dataclass
class EvalTiming:
    """One model × dataset at the sweep's data size.

    Attributes:
        model: model name.
        dataset: dataset slug.
        n_rows: rows after ``max_rows``.
        n_train: rows of the training part (the folds split it).
        seconds: per Sobol configuration, one full evaluation (k folds + test refit).
        errors: the errors of the evaluations that failed (their time is not representative).
    """

    model: str
    dataset: str
    n_rows: int
    n_train: int
    seconds: list[float]
    errors: list[str] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """Mean seconds per evaluation."""
        return statistics.fmean(self.seconds)


@dataclass
class SweepEstimate:
    """Measured unit costs and the resulting CPU and wall time of a sweep.

    Attributes:
        evals: one :class:`EvalTiming` per model × dataset.
        bo_step: seconds of one BO proposal per model (mid-run history size).
        rule_check: seconds of one check of the logged rules per model.
        runs: the sweep's runs.
        jobs: parallel jobs.
    """

    evals: dict[tuple[str, str], EvalTiming] = field(default_factory=dict)
    bo_step: dict[str, float] = field(default_factory=dict)
    rule_check: dict[str, float] = field(default_factory=dict)
    runs: list[RunSpec] = field(default_factory=list)
    jobs: int = 1

    def run_seconds(self, spec: RunSpec) -> float:
        """Predicted CPU seconds of one run."""
        ev = self.evals[(spec.model, dataset_slug(spec.dataset))].mean
        n_bo = max(0, spec.budget - spec.n_init)
        warmup = 20 if spec.warmup is None else int(spec.warmup)
        checks = max(0, spec.budget - warmup) if spec.log_rules else 0
        return (
            PROCESS_OVERHEAD_S
            + spec.budget * ev * BO_EVAL_FACTOR.get(spec.model, 1.0)
            + n_bo * self.bo_step[spec.model] * BO_STEP_FACTOR.get(spec.model, 1.0)
            + checks * self.rule_check.get(spec.model, 0.0)
        )

    @property
    def cpu_seconds(self) -> float:
        """Predicted CPU seconds of the whole sweep (one thread per run)."""
        return sum(self.run_seconds(s) for s in self.runs)

    @property
    def wall_seconds(self) -> float:
        """Predicted wall time on ``jobs`` parallel jobs (longest-first list scheduling)."""
        loads = [0.0] * max(1, self.jobs)
        for t in sorted((self.run_seconds(s) for s in self.runs), reverse=True):
            loads[loads.index(min(loads))] += t
        return max(loads)

    def table(self) -> list[dict[str, object]]:
        """One row per model × dataset: rows, seconds per evaluation, per run, runs."""
        rows = []
        for (model, ds), ev in sorted(self.evals.items()):
            specs = [s for s in self.runs if (s.model, dataset_slug(s.dataset)) == (model, ds)]
            per_run = self.run_seconds(specs[0]) if specs else math.nan
            rows.append(
                {
                    "model": model,
                    "dataset": ds,
                    "n_rows": ev.n_rows,
                    "n_train": ev.n_train,
                    "eval_s": ev.mean,
                    "eval_s_max": max(ev.seconds),
                    "bo_step_s": self.bo_step[model],
                    "rule_check_s": self.rule_check.get(model, 0.0),
                    "run_s": per_run,
                    "runs": len(specs),
                    "failed": len(ev.errors),
                    "cpu_s": per_run * len(specs),
                }
            )
        return rows


def time_evaluations(spec: RunSpec, n_configs: int = 3) -> EvalTiming:
    """Time full evaluations of ``n_configs`` Sobol configurations of ``spec``'s model.

    Args:
        spec: the run (model, dataset, ``max_rows``, folds, seed, threads, model options).
        n_configs: configurations to evaluate (the first points of the run's Sobol design).

    Returns:
        The timing.
    """
    from autoterm.data import prepare
    from autoterm.objectives import get_objective

    cls = get_objective(spec.model)
    ds, splits = _load_data(spec)  # exactly as the run loads them
    data = prepare(ds, splits, cls.preprocessing)
    threads = spec.threads or 1
    _limit_threads(threads)
    objective = cls(data, threads=threads, seed=spec.seed, **spec.model_options)
    configs = objective.space.decode(objective.space.sobol(n_configs, seed=spec.seed))
    seconds, errors = [], []
    for i, cfg in enumerate(configs):
        res = objective.evaluate(cfg, iteration=i)
        seconds.append(res.eval_seconds)
        if res.status != "ok":
            errors.append(str(res.error))
        log.debug("%s/%s config %d: %.2fs (%s)", spec.model, spec.dataset, i, seconds[-1], cfg)
    return EvalTiming(
        spec.model, dataset_slug(spec.dataset), len(ds.y), len(splits.train_idx), seconds, errors
    )


def _synthetic_history(spec: RunSpec, n: int) -> tuple[list, np.ndarray, np.ndarray]:
    """``n`` Sobol configurations of the model's space with a smooth synthetic objective."""
    from autoterm.objectives import get_objective

    space = get_objective(spec.model).space
    U = space.sobol(n, seed=spec.seed + 1)
    configs = space.decode(U)
    X = space.encode(configs)
    rng = np.random.default_rng(spec.seed)
    y = np.sin(3 * X).sum(axis=1) + 0.05 * rng.standard_normal(n)
    return configs, X, y


def time_bo_step(spec: RunSpec, n_points: int | None = None, repeats: int = 2) -> float:
    """Median seconds of one BO proposal with ``n_points`` evaluated points (default: mid-run).

    Args:
        spec: the run (its model's space, ``bo`` options, threads).
        n_points: history size (default ``(n_init + budget) // 2``).
        repeats: proposals timed (the first also pays for lazy imports: one more is run first).
    """
    from autoterm.bo.loop import BayesOpt
    from autoterm.objectives import get_objective

    n = n_points or max(spec.n_init + 1, (spec.n_init + spec.budget) // 2)
    configs, _, y = _synthetic_history(spec, n)
    _limit_threads(spec.threads or 1)
    bo = BayesOpt(get_objective(spec.model).space, seed=spec.seed, n_init=spec.n_init, **spec.bo)
    history = list(zip(configs, y.tolist(), strict=True))
    times = []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        bo.suggest(history, n + r)
        if r:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_rule_check(spec: RunSpec, n_points: int | None = None, repeats: int = 3) -> float:
    """Median seconds of one check of the GP-based rules logged by ``spec`` (0 when none is).

    The cheap rules (conv, ei, pi, iqr, plateau) cost microseconds; the paper's regret bound
    fits a GP on the best half of the points at every check.
    """
    from autoterm.stopping import make_rule
    from autoterm.stopping.regret_bound import regret_bound

    gp_rules = [r for r in spec.log_rules if make_rule(r).uses_gp]
    if not gp_rules:
        return 0.0
    n = n_points or max(21, (20 + spec.budget) // 2)
    _, X, y = _synthetic_history(spec, n)
    _limit_threads(spec.threads or 1)
    regret_bound(X, y, seed=spec.seed, check=n)  # warm-up: lazy imports
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        regret_bound(X, y, seed=spec.seed + r + 1, check=n + r)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * len(gp_rules)


def estimate_sweep(
    runs: Sequence[RunSpec],
    *,
    jobs: int = 1,
    n_configs: int = 3,
    on_timing: Callable[[str], None] | None = None,
) -> SweepEstimate:
    """Measure one evaluation per model × dataset and the BO/rule costs per model.

    Args:
        runs: the sweep's runs (one thread each, as in a sweep job).
        jobs: parallel jobs of the sweep.
        n_configs: Sobol configurations timed per model × dataset.
        on_timing: called with a line per measurement (progress).

    Returns:
        The estimate.
    """
    from threadpoolctl import threadpool_limits

    est = SweepEstimate(runs=[replace(s, threads=s.threads or 1) for s in runs], jobs=jobs)
    say = on_timing or (lambda msg: log.info("%s", msg))
    with threadpool_limits(limits=1):
        _measure(est, n_configs, say)
    return est


def _measure(est: SweepEstimate, n_configs: int, say: Callable[[str], None]) -> None:
    """Fill ``est`` with the measured unit costs (one thread: what a sweep job gets)."""
    seen: dict[tuple[str, str], RunSpec] = {}
    for s in est.runs:
        seen.setdefault((s.model, dataset_slug(s.dataset)), s)
    for key, s in seen.items():
        ev = time_evaluations(s, n_configs)
        est.evals[key] = ev
        say(
            f"{s.model}/{key[1]}: {ev.n_rows} rows, {s.folds} folds: "
            f"{ev.mean:.2f}s per evaluation (max {max(ev.seconds):.2f}s)"
        )
        if ev.errors:
            log.warning(
                "%s/%s: %d of %d evaluations failed, the estimate is too low there: %s",
                s.model,
                key[1],
                len(ev.errors),
                len(ev.seconds),
                ev.errors[0],
            )
    models: dict[str, RunSpec] = {}
    for s in est.runs:
        models.setdefault(s.model, s)
    for m, s in models.items():
        est.bo_step[m] = time_bo_step(s)
        est.rule_check[m] = time_rule_check(s)
        say(f"{m}: BO step {est.bo_step[m]:.2f}s, rule check {est.rule_check[m]:.3f}s")
