"""Tests of autoterm.bo: the GP surrogate, acquisition maximisation and the BO loop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import autoterm.bo.surrogate as surrogate
from autoterm.bo.acquisition import MAX_ENUM, _score, log_ei, maximize_acqf, safe_exp
from autoterm.bo.loop import BayesOpt, stream_seed
from autoterm.bo.surrogate import fit_gp, gp_hyperparameters
from autoterm.objectives.mlp import MLPObjective
from autoterm.objectives.random_forest import RandomForestObjective
from autoterm.objectives.xgboost import XGBoostObjective
from autoterm.space import Categorical, Float, Int, SearchSpace
from autoterm.trajectory import dumps

SMALL = {"num_restarts": 2, "raw_samples": 64}
RF = RandomForestObjective.space
XGB = XGBoostObjective.space
MLP = MLPObjective.space
GP_KEYS = {"lengthscales", "outputscale", "noise", "mean"}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: on a shared 2-core machine two threads thrash (several times slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny_space() -> SearchSpace:
    return SearchSpace([Int("a", 1, 3), Categorical("b", ("x", "y"))])


def _sq_dist(space: SearchSpace, target: np.ndarray):
    """A cheap synthetic objective: squared distance of the encoding to ``target``."""

    def f(config) -> float:
        return float(np.sum((space.encode([config])[0] - target) ** 2))

    return f


def _run(bo: BayesOpt, f, n: int, via_json: bool = False) -> list[tuple]:
    """``n`` iterations of the loop; returns ``(suggestion, value)`` pairs.

    With ``via_json`` the history passes through the trajectory's JSON before every suggestion,
    as when a run is resumed from its ``trajectory.jsonl``.
    """
    out, history = [], []
    for t in range(n):
        if via_json:
            history = [tuple(json.loads(dumps(list(h)))) for h in history]
        s = bo.suggest(history, t)
        v = f(s.config)
        out.append((s, v))
        history.append((s.config, v))
    return out


@pytest.fixture(scope="module")
def rf_run():
    bo = BayesOpt(RF, seed=0, n_init=6, **SMALL)
    f = _sq_dist(RF, np.array([0.35, 0.6, 0.5]))
    return bo, f, _run(bo, f, 8)


@pytest.fixture(scope="module")
def xgb_run():
    bo = BayesOpt(XGB, seed=3, n_init=4, **SMALL)
    f = _sq_dist(XGB, np.linspace(0.2, 0.8, XGB.dim))
    return bo, f, _run(bo, f, 5)


def _check_bo_suggestion(space: SearchSpace, s) -> None:
    assert s.source in ("logei", "fallback")
    info = s.info
    assert {"acq_value", "ei_max", "pi_max", "gp", "fit_seconds", "acq_seconds"} <= set(info)
    assert math.isfinite(info["ei_max"]) and info["ei_max"] >= 0.0
    assert 0.0 <= info["pi_max"] <= 1.0
    if s.source == "logei":
        # the EI maximum is the value of the LogEI maximiser that was proposed
        assert info["ei_max"] == pytest.approx(safe_exp(info["acq_value"]), rel=1e-12)
    gp = info["gp"]
    assert set(gp) == GP_KEYS
    assert len(gp["lengthscales"]) == space.dim
    assert all(ls > 0 for ls in gp["lengthscales"])
    assert gp["outputscale"] > 0 and gp["noise"] > 0
    assert info["fit_seconds"] > 0 and info["acq_seconds"] > 0
    assert s.optimizer_seconds > 0
    assert s.optimizer_seconds == pytest.approx(info["fit_seconds"] + info["acq_seconds"])
    json.loads(dumps(info))  # JSON-ready


def _check_consistent(space: SearchSpace, s) -> None:
    """The suggestion's encoding is that of its (feasible) config."""
    assert s.x.shape == (space.dim,)
    np.testing.assert_array_equal(s.x, space.encode([s.config])[0])
    np.testing.assert_array_equal(space.snap(s.x[None, :])[0], s.x)
    assert space.decode(s.x[None, :])[0] == s.config


# --------------------------------------------------------------------------- the loop


@pytest.mark.parametrize("run_fixture", ["rf_run", "xgb_run"])
def test_loop_design_then_bo(run_fixture, request):
    bo, _, run = request.getfixturevalue(run_fixture)
    space = bo.space
    design = space.decode(space.sobol(64, seed=bo.seed)[: bo.n_init])
    for t, (s, _) in enumerate(run):
        _check_consistent(space, s)
        if t < bo.n_init:
            assert s.source == "sobol"
            assert s.info == {}
            assert s.config == design[t]
        else:
            _check_bo_suggestion(space, s)
    keys = [space.key(s.config) for s, _ in run]
    assert len(set(keys)) == len(keys)


def test_design_is_deterministic_and_seeded():
    a = [BayesOpt(XGB, seed=5, n_init=4, **SMALL) for _ in range(2)]
    b = BayesOpt(XGB, seed=6, n_init=4, **SMALL)
    ha, hb = [], []
    for t in range(4):
        sa = [bo.suggest(ha, t) for bo in a]
        sb = b.suggest(hb, t)
        assert sa[0].config == sa[1].config
        assert sa[0].source == sb.source == "sobol"
        assert sa[0].config != sb.config
        ha.append((sa[0].config, 1.0))
        hb.append((sb.config, 1.0))


def test_same_seed_gives_identical_sequence(rf_run):
    # a second loop with the same seed, in a fresh object, fed a history reloaded from JSON
    # (as on resume): the same configurations, the same GP fits. It skips the PI signal, which
    # must not draw from the optimiser's random stream.
    bo0, f, run0 = rf_run
    bo1 = BayesOpt(RF, seed=bo0.seed, n_init=bo0.n_init, signals=False, **SMALL)
    run1 = _run(bo1, f, len(run0), via_json=True)
    assert [s.config for s, _ in run1] == [s.config for s, _ in run0]
    assert [s.source for s, _ in run1] == [s.source for s, _ in run0]
    for (s0, _), (s1, _) in zip(run0, run1, strict=True):
        np.testing.assert_array_equal(s0.x, s1.x)
        if s0.info:
            assert s1.info["gp"] == s0.info["gp"]
            assert s1.info["acq_value"] == s0.info["acq_value"]
            assert "pi_max" in s0.info and "pi_max" not in s1.info


def test_suggest_is_a_pure_function_of_history(rf_run):
    # the same object asked again (after having moved on) repeats itself: no hidden state
    bo, _, run = rf_run
    t = bo.n_init + 1
    history = [(s.config, v) for s, v in run[:t]]
    expected = run[t][0]
    assert expected.source in ("logei", "fallback")
    again = bo.suggest(history)  # iteration defaults to len(history)
    assert again.config == expected.config
    assert again.source == expected.source
    assert again.info["gp"] == expected.info["gp"]
    assert bo.suggest(history[:1], 1).config == run[1][0].config  # design points too


def test_different_seed_different_design():
    h: list = []
    a = [BayesOpt(RF, seed=0, n_init=5, **SMALL).suggest(h, t).config for t in range(5)]
    b = [BayesOpt(RF, seed=1, n_init=5, **SMALL).suggest(h, t).config for t in range(5)]
    assert a != b
    assert len({RF.key(c) for c in a}) == 5


def test_n_init_must_be_positive():
    with pytest.raises(ValueError, match="n_init"):
        BayesOpt(RF, n_init=0)


def _tiny_objective(c) -> float:
    return float(c["a"]) + (0.5 if c["b"] == "y" else 0.0)


@pytest.mark.parametrize("n_init", [5, 10], ids=["bo", "design-only"])
def test_never_reproposes_and_exhausts(n_init):
    space = _tiny_space()
    bo = BayesOpt(space, seed=0, n_init=n_init, signals=False, **SMALL)
    history: list = []
    for t in range(6):
        s = bo.suggest(history, t)
        assert s.source == "sobol" if t < n_init else s.source in ("logei", "fallback")
        _check_consistent(space, s)
        history.append((s.config, _tiny_objective(s.config)))
    keys = {space.key(c) for c, _ in history}
    assert keys == {(a, b) for a in (1, 2, 3) for b in ("x", "y")}
    with pytest.raises(RuntimeError, match="exhausted"):
        bo.suggest(history, 6)


def test_failed_trials_are_not_fit_but_never_reproposed(monkeypatch):
    space = _tiny_space()
    all_cfgs = [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]
    rest = all_cfgs[4]
    values = [1.0, None, math.nan, 2.0, 3.0]
    history = list(zip(all_cfgs[:4] + all_cfgs[5:], values, strict=True))

    fits = []
    real_fit = surrogate.fit_gp

    def spy(X, y, seed=0, **kwargs):
        fits.append((np.array(X), np.array(y)))
        return real_fit(X, y, seed=seed, **kwargs)

    monkeypatch.setattr(surrogate, "fit_gp", spy)
    bo = BayesOpt(space, seed=0, n_init=2, signals=False, **SMALL)
    s = bo.suggest(history)
    assert s.source in ("logei", "fallback")
    assert s.config == rest  # the only configuration neither evaluated nor failed
    ((X, y),) = fits
    assert X.shape == (3, 2)
    np.testing.assert_array_equal(y, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(X, space.encode([all_cfgs[i] for i in (0, 3, 5)]))


def test_too_few_successes_fall_back_to_the_design():
    bo = BayesOpt(RF, seed=2, n_init=2, **SMALL)
    design = RF.decode(RF.sobol(64, seed=2))
    history = [(design[0], None), (design[1], math.nan), (design[2], 1.0)]
    s = bo.suggest(history)  # t = 3 >= n_init, but a single finite value: no GP
    assert s.source == "sobol"
    assert s.config == design[3]
    assert s.info == {}
    # a failed design point is skipped, not retried
    s0 = bo.suggest([(design[0], None)])
    assert s0.config == design[1]
    s1 = BayesOpt(RF, seed=2, n_init=5, **SMALL).suggest([(design[1], None)], 1)
    assert s1.config == design[0]  # design[1] taken: the first free design point


def test_bo_beats_the_sobol_design_on_a_smooth_function():
    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])

    def f(c):
        return (c["x"] - 0.27) ** 2 + 2.0 * (c["y"] - 0.71) ** 2 + 0.1 * math.sin(3 * c["x"])

    n, n_init, seed = 9, 4, 3
    sobol_best = min(f(c) for c in space.decode(space.sobol(n, seed=seed)))
    bo = BayesOpt(space, seed=seed, n_init=n_init, signals=False, **SMALL)
    run = _run(bo, f, n)
    bo_best = min(v for _, v in run)
    design_best = min(v for _, v in run[:n_init])
    assert {s.source for s, _ in run[n_init:]} <= {"logei", "fallback"}
    assert bo_best < sobol_best
    assert bo_best < design_best
    # the global minimum is about 0.0576 (near x = 0.13, y = 0.71): BO should get close
    true_min = min(f({"x": x, "y": 0.71}) for x in np.linspace(0, 1, 2001))
    assert bo_best - true_min < 0.5 * (sobol_best - true_min)


def test_stream_seed():
    s = stream_seed(0, 3, 1)
    assert s == stream_seed(0, 3, 1)
    assert 0 <= s < 2**31
    assert len({stream_seed(0, 3, p) for p in range(6)}) == 6
    assert stream_seed(0, 3, 1) != stream_seed(1, 3, 1) != stream_seed(1, 4, 1)


# --------------------------------------------------------------------------- acquisition


def _fitted(space: SearchSpace, n: int, seed: int):
    X = space.sobol(n, seed=seed)
    y = np.sum((X - 0.4) ** 2, axis=1)
    return X, y, fit_gp(X, y, seed=seed)


@pytest.mark.parametrize(
    ("space", "n"),
    [
        (MLP, 6),
        (
            SearchSpace(
                [
                    Float("f", 1e-3, 1.0, log=True),
                    Int("wide", 1, 100),  # > MAX_ENUM values: neighbour moves only
                    Categorical("c", ("a", "b", "c")),
                ]
            ),
            10,
        ),
    ],
    ids=["mlp", "mixed3"],
)
def test_maximize_acqf_returns_feasible_points(space, n):
    X, y, model = _fitted(space, n, seed=1)
    acqf = log_ei(model, float(y.min()))
    x, v = maximize_acqf(acqf, space, seed=0, **SMALL)
    assert x.shape == (space.dim,)
    np.testing.assert_array_equal(space.snap(x[None, :])[0], x)
    for j, grid in {**space.discrete_values(), **space.categorical_dims()}.items():
        assert x[j] in grid
    assert v == pytest.approx(float(_score(acqf, x[None, :])[0]), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    "param", [Int("i", 1, 20), Categorical("c", ("a", "b", "c", "d"))], ids=["int", "cat"]
)
def test_maximize_acqf_finds_the_best_value_of_a_discrete_column(param):
    space = SearchSpace([param])
    assert len(param.grid()) <= MAX_ENUM
    X = param.grid()[[0, -1, 1, 2]][:, None]
    y = np.array([1.0, 0.8, 0.5, 0.6])
    model = fit_gp(X, y)
    acqf = log_ei(model, float(y.min()))
    x, v = maximize_acqf(acqf, space, seed=0, **SMALL)
    grid = param.grid()
    scores = _score(acqf, grid[:, None])
    assert x[0] in grid
    assert v == pytest.approx(float(scores.max()), rel=1e-9, abs=1e-12)


def test_safe_exp():
    assert safe_exp(-math.inf) == 0.0
    assert safe_exp(0.0) == 1.0
    assert safe_exp(math.log(0.25)) == pytest.approx(0.25)


# --------------------------------------------------------------------------- surrogate


def test_fit_gp_interpolates_a_smooth_1d_function():
    def g(x):
        return 50.0 + 10.0 * np.sin(2 * np.pi * x)

    X = np.linspace(0.0, 1.0, 9)[:, None]
    y = g(X[:, 0])
    model = fit_gp(X, y, seed=0)
    with torch.no_grad():
        post = model.posterior(torch.as_tensor(X, dtype=surrogate.DTYPE))
        mean = post.mean.numpy().reshape(-1)
        std = post.variance.sqrt().numpy().reshape(-1)
    # posterior in the units of y, close to the data
    np.testing.assert_allclose(mean, y, atol=0.5)
    assert np.all(std < 1.0)
    # and a sensible interpolant between the data
    Xm = (X[:-1] + X[1:]) / 2
    with torch.no_grad():
        mid = model.posterior(torch.as_tensor(Xm, dtype=surrogate.DTYPE)).mean.numpy()
    np.testing.assert_allclose(mid.reshape(-1), g(Xm[:, 0]), atol=1.5)

    hp = gp_hyperparameters(model)
    assert set(hp) == GP_KEYS
    assert isinstance(hp["lengthscales"], list) and len(hp["lengthscales"]) == 1
    for k in ("outputscale", "noise", "mean"):
        assert isinstance(hp[k], float)
    assert hp["lengthscales"][0] > 0 and hp["outputscale"] > 0 and hp["noise"] > 0
    assert hp["noise"] < 0.05  # noise-free data (standardised units)
    json.loads(json.dumps(hp))
    # refits are repeatable
    assert gp_hyperparameters(fit_gp(X, y, seed=0)) == hp


def test_fit_gp_ard_lengthscales():
    rng = np.random.default_rng(0)
    X = rng.random((16, 3))
    y = np.sin(4 * X[:, 0]) + 0.01 * X[:, 2]
    hp = gp_hyperparameters(fit_gp(X, y))
    assert len(hp["lengthscales"]) == 3
    # the irrelevant inputs get much longer lengthscales than the relevant first one
    assert min(hp["lengthscales"][1:]) > 10 * hp["lengthscales"][0]
