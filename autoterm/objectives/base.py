"""The objective contract: a configuration in, per-fold CV scores, test score and timings out.

One evaluation (Makarova et al., 2022, Sec. 5 and the authors' runs in ``../shared/paper-runs``):
train on each of the k training folds and score its held-out fold (the k ``fold_scores``, whose
mean is the validation score BO minimises and whose spread gives the statistical error of the
stopping rule), record the mean training-fold score, and score the held-out test set with a model
refit on the whole training part (train = all k folds). The refit is the default because the
test score should describe the model a user would deploy after tuning; the authors' files do not
say which they did.

Scores are always *minimised*: classification error (1 - accuracy) or RMSE for regression.

An evaluation never raises on a model problem: an exception, a non-finite score or running past
the time limit (``timeout``) gives a result with ``status = "failed"`` and the reason in
``error``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from autoterm.data.prepare import PreparedData
from autoterm.space import Config, SearchSpace

log = logging.getLogger(__name__)


class TrialTimeout(TimeoutError):
    """An evaluation ran past its time limit (``trial_timeout``)."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[Callable[[], None]]:
    """Raise :class:`TrialTimeout` in the block once ``seconds`` of wall time have passed.

    In the main thread a ``SIGALRM`` timer interrupts the block: Python code stops at once,
    a native call (one tree, one boosting round, one batch) when it returns to Python. Elsewhere
    (no signals in other threads) only the yielded checkpoint, called between folds, enforces the
    limit.

    Args:
        seconds: the limit (``None``: no limit).

    Yields:
        A checkpoint that raises :class:`TrialTimeout` once the limit has passed.
    """
    if seconds is None:
        yield lambda: None
        return
    seconds = float(seconds)
    deadline = time.monotonic() + seconds
    message = f"evaluation exceeded trial_timeout={seconds:g} s"

    def checkpoint() -> None:
        if time.monotonic() >= deadline:
            raise TrialTimeout(message)

    def on_alarm(signum: int, frame: Any) -> None:
        raise TrialTimeout(message)

    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not alarm:
        log.debug("trial_timeout outside the main thread: checked between folds only")
    old = signal.signal(signal.SIGALRM, on_alarm) if alarm else None
    if alarm:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield checkpoint
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


class FitJob(NamedTuple):
    """One model to train in an evaluation: a CV fold or the test refit.

    Attributes:
        X_train: training features (the prepared type of the objective), ``n_train`` rows.
        y_train: targets, shape ``(n_train,)``.
        X_eval: feature blocks to predict after training.
        seed: seed of this model's randomness.
    """

    X_train: Any
    y_train: np.ndarray
    X_eval: list[Any]
    seed: int


@dataclass
class EvalResult:
    """What one evaluation of a configuration produced.

    Attributes:
        fold_scores: the k held-out fold scores, shape ``(k,)`` as a list.
        val_score: mean of ``fold_scores`` (what BO minimises).
        test_score: score on the held-out test set of the model refit on the training part.
        train_score: mean over folds of the score on the fold's own training rows.
        eval_seconds: wall time of the whole evaluation.
        status: ``"ok"`` or ``"failed"``.
        error: the reason, when failed.
    """

    fold_scores: list[float]
    val_score: float
    test_score: float
    train_score: float
    eval_seconds: float
    status: str = "ok"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Error for classification (``1 - accuracy``), RMSE for regression (minimised).

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: targets, shape ``(n,)``.
        y_pred: predicted labels or values, shape ``(n,)``.
    """
    if task == "regression":
        return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))
    return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


class Objective(ABC):
    """A model family with its search space, evaluated by k-fold CV plus a test refit.

    Subclasses define ``name``, ``space`` (class attributes), ``preprocessing`` (the feature
    encoding they need, see :func:`autoterm.data.prepare.prepare`) and :meth:`fit_predict`.

    Args:
        data: the prepared folds and train/test arrays of one run.
        threads: number of threads the model may use.
        seed: the run's seed (model randomness derives from it and the iteration).
        options: model-specific options from the config (e.g. the MLP's epoch budget).
    """

    name: str = ""
    space: SearchSpace
    preprocessing: str = "onehot"
    option_defaults: ClassVar[dict[str, Any]] = {}
    """The value of every option that changes results when not given (recorded in a run's
    identity, so a later change of a default cannot silently alter a resumed run)."""

    def __init__(self, data: PreparedData, threads: int = 1, seed: int = 0, **options: Any):
        self.data = data
        self.task = data.task
        self.n_classes = data.n_classes
        self.threads = max(1, int(threads))
        self.seed = int(seed)
        self.options = options

    @abstractmethod
    def fit_predict(
        self, config: Config, X_train: Any, y_train: np.ndarray, X_eval: list[Any], seed: int
    ) -> list[np.ndarray]:
        """Train one model and predict on each array of ``X_eval``.

        Args:
            config: native hyperparameters.
            X_train: training features (the prepared type of this model), ``n_train`` rows.
            y_train: targets, shape ``(n_train,)``.
            X_eval: feature blocks to predict.
            seed: seed for this model's randomness.

        Returns:
            Predicted labels (classification) or values (regression), one array per block.
        """

    def evaluate(
        self, config: Config, iteration: int = 0, timeout: float | None = None
    ) -> EvalResult:
        """Run the full k-fold + test evaluation of ``config``; never raises on model errors.

        Args:
            config: native hyperparameters.
            iteration: BO iteration (model seeds derive from ``(seed, iteration, fold)``).
            timeout: wall-time limit in seconds of the whole evaluation (``None``: none); past
                it the evaluation is abandoned and recorded as failed (see :func:`time_limit`).

        Returns:
            The scores, or ``status = "failed"`` with the reason in ``error`` when the model
            raised, a score was not finite, or the time limit passed.
        """
        start = time.perf_counter()
        try:
            with time_limit(timeout) as checkpoint:
                k = len(self.data.folds)
                jobs = [
                    FitJob(
                        fold.X_train,
                        fold.y_train,
                        [fold.X_valid, fold.X_train],
                        self._model_seed(iteration, f),
                    )
                    for f, fold in enumerate(self.data.folds)
                ]
                jobs.append(
                    FitJob(
                        self.data.X_train,
                        self.data.y_train,
                        [self.data.X_test],
                        self._model_seed(iteration, k),
                    )
                )
                preds = self.fit_predict_many(config, jobs, checkpoint)
                folds = [
                    score(self.task, fold.y_valid, p[0])
                    for fold, p in zip(self.data.folds, preds[:k], strict=True)
                ]
                trains = [
                    score(self.task, fold.y_train, p[1])
                    for fold, p in zip(self.data.folds, preds[:k], strict=True)
                ]
                test = score(self.task, self.data.y_test, preds[k][0])
                checkpoint()
            if not all(math.isfinite(v) for v in [*folds, test, *trains]):
                raise FloatingPointError(
                    f"non-finite score (fold scores {folds}, test {test}, train {trains})"
                )
            return EvalResult(
                fold_scores=folds,
                val_score=float(np.mean(folds)),
                test_score=test,
                train_score=float(np.mean(trains)),
                eval_seconds=time.perf_counter() - start,
            )
        except Exception as exc:  # a failing trial is recorded, never dropped
            return EvalResult(
                fold_scores=[],
                val_score=math.nan,
                test_score=math.nan,
                train_score=math.nan,
                eval_seconds=time.perf_counter() - start,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                extra={"traceback": traceback.format_exc(limit=5)},
            )

    def fit_predict_many(
        self,
        config: Config,
        jobs: Sequence[FitJob],
        checkpoint: Callable[[], None] = lambda: None,
    ) -> list[list[np.ndarray]]:
        """Train one model per job and predict its blocks: the k folds and the test refit.

        The default trains them one after another with :meth:`fit_predict`, calling
        ``checkpoint`` after each; an objective may override it to train them together
        (the MLP's batched folds).

        Args:
            config: native hyperparameters.
            jobs: the models to train, in order.
            checkpoint: raises :class:`TrialTimeout` once the evaluation's time limit passed.

        Returns:
            Per job, the predictions of each block of its ``X_eval`` (as :meth:`fit_predict`).
        """
        out = []
        for job in jobs:
            out.append(self.fit_predict(config, job.X_train, job.y_train, job.X_eval, job.seed))
            checkpoint()
        return out

    def _model_seed(self, iteration: int, fold: int) -> int:
        """A 31-bit seed keyed by ``(run seed, iteration, fold)`` so evaluations are repeatable."""
        ss = np.random.SeedSequence([self.seed, iteration, fold])
        return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)
