from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import StandardScaler

from autoterm.data.prepare import Fold, PreparedData
from autoterm.objectives.base import FitJob, TrialTimeout
from autoterm.objectives.mlp import MLPObjective

CONFIG = {
    "n_units_1": 64,
    "n_units_2": 32,
    "dropout_1": 0.1,
    "dropout_2": 0.1,
    "activation_1": "relu",
    "activation_2": "tanh",
    "learning_rate": 1e-2,
    "batch_size": 32,
    "lr_schedule": "cosine",
}


def _std(fit: np.ndarray, *blocks: np.ndarray) -> list[np.ndarray]:
    scaler = StandardScaler().fit(fit)
    return [scaler.transform(b).astype(np.float32) for b in (fit, *blocks)]


def _prepared(task: str, n: int = 400, seed: int = 0) -> PreparedData:
    if task == "regression":
        X, y = make_regression(n_samples=n, n_features=8, noise=5.0, random_state=seed)
        y = y.astype(np.float64) + 100.0
        n_classes = None
    else:
        n_classes = 2 if task == "binary" else 3
        X, y = make_classification(
            n_samples=n,
            n_features=8,
            n_informative=4,
            n_classes=n_classes,
            n_clusters_per_class=1,
            class_sep=3.0,
            random_state=seed,
        )
        y = y.astype(np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed)
    folds = []
    for tr, va in KFold(3, shuffle=True, random_state=seed).split(X_tr):
        a, b = _std(X_tr[tr], X_tr[va])
        folds.append(Fold(X_train=a, y_train=y_tr[tr], X_valid=b, y_valid=y_tr[va]))
    A, B = _std(X_tr, X_te)
    return PreparedData(
        task=task,
        n_classes=n_classes,
        folds=folds,
        X_train=A,
        y_train=y_tr,
        X_test=B,
        y_test=y_te,
        feature_names=[f"x{i}" for i in range(X.shape[1])],
    )


@pytest.fixture(scope="module")
def clf_data() -> PreparedData:
    return _prepared("multiclass")


@pytest.fixture(scope="module")
def reg_data() -> PreparedData:
    return _prepared("regression")


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classification_evaluate(task: str) -> None:
    data = _prepared(task)
    res = MLPObjective(data, threads=1, seed=0, epochs=3).evaluate(CONFIG, iteration=0)
    assert res.status == "ok", res.error
    assert len(res.fold_scores) == 3
    assert all(0.0 <= s <= 1.0 for s in res.fold_scores)
    assert 0.0 <= res.train_score <= 1.0 and 0.0 <= res.test_score <= 1.0
    chance = 1.0 - 1.0 / data.n_classes
    assert res.val_score < 0.3 * chance
    assert res.test_score < 0.3 * chance


def test_regression_evaluate(reg_data: PreparedData) -> None:
    res = MLPObjective(reg_data, threads=1, seed=0, epochs=3).evaluate(CONFIG, iteration=0)
    assert res.status == "ok", res.error
    assert len(res.fold_scores) == 3
    assert all(math.isfinite(s) and s >= 0.0 for s in res.fold_scores)
    assert math.isfinite(res.train_score) and math.isfinite(res.test_score)
    baseline = float(np.std(reg_data.y_test))  # RMSE of predicting the mean, original units
    assert res.test_score < 0.7 * baseline


def test_deterministic(clf_data: PreparedData, reg_data: PreparedData) -> None:
    for data in (clf_data, reg_data):
        a = MLPObjective(data, seed=3, epochs=3).evaluate(CONFIG, iteration=2)
        b = MLPObjective(data, seed=3, epochs=3).evaluate(CONFIG, iteration=2)
        assert a.status == "ok"
        assert a.fold_scores == b.fold_scores
        assert (a.test_score, a.train_score) == (b.test_score, b.train_score)


def test_fit_predict_bit_identical_and_seed_dependent(reg_data: PreparedData) -> None:
    obj = MLPObjective(reg_data, epochs=2)
    fold = reg_data.folds[0]
    args = (CONFIG, fold.X_train, fold.y_train, [fold.X_valid])
    torch.manual_seed(123)
    (p1,) = obj.fit_predict(*args, seed=7)
    state = torch.get_rng_state()
    (p2,) = obj.fit_predict(*args, seed=7)
    assert torch.equal(state, torch.get_rng_state())  # global RNG untouched
    (p3,) = obj.fit_predict(*args, seed=8)
    np.testing.assert_array_equal(p1, p2)
    assert p1.dtype == np.float64 and p1.shape == fold.y_valid.shape
    assert not np.array_equal(p1, p3)


def test_space_round_trip() -> None:
    space = MLPObjective.space
    assert space.names == [
        "n_units_1",
        "n_units_2",
        "dropout_1",
        "dropout_2",
        "activation_1",
        "activation_2",
        "learning_rate",
        "batch_size",
        "lr_schedule",
    ]
    configs = space.decode(space.sobol(8, 0))
    assert space.decode(space.encode(configs)) == configs


def test_sobol_configs_run(clf_data: PreparedData) -> None:
    obj = MLPObjective(clf_data, epochs=1, max_batches_per_epoch=3)
    for config in MLPObjective.space.decode(MLPObjective.space.sobol(4, 1)):
        res = obj.evaluate(config)
        assert res.status == "ok", res.error


def test_divergence_does_not_raise(reg_data: PreparedData) -> None:
    config = {**CONFIG, "learning_rate": 1e6, "lr_schedule": "constant", "dropout_1": 0.0}
    res = MLPObjective(reg_data, epochs=3).evaluate(config)
    assert res.status in ("ok", "failed")
    if res.status == "ok":
        assert math.isfinite(res.val_score)
    else:
        assert res.error and math.isnan(res.val_score)


def test_divergence_raises_floating_point_error(reg_data: PreparedData) -> None:
    obj = MLPObjective(reg_data, epochs=3)
    X = reg_data.X_train.copy()
    X[5, 0] = np.nan  # poisons the loss of the first batch that contains row 5
    with pytest.raises(FloatingPointError):
        obj.fit_predict(CONFIG, X, reg_data.y_train, [reg_data.X_test], seed=0)


@pytest.mark.parametrize("batched", [True, False])
def test_threads_restored(clf_data: PreparedData, batched: bool) -> None:
    before = torch.get_num_threads()
    threads = 1 if before != 1 else 2
    obj = MLPObjective(clf_data, threads=threads, epochs=1, batched_folds=batched)
    seen: list[int] = []
    name = "_fit_predict_batched" if batched else "_fit_predict"
    original = getattr(obj, name)

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    setattr(obj, name, spy)
    assert obj.evaluate(CONFIG).status == "ok"
    # batched: one call for the 3 folds and the test refit; sequential: one per model
    assert len(seen) == (1 if batched else 4)
    assert all(t == threads for t in seen)
    assert torch.get_num_threads() == before


NO_DROPOUT = {**CONFIG, "dropout_1": 0.0, "dropout_2": 0.0}


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_batched_folds_equal_sequential_without_dropout(task: str) -> None:
    # without dropout every member's training is the sequential one (same init, row order,
    # batches, Adam, cosine schedule): equal up to float32 rounding
    data = _prepared(task)
    kw = {"threads": 1, "seed": 5, "epochs": 3}
    a = MLPObjective(data, batched_folds=True, **kw).evaluate(NO_DROPOUT, iteration=1)
    b = MLPObjective(data, batched_folds=False, **kw).evaluate(NO_DROPOUT, iteration=1)
    assert a.status == b.status == "ok"
    np.testing.assert_allclose(a.fold_scores, b.fold_scores, rtol=1e-4, atol=1e-12)
    assert a.test_score == pytest.approx(b.test_score, rel=1e-4)
    assert a.train_score == pytest.approx(b.train_score, rel=1e-4)


@pytest.mark.parametrize("cap", [None, 3])
def test_batched_unequal_members_equal_sequential(reg_data: PreparedData, cap: int | None) -> None:
    # members of 64, 65 (one more batch), 20 (smaller than the batch) and 280 rows: padding,
    # masked losses, idle members skipped by Adam, per-member cosine schedules
    X, y = reg_data.X_train, reg_data.y_train
    jobs = [
        FitJob(X[:n], y[:n], [reg_data.X_test, X[:n]], s) for s, n in enumerate([64, 65, 20, 280])
    ]
    obj = MLPObjective(reg_data, threads=1, epochs=3, max_batches_per_epoch=cap)
    batched = obj.fit_predict_many(NO_DROPOUT, jobs)
    for job, preds in zip(jobs, batched, strict=True):
        alone = obj.fit_predict(NO_DROPOUT, *job)
        for p, q in zip(preds, alone, strict=True):
            assert p.shape == q.shape and p.dtype == q.dtype == np.float64
            np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-4)


def test_batched_folds_same_error_with_dropout(clf_data: PreparedData) -> None:
    # with dropout the masks come from one stream for all members: same distribution, other
    # draws, so the mean fold error agrees within the seed-to-seed noise
    config = {**CONFIG, "dropout_1": 0.5, "dropout_2": 0.5, "learning_rate": 3e-3}
    vals = {}
    for batched in (True, False):
        obj = MLPObjective(clf_data, threads=1, seed=0, epochs=2, batched_folds=batched)
        vals[batched] = [obj.evaluate(config, iteration=i).val_score for i in range(4)]
    noise = np.std(vals[False] + vals[True], ddof=1)
    assert abs(np.mean(vals[True]) - np.mean(vals[False])) <= 2.0 * noise / np.sqrt(4) + 0.01


def test_batched_default_and_deterministic(reg_data: PreparedData) -> None:
    obj = MLPObjective(reg_data, epochs=2)
    assert obj.batched_folds
    a, b = obj.evaluate(CONFIG, iteration=3), obj.evaluate(CONFIG, iteration=3)
    assert a.status == "ok" and a.fold_scores == b.fold_scores and a.test_score == b.test_score
    assert obj.evaluate(CONFIG, iteration=4).fold_scores != a.fold_scores


def test_batched_divergence_and_checkpoint(reg_data: PreparedData) -> None:
    obj = MLPObjective(reg_data, epochs=3)
    X = reg_data.X_train.copy()
    X[5, 0] = np.nan
    jobs = [FitJob(X, reg_data.y_train, [X], 0), FitJob(reg_data.X_train, reg_data.y_train, [X], 1)]
    with pytest.raises(FloatingPointError, match="model 1 of 2"):
        obj.fit_predict_many(CONFIG, jobs)
    calls: list[int] = []

    def checkpoint() -> None:  # the time limit is checked after every epoch
        calls.append(1)
        if len(calls) == 2:
            raise TrialTimeout("limit")

    with pytest.raises(TrialTimeout):
        obj.fit_predict_many(CONFIG, jobs[1:] * 2, checkpoint)
    assert len(calls) == 2


def test_options() -> None:
    data = _prepared("binary", n=60)
    with pytest.raises(TypeError):
        MLPObjective(data, epoch=3)
    with pytest.raises(ValueError):
        MLPObjective(data, epochs=0)
    obj = MLPObjective(data, epochs=2, max_batches_per_epoch=1)
    assert obj.evaluate({**CONFIG, "batch_size": 256}).status == "ok"


def test_batched_members_of_different_widths(reg_data: PreparedData) -> None:
    # one-hot encodings fitted per fold differ in width when a fold lacks a rare category: the
    # narrower members are zero-padded and train exactly as alone
    X, y = reg_data.X_train, reg_data.y_train
    jobs = [
        FitJob(X[:60], y[:60], [X[:60, :]], 0),
        FitJob(X[:60, :-1], y[:60], [X[:60, :-1]], 1),
        FitJob(X[:70, :-3], y[:70], [X[:70, :-3]], 2),
    ]
    obj = MLPObjective(reg_data, threads=1, epochs=2)
    out = obj.fit_predict_many(NO_DROPOUT, jobs)
    for job, preds in zip(jobs, out, strict=True):
        np.testing.assert_allclose(
            preds[0], obj.fit_predict(NO_DROPOUT, *job)[0], rtol=1e-5, atol=1e-4
        )
    assert obj.fit_predict_many(CONFIG, jobs)[2][0].shape == (70,)  # with dropout too
