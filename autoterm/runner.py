"""One run: a model × dataset × seed, BO to the budget, every evaluation recorded.

The pipeline of Makarova et al. (2022) as laid out in ``DESIGN.md`` §1: load the data, fix the
splits from the seed, then alternate BO suggestion and k-fold evaluation, appending one record per
evaluation to ``trajectory.jsonl``. A finished run is a no-op when started again; an interrupted
run continues from its last complete record (the BO state is re-derived from the stored prefix).

Reliability: bad input is detected (:func:`validate`, then loading the data) before the run
directory is created; the directory is then held under an exclusive lock
(:func:`autoterm.trajectory.lock_run_dir`) for the whole run, so a second process on it refuses
instead of interleaving records.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from autoterm.trajectory import (
    DONE_MARKER,
    RUN_META,
    STOPPED,
    TRAJECTORY,
    RunDirLocked,
    TrajectoryError,
    append_record,
    improves,
    lock_run_dir,
    read_run_meta,
    read_trajectory,
    write_json_atomic,
)

log = logging.getLogger(__name__)


class RunError(ValueError):
    """A run that cannot start (one line naming the problem and the fix)."""


@dataclass
class RunSpec:
    """Everything that defines one run (the resolved config, without Hydra).

    Attributes:
        model: ``xgboost``, ``random_forest`` or ``mlp``.
        dataset: dataset name (see :func:`autoterm.data.load_dataset`).
        seed: seeds the splits, the BO design and streams, and the models.
        budget: number of evaluations, initial design included.
        folds: k of the k-fold CV.
        test_size: fraction of rows held out for testing.
        n_init: size of the Sobol initial design.
        threads: threads per model fit (``None``: all cores).
        out: the run directory (``None``: ``results_dir/runs/<model>/<dataset>/seed=<s>``).
        results_dir: root of the results tree.
        data_dirs: extra dataset directories searched before ``AUTOTERM_DATA_DIRS``.
        target: target column for file datasets.
        task: force the task type (``binary``, ``multiclass``, ``regression``).
        max_rows: subsample the dataset to at most this many rows (seeded, stratified).
        model_options: model-specific options (e.g. ``epochs`` for the MLP).
        bo: options of the BO loop (``num_restarts``, ``raw_samples``).
        log_rules: stopping rules whose estimate and thresholds are recorded at every check
            (log-only: they never end the run).
        stop: a rule that ends the run when it fires (online stopping), with ``stop_knob``
            (default: the rule's first default knob).
        warmup: first check of every rule (``None``: each rule's default, 20).
        trial_timeout: wall-time limit in seconds of one evaluation (``None``: no limit); an
            evaluation past it is recorded as failed.
    """

    model: str
    dataset: str
    seed: int = 0
    budget: int = 200
    folds: int = 10
    test_size: float = 0.2
    n_init: int = 5
    threads: int | None = None
    out: str | None = None
    results_dir: str = "results"
    data_dirs: list[str] = field(default_factory=list)
    target: str = "target"
    task: str | None = None
    max_rows: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    bo: dict[str, Any] = field(default_factory=dict)
    log_rules: list[str] = field(default_factory=list)
    stop: str | None = None
    stop_knob: float | None = None
    warmup: int | None = None
    trial_timeout: float | None = None

    def identity(self) -> dict[str, Any]:
        """The fields that must match for a run directory to be resumed.

        ``bo`` and ``model_options`` are recorded with every default filled in
        (:func:`resolve_identity`), so a later change of a default is detected on resume.
        """
        d = asdict(self)
        for k in (
            "budget",
            "threads",
            "out",
            "results_dir",
            "data_dirs",
            "log_rules",
            "stop",
            "stop_knob",
            "warmup",
            "trial_timeout",
        ):
            d.pop(k)
        return resolve_identity(d)


def resolve_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """``identity`` with the defaults of the BO loop and of the model filled in (a copy).

    Applied to new identities and to those read from older ``run.json`` files (which recorded
    only the options given), so both compare on the settings a run actually used; an older run
    is compared against today's defaults, the best that its file allows.
    """
    import inspect

    from autoterm.bo.loop import BayesOpt
    from autoterm.objectives import MODELS, get_objective

    d = dict(identity)
    sig = inspect.signature(BayesOpt.__init__).parameters
    bo_defaults = {
        k: p.default
        for k, p in sig.items()
        if k not in ("self", "space", "seed", "n_init") and p.default is not inspect.Parameter.empty
    }
    d["bo"] = {**bo_defaults, **dict(d.get("bo") or {})}
    if d.get("model") in MODELS:
        defaults = get_objective(str(d["model"])).option_defaults
        d["model_options"] = {**defaults, **dict(d.get("model_options") or {})}
    return d


def dataset_slug(name: str) -> str:
    """A filesystem-safe name for a dataset (``openml:32`` → ``openml-32``)."""
    if name.startswith("file:"):
        return Path(name[5:]).name.split(".")[0]
    return name.replace(":", "-").replace("/", "_")


def run_dir_for(spec: RunSpec) -> Path:
    """The run directory of ``spec``."""
    if spec.out:
        return Path(spec.out)
    return (
        Path(spec.results_dir)
        / "runs"
        / spec.model
        / dataset_slug(spec.dataset)
        / f"seed={spec.seed}"
    )


def default_threads() -> int:
    """All cores of this machine (respecting the process's CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def validate(spec: RunSpec, *, load_data: bool = False) -> None:
    """Check a spec before anything is written.

    Args:
        spec: the run's specification.
        load_data: also load the dataset and draw the splits, which catches what a file's header
            cannot show (a single-class or non-numeric regression target, an all-missing
            feature, fewer rows than folds, an unreadable body). :func:`run` does this itself
            before creating the run directory; the command line asks for it up front.

    Raises:
        RunError: one line naming the problem and the fix.
    """
    from autoterm.objectives import MODELS

    if spec.model not in MODELS:
        raise RunError(f"unknown model {spec.model!r}; choose one of: {', '.join(MODELS)}")
    if spec.folds < 2:
        raise RunError(f"folds must be >= 2 (got {spec.folds}); pass --folds 2 or more")
    if spec.trial_timeout is not None and not spec.trial_timeout > 0:
        raise RunError(
            f"trial_timeout must be > 0 seconds (got {spec.trial_timeout}); "
            "set trial_timeout=SECONDS or null for no limit"
        )
    if spec.n_init < 1:
        raise RunError(f"bo.n_init must be >= 1 (got {spec.n_init})")
    if spec.budget < spec.n_init:
        raise RunError(
            f"budget {spec.budget} is smaller than the initial design "
            f"(bo.n_init={spec.n_init}); raise --budget or lower bo.n_init"
        )
    from autoterm.stopping import RULES

    for r in [*spec.log_rules, *([spec.stop] if spec.stop else [])]:
        if r not in RULES:
            raise RunError(f"unknown stopping rule {r!r}; choose one of: {', '.join(RULES)}")
    if not 0.0 < spec.test_size < 1.0:
        raise RunError(f"test_size must be in (0, 1) (got {spec.test_size})")
    from autoterm.data import DatasetError, check_dataset

    try:
        check_dataset(spec.dataset, data_dirs=_data_dirs(spec), target=spec.target)
    except DatasetError as exc:
        raise RunError(str(exc)) from exc
    if load_data:
        _load_data(spec)


def _load_data(spec: RunSpec) -> tuple[Any, Any]:
    """The dataset and its splits (:class:`RunError` for data that cannot be used)."""
    from autoterm.data import DatasetError, load_dataset, make_splits

    try:
        ds = load_dataset(
            spec.dataset,
            data_dirs=_data_dirs(spec),
            target=spec.target,
            task=spec.task,
            max_rows=spec.max_rows,
            seed=spec.seed,
        )
        splits = make_splits(
            ds.y, ds.task, test_size=spec.test_size, n_folds=spec.folds, seed=spec.seed
        )
    except DatasetError as exc:
        raise RunError(str(exc)) from exc
    return ds, splits


def _data_dirs(spec: RunSpec) -> list[Path]:
    from autoterm.data import resolve_data_dirs

    return resolve_data_dirs(spec.data_dirs)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in (
        "autoterm",
        "numpy",
        "scikit-learn",
        "xgboost-cpu",
        "torch",
        "botorch",
        "gpytorch",
        "pandas",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class RunResult:
    """What :func:`run` did: the directory, the number of records, and whether it was a no-op."""

    run_dir: Path
    n_records: int
    skipped: bool
    stopped_by: dict[str, Any] | None = None


def run(spec: RunSpec) -> RunResult:
    """Run (or continue) one BO run and write its record.

    Args:
        spec: the run's specification.

    Returns:
        The run directory and how many records it holds.

    Raises:
        RunError: bad input (detected before the run directory is created), a run directory
            that holds another run, is corrupt, or is in use by another process.
    """
    validate(spec)
    run_dir = run_dir_for(spec)
    done = _existing(spec, run_dir, extend=False)  # read-only: a finished run loads no data
    if done is not None:
        return done

    from autoterm.data import DatasetError, prepare
    from autoterm.objectives import get_objective

    cls = get_objective(spec.model)
    ds, splits = _load_data(spec)
    try:
        data = prepare(ds, splits, cls.preprocessing)
    except DatasetError as exc:
        raise RunError(str(exc)) from exc

    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with lock_run_dir(run_dir):
            return _run_locked(spec, run_dir, cls, ds, splits, data)
    except RunDirLocked as exc:
        raise RunError(str(exc)) from None
    except TrajectoryError as exc:
        raise RunError(str(exc)) from exc


def _existing(spec: RunSpec, run_dir: Path, *, extend: bool) -> RunResult | None:
    """What the run directory already holds: a no-op result when the run is finished.

    Args:
        spec: the run's specification.
        run_dir: its directory (may not exist).
        extend: remove the completion marker of a run finished with a smaller budget (only
            under the lock).

    Raises:
        RunError: the directory holds another run or its files are corrupt.
    """
    try:
        meta_old = read_run_meta(run_dir)
        old_id = None if meta_old is None else meta_old.get("identity")
        if meta_old is not None and (
            not isinstance(old_id, dict) or resolve_identity(old_id) != spec.identity()
        ):
            raise RunError(
                f"{run_dir} holds a different run (its run.json differs); "
                "choose another --out or delete that directory"
            )
        if not (run_dir / DONE_MARKER).exists():
            return None
        n = len(read_trajectory(run_dir / TRAJECTORY))
    except TrajectoryError as exc:
        raise RunError(str(exc)) from exc
    if n >= spec.budget or (run_dir / STOPPED).exists():
        log.info("%s: already complete (%d evaluations); nothing to do", run_dir, n)
        return RunResult(run_dir, n, skipped=True)
    if extend:
        (run_dir / DONE_MARKER).unlink()  # a larger budget extends a finished run
    return None


def _run_locked(
    spec: RunSpec, run_dir: Path, cls: Any, ds: Any, splits: Any, data: Any
) -> RunResult:
    """The body of :func:`run`, with the run directory's lock held."""
    from autoterm.bo.loop import BayesOpt

    done = _existing(spec, run_dir, extend=True)  # again: another process may have finished it
    if done is not None:
        return done
    for name in (RUN_META, STOPPED):  # temporary files of an atomic write cut short by a kill
        for tmp in run_dir.glob(f".{name}.*"):
            tmp.unlink(missing_ok=True)
    meta_old = read_run_meta(run_dir)
    threads = spec.threads or default_threads()
    objective = cls(data, threads=threads, seed=spec.seed, **spec.model_options)
    _limit_threads(threads)
    bo = BayesOpt(objective.space, seed=spec.seed, n_init=spec.n_init, **spec.bo)

    n_train, n_test = len(splits.train_idx), len(splits.test_idx)
    meta = {
        "identity": spec.identity(),
        "spec": asdict(spec),
        "model": spec.model,
        "dataset": spec.dataset,
        "dataset_slug": dataset_slug(spec.dataset),
        "seed": spec.seed,
        "budget": spec.budget,
        "task": ds.task,
        "n_classes": data.n_classes,
        "metric": "rmse" if ds.task == "regression" else "error",
        "direction": "minimize",
        "dataset_fingerprint": ds.fingerprint,
        "dataset_source": ds.source,
        "n_rows": int(len(ds.y)),
        "n_features": int(ds.X.shape[1]),
        "n_encoded_features": len(data.feature_names),
        "split": {
            "n_train": n_train,
            "n_test": n_test,
            "folds": spec.folds,
            "fold_valid_sizes": [len(v) for _, v in splits.folds],
            # Nadeau & Bengio (2003) correction ratio used by the paper's threshold
            "n_test_over_n_train": 1.0 / (spec.folds - 1),
        },
        "space": objective.space.to_list(),
        "threads": threads,
        "versions": _versions(),
        "created": (meta_old or {}).get("created", _now()),
    }
    write_json_atomic(run_dir / RUN_META, meta)

    traj_path = run_dir / TRAJECTORY
    records = read_trajectory(traj_path, repair=True)
    if records:
        log.info("%s: resuming after %d of %d evaluations", run_dir, len(records), spec.budget)
    history = [(r["config"], r["val_score"] if r["status"] == "ok" else None) for r in records]
    best = _incumbent(records)
    elapsed = sum(r["eval_seconds"] + r["optimizer_seconds"] for r in records)
    wall0 = time.perf_counter()
    monitor = _Monitor(spec, meta)
    stopped = None
    for t in range(len(records), spec.budget):
        sug = bo.suggest(history, t)
        if sug.fit is not None:
            monitor.offer_fit(*sug.fit)
        checks, stopped = monitor.check(records, t, sug.info)
        if stopped is not None:
            write_json_atomic(run_dir / STOPPED, {**stopped, "time": _now()})
            log.info(
                "%s: stopped by %s (knob %s) after %d evaluations: estimate %.4g < threshold %.4g",
                run_dir,
                stopped["rule"],
                stopped["knob"],
                t,
                stopped["estimate"],
                stopped["threshold"],
            )
            break
        res = objective.evaluate(sug.config, iteration=t, timeout=spec.trial_timeout)
        elapsed += res.eval_seconds + sug.optimizer_seconds
        rec: dict[str, Any] = {
            "iteration": t,
            "config": sug.config,
            **{k: v for k, v in res.to_dict().items() if k != "extra"},
            "optimizer_seconds": sug.optimizer_seconds,
            "source": sug.source,
            "signals": {
                **{k: sug.info[k] for k in ("ei_max", "pi_max", "acq_value") if k in sug.info},
                **{name: c["estimate"] for name, c in checks.items()},
            },
            "stopping": checks,
            "gp": sug.info.get("gp"),
            "fit_seconds": sug.info.get("fit_seconds"),
            "acq_seconds": sug.info.get("acq_seconds"),
            "elapsed_seconds": elapsed,
            "timestamp": _now(),
        }
        if res.status != "ok":
            log.warning("iteration %d failed: %s", t, res.error)
            rec["traceback"] = res.extra.get("traceback")
        if res.status == "ok" and improves(res.val_score, best and best["val_score"]):
            best = {"iteration": t, "val_score": res.val_score, "test_score": res.test_score}
        rec["incumbent_iteration"] = best["iteration"] if best else None
        rec["incumbent_val"] = best["val_score"] if best else None
        rec["incumbent_test"] = best["test_score"] if best else None
        append_record(traj_path, rec)
        records.append(rec)
        history.append((sug.config, res.val_score if res.status == "ok" else None))
        _progress(spec, t, res, best, time.perf_counter() - wall0)
    (run_dir / DONE_MARKER).write_text(_now() + "\n")
    n = len(records)
    log.info("%s: complete (%d evaluations)", run_dir, n)
    return RunResult(run_dir, n, skipped=False, stopped_by=stopped)


class _Monitor:
    """Computes the configured rules at every check, as replay would on the full run.

    The check at ``t`` sees records ``0 .. t-1`` and the loop's signals of proposal ``t`` (the
    convention of :mod:`autoterm.stopping.history`), so an online stop at ``t`` is exactly
    where replay of the full-budget run says the rule stops.
    """

    def __init__(self, spec: RunSpec, meta: dict[str, Any]):
        from autoterm.stopping import make_rule

        self.meta = meta
        names = list(dict.fromkeys([*spec.log_rules, *([spec.stop] if spec.stop else [])]))
        kw = {} if spec.warmup is None else {"warmup": int(spec.warmup)}
        self.rules = {n: make_rule(n, **kw) for n in names}
        self.stop = spec.stop
        self.stop_knob = math.nan
        if spec.stop:
            r = self.rules[spec.stop]
            knob = spec.stop_knob if spec.stop_knob is not None else r.default_knobs[0]
            self.stop_knob = float(knob)

    def offer_fit(self, X: np.ndarray, y: np.ndarray, gp: Any) -> None:
        """Hand the BO loop's fresh GP fit to every rule (reused only on identical data)."""
        for rule in self.rules.values():
            rule.offer_fit(X, y, gp)

    def check(
        self, records: list[dict[str, Any]], t: int, info: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Estimates and thresholds of every rule at check ``t``; the stop, if one fires."""
        from autoterm.stopping import history_from_records

        due = {n: r for n, r in self.rules.items() if t >= r.warmup}
        if not due:
            return {}, None
        h = history_from_records(records, self.meta)
        # the loop's signals of proposal t belong to the check at t
        for k in ("ei_max", "pi_max"):
            arr = h.signals.get(k, np.full(len(h), np.nan))
            h.signals[k] = np.append(arr, info.get(k, np.nan))
        out: dict[str, Any] = {}
        stop = None
        for name, rule in due.items():
            try:
                est = float(rule.estimate_at(h, t))
                knobs = list(rule.default_knobs)
                if name == self.stop and self.stop_knob not in knobs:
                    knobs.append(self.stop_knob)
                thr = {k: float(rule.thresholds(h, k)[t]) for k in knobs}
            except Exception as exc:  # a rule never crashes a run: "do not stop" + a warning
                log.warning("rule %s failed at check %d: %s", name, t, exc)
                out[name] = {"estimate": None, "thresholds": {}, "warning": str(exc)}
                continue
            out[name] = {"estimate": est, "thresholds": {str(k): v for k, v in thr.items()}}
            if name == self.stop and math.isfinite(est) and est < thr[self.stop_knob]:
                stop = {
                    "rule": name,
                    "knob": self.stop_knob,
                    "stop_iter": t,
                    "estimate": est,
                    "threshold": thr[self.stop_knob],
                }
        return out, stop


def _limit_threads(threads: int) -> None:
    """Give torch (GP fits, the MLP) the same thread budget as the models: no oversubscription."""
    import torch

    torch.set_num_threads(threads)


def _incumbent(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    best = None
    for r in records:
        if r["status"] == "ok" and improves(r["val_score"], best and best["val_score"]):
            best = {
                "iteration": r["iteration"],
                "val_score": r["val_score"],
                "test_score": r["test_score"],
            }
    return best


def _progress(spec: RunSpec, t: int, res: Any, best: dict | None, wall: float) -> None:
    inc = "no successful evaluation yet"
    if best:
        b = best
        inc = f"best val {b['val_score']:.4f} test {b['test_score']:.4f} (it {b['iteration']})"

    val = f"{res.val_score:.4f}" if res.status == "ok" else "FAILED"
    log.info(
        "%s/%s seed=%d  it %d/%d  val %s  %s  %.1fs",
        spec.model,
        dataset_slug(spec.dataset),
        spec.seed,
        t + 1,
        spec.budget,
        val,
        inc,
        wall,
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
