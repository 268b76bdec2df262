"""Tests of autoterm.space: parameters, the unit-cube encoding, Sobol designs and keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoterm.objectives.mlp import MLPObjective
from autoterm.objectives.random_forest import RandomForestObjective
from autoterm.objectives.xgboost import XGBoostObjective
from autoterm.space import Categorical, Float, Int, SearchSpace

SPACES = {
    "xgboost": XGBoostObjective.space,
    "random_forest": RandomForestObjective.space,
    "mlp": MLPObjective.space,
}


@pytest.fixture(params=sorted(SPACES))
def space(request) -> SearchSpace:
    return SPACES[request.param]


def _check_native(space: SearchSpace, cfg: dict) -> None:
    """Assert that ``cfg`` holds a feasible native value for every parameter."""
    assert list(cfg) == space.names
    for p in space.params:
        v = cfg[p.name]
        if isinstance(p, Categorical):
            assert v in p.choices
        elif isinstance(p, Int):
            assert type(v) is int
            assert p.low <= v <= p.high
        else:
            assert isinstance(v, float)
            assert p.low <= v <= p.high


# --------------------------------------------------------------------------- round trips


def test_paper_space_dimensions():
    assert SPACES["xgboost"].dim == 9
    assert SPACES["random_forest"].dim == 3
    assert SPACES["mlp"].dim == 9


def test_round_trip_of_sobol_configs_is_exact(space):
    U = space.sobol(128, seed=3)
    configs = space.decode(U)
    assert len(configs) == 128
    for cfg in configs:
        _check_native(space, cfg)
    X = space.encode(configs)
    assert X.shape == (128, space.dim)
    assert np.all((X >= 0.0) & (X <= 1.0))
    again = space.decode(X)
    assert again == configs  # exact equality of native values
    np.testing.assert_array_equal(space.encode(again), X)


def test_round_trip_of_raw_uniform_points_is_exact(space):
    U = np.random.default_rng(0).random((64, space.dim))
    configs = space.decode(U)
    assert space.decode(space.encode(configs)) == configs


def test_snap_is_idempotent(space):
    U = np.random.default_rng(1).random((64, space.dim))
    S = space.snap(U)
    assert S.shape == U.shape
    np.testing.assert_array_equal(space.snap(S), S)
    # continuous columns are left (almost) where they were; discrete ones moved onto the grid
    for j, p in enumerate(space.params):
        if isinstance(p, Float) and not isinstance(p, Int):
            np.testing.assert_allclose(S[:, j], U[:, j], atol=1e-12)
        else:
            grid = p.grid()
            assert np.all(np.min(np.abs(S[:, j, None] - grid[None, :]), axis=1) == 0.0)


def test_decode_rejects_wrong_width():
    sp = SPACES["random_forest"]
    with pytest.raises(ValueError, match="expected 3 columns"):
        sp.decode(np.zeros((2, 4)))


def test_decode_accepts_a_single_point():
    sp = SPACES["random_forest"]
    (cfg,) = sp.decode(np.array([0.0, 0.0, 1.0]))
    assert cfg == {"n_estimators": 1, "min_samples_split": 0.01, "max_depth": 5}


# --------------------------------------------------------------------------- Float


def test_log_float_bounds_and_geometric_midpoint():
    p = Float("lr", 1e-6, 1.0, log=True)
    assert p.encode(1e-6) == pytest.approx(0.0, abs=1e-12)
    assert p.encode(1.0) == pytest.approx(1.0, abs=1e-12)
    assert p.encode(1e-3) == pytest.approx(0.5, abs=1e-12)  # sqrt(1e-6 * 1)
    assert p.decode(0.0) == pytest.approx(1e-6, rel=1e-12)
    assert p.decode(1.0) == pytest.approx(1.0, rel=1e-12)
    assert p.decode(0.5) == pytest.approx(1e-3, rel=1e-9)
    assert p.decode(0.25) == pytest.approx(10**-4.5, rel=1e-9)


def test_log_params_of_paper_spaces_map_bounds_to_0_1_and_midpoint_to_half(space):
    for p in space.params:
        if isinstance(p, Categorical) or not p.log:
            continue
        assert p.encode(p.low) == pytest.approx(0.0, abs=1e-12)
        assert p.encode(p.high) == pytest.approx(1.0, abs=1e-12)
        assert p.encode(math.sqrt(p.low * p.high)) == pytest.approx(0.5, abs=1e-12)
        if not isinstance(p, Int):
            assert p.decode(0.5) == pytest.approx(math.sqrt(p.low * p.high), rel=1e-9)


def test_linear_float_is_affine():
    p = Float("subsample", 0.5, 1.0)
    assert p.encode(0.75) == pytest.approx(0.5)
    assert p.encode(0.5) == 0.0
    assert p.encode(1.0) == 1.0
    assert p.decode(0.2) == pytest.approx(0.6)


def test_float_decode_clips_outside_unit_interval():
    for p in (Float("a", 0.5, 1.0), Float("b", 1e-6, 64.0, log=True)):
        assert p.decode(-0.3) == p.low
        assert p.decode(1.7) == p.high
        assert p.decode(-1e9) == p.low
        assert p.decode(1e9) == p.high


def test_float_decode_hits_bounds_exactly():
    # exp(log(low)) is off by an ulp for most bounds; the bounds themselves must come back
    for p in SPACES["xgboost"].params + SPACES["random_forest"].params + SPACES["mlp"].params:
        if isinstance(p, Float) and not isinstance(p, Int):
            assert p.decode(0.0) == p.low
            assert p.decode(1.0) == p.high
    # a float parameter declared with integer bounds still decodes to floats
    q = Float("x", 0, 2)
    assert type(q.decode(0.0)) is float
    assert type(q.decode(1.0)) is float
    assert type(q.decode(0.5)) is float


def test_space_decode_clips_outside_unit_cube():
    sp = SearchSpace(
        [
            Float("f", 1e-3, 10.0, log=True),
            Int("i", 2, 9),
            Categorical("c", ("a", "b", "c")),
        ]
    )
    lo, hi = sp.decode(np.array([[-2.0, -0.5, -1.0], [3.0, 1.5, 2.0]]))
    assert lo == {"f": 1e-3, "i": 2, "c": "a"}
    assert hi == {"f": 10.0, "i": 9, "c": "c"}


# --------------------------------------------------------------------------- Int


@pytest.mark.parametrize(
    "p",
    [
        Int("n_estimators", 2, 512, log=True),
        Int("n_estimators_rf", 1, 64, log=True),
        Int("max_depth", 1, 5),
        Int("max_depth_xgb", 2, 32, log=True),
        Int("batch_size", 16, 256, log=True),
    ],
    ids=lambda p: p.name,
)
def test_int_decode_is_nearest_feasible_integer_in_encoded_space(p):
    grid = p.grid()
    assert grid.shape == (p.high - p.low + 1,)
    assert grid[0] == pytest.approx(0.0, abs=1e-12)
    assert grid[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(grid) > 0)
    us = np.concatenate([np.linspace(-0.2, 1.2, 701), np.random.default_rng(5).random(300)])
    for u in us:
        v = p.decode(u)
        assert type(v) is int
        assert p.low <= v <= p.high
        uc = min(max(u, 0.0), 1.0)
        dist = np.abs(grid - uc)
        # nearest in encoded space (ties may go either way)
        assert abs(p.encode(v) - uc) == pytest.approx(dist.min(), abs=1e-12)
    # every integer decodes to itself from its own encoding
    for k in range(p.low, p.high + 1):
        assert p.decode(p.encode(k)) == k


def test_int_snaps_in_encoded_not_native_units():
    # on a log scale the boundary between 1 and 2 is their geometric mean sqrt(2) ~ 1.414,
    # so the encoding of 1.45 (natively nearer 1) is nearer the encoding of 2
    p = Int("n", 1, 64, log=True)
    assert p.decode(p.encode(1.45)) == 2
    assert p.decode(p.encode(1.40)) == 1
    # linear scale: plain rounding
    q = Int("m", 1, 5)
    assert q.decode(q.encode(2.4)) == 2
    assert q.decode(q.encode(2.6)) == 3


def test_int_decode_at_and_beyond_bounds():
    p = Int("n", 2, 512, log=True)
    assert p.decode(0.0) == 2
    assert p.decode(1.0) == 512
    assert p.decode(-5.0) == 2
    assert p.decode(5.0) == 512
    assert p.decode(0.5) == 32  # sqrt(2 * 512) = 32 exactly


def test_int_to_dict():
    assert Int("n", 1, 64, log=True).to_dict() == {
        "type": "int",
        "name": "n",
        "low": 1,
        "high": 64,
        "log": True,
    }


# --------------------------------------------------------------------------- Categorical


def test_categorical_two_choices_is_binary():
    p = Categorical("act", ("relu", "tanh"))
    assert p.encode("relu") == 0.0
    assert p.encode("tanh") == 1.0
    np.testing.assert_array_equal(p.grid(), [0.0, 1.0])
    assert p.decode(0.0) == "relu"
    assert p.decode(0.49) == "relu"
    assert p.decode(0.51) == "tanh"
    assert p.decode(1.0) == "tanh"
    assert p.decode(-3.0) == "relu"
    assert p.decode(7.0) == "tanh"


def test_categorical_three_choices():
    p = Categorical("c", ("a", "b", "c"))
    assert [p.encode(c) for c in p.choices] == [0.0, 0.5, 1.0]
    np.testing.assert_array_equal(p.grid(), [0.0, 0.5, 1.0])
    assert p.decode(0.0) == "a"
    assert p.decode(0.2) == "a"
    assert p.decode(0.3) == "b"
    assert p.decode(0.5) == "b"
    assert p.decode(0.7) == "b"
    assert p.decode(0.8) == "c"
    assert p.decode(1.0) == "c"
    assert p.decode(-0.1) == "a"
    assert p.decode(1.1) == "c"
    for c in p.choices:
        assert p.decode(p.encode(c)) == c
    with pytest.raises(ValueError):
        p.encode("d")


def test_categorical_to_dict():
    assert Categorical("c", ("x", "y")).to_dict() == {
        "type": "categorical",
        "name": "c",
        "choices": ["x", "y"],
    }


# --------------------------------------------------------------------------- validation


def test_validation_errors():
    with pytest.raises(ValueError, match="low must be < high"):
        Float("a", 1.0, 1.0)
    with pytest.raises(ValueError, match="low must be < high"):
        Float("a", 2.0, 1.0)
    with pytest.raises(ValueError, match="low must be < high"):
        Int("i", 5, 5)
    with pytest.raises(ValueError, match="log-scaled"):
        Float("a", 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="log-scaled"):
        Float("a", -1.0, 1.0, log=True)
    with pytest.raises(ValueError, match="log-scaled"):
        Int("i", 0, 10, log=True)
    with pytest.raises(ValueError, match="at least two choices"):
        Categorical("c", ("only",))
    with pytest.raises(ValueError, match="at least two choices"):
        Categorical("c", ())
    with pytest.raises(ValueError, match="duplicate"):
        SearchSpace([Float("a", 0.0, 1.0), Int("a", 1, 3)])
    # valid edge cases do not raise
    Float("a", 0.0, 1.0)
    Float("a", 1e-9, 1.0, log=True)
    Int("i", 1, 2, log=True)


# --------------------------------------------------------------------------- grids


def test_discrete_values_and_categorical_dims_xgboost():
    sp = SPACES["xgboost"]
    dv = sp.discrete_values()
    assert sorted(dv) == [0, 4]  # n_estimators, max_depth
    assert len(dv[0]) == 512 - 2 + 1
    assert len(dv[4]) == 32 - 2 + 1
    for j, values in dv.items():
        p = sp.params[j]
        assert values == sorted(values)
        assert values[0] == pytest.approx(0.0, abs=1e-12)
        assert values[-1] == pytest.approx(1.0, abs=1e-12)
        assert values == [p.encode(k) for k in range(p.low, p.high + 1)]
    assert sp.categorical_dims() == {}


def test_discrete_values_and_categorical_dims_rf():
    sp = SPACES["random_forest"]
    dv = sp.discrete_values()
    assert sorted(dv) == [0, 2]
    assert len(dv[0]) == 64
    assert dv[2] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert sp.categorical_dims() == {}


def test_discrete_values_and_categorical_dims_mlp():
    sp = SPACES["mlp"]
    dv = sp.discrete_values()
    assert sorted(dv) == [0, 1, 7]  # n_units_1, n_units_2, batch_size
    assert len(dv[7]) == 256 - 16 + 1
    assert sp.categorical_dims() == {4: [0.0, 1.0], 5: [0.0, 1.0], 8: [0.0, 1.0]}


def test_categorical_dims_with_three_choices():
    sp = SearchSpace([Float("f", 0.0, 1.0), Categorical("c", ("a", "b", "c"))])
    assert sp.discrete_values() == {}
    assert sp.categorical_dims() == {1: [0.0, 0.5, 1.0]}


# --------------------------------------------------------------------------- Sobol


def test_sobol_deterministic_per_seed_and_different_across_seeds(space):
    a = space.sobol(20, seed=7)
    b = space.sobol(20, seed=7)
    c = space.sobol(20, seed=8)
    assert a.shape == (20, space.dim)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert space.decode(a) != space.decode(c)


def test_sobol_points_are_feasible(space):
    X = space.sobol(50, seed=0)
    assert X.shape == (50, space.dim)
    assert np.all((X >= 0.0) & (X <= 1.0))
    np.testing.assert_array_equal(space.snap(X), X)
    for cfg in space.decode(X):
        _check_native(space, cfg)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 16, 17])
def test_sobol_shape_for_any_n(n):
    sp = SPACES["random_forest"]
    X = sp.sobol(n, seed=1)
    assert X.shape == (n, 3)
    # a prefix of the same scrambled sequence
    np.testing.assert_array_equal(X, sp.sobol(32, seed=1)[:n])


def test_sobol_spreads_over_the_cube():
    sp = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])
    X = sp.sobol(64, seed=0)
    # 64 scrambled-Sobol points: exactly 16 in each quadrant (a (0, m, 2)-net in base 2)
    q = (X[:, 0] >= 0.5).astype(int) * 2 + (X[:, 1] >= 0.5).astype(int)
    assert np.bincount(q, minlength=4).tolist() == [16, 16, 16, 16]


# --------------------------------------------------------------------------- keys


def test_key_equal_for_equal_configs(space):
    configs = space.decode(space.sobol(16, seed=2))
    for cfg in configs:
        k = space.key(cfg)
        hash(k)
        assert space.key(dict(cfg)) == k
        assert space.key(dict(reversed(list(cfg.items())))) == k  # order of keys irrelevant
        assert space.key(space.decode(space.encode([cfg]))[0]) == k
    keys = {space.key(c) for c in configs}
    assert len(keys) == len(configs)  # distinct Sobol configs get distinct keys


def test_key_tolerates_last_digit_noise_and_numpy_scalars():
    sp = SearchSpace([Float("f", 0.0, 1.0), Int("i", 1, 5), Categorical("c", ("a", "b"))])
    cfg = {"f": 0.1 + 0.2, "i": 3, "c": "b"}
    assert sp.key(cfg) == sp.key({"f": 0.3, "i": 3, "c": "b"})
    assert sp.key(cfg) == sp.key({"f": np.float64(0.3), "i": np.int64(3), "c": "b"})
    assert sp.key(cfg) != sp.key({"f": 0.3, "i": 4, "c": "b"})
    assert sp.key(cfg) != sp.key({"f": 0.3, "i": 3, "c": "a"})
    assert sp.key(cfg) != sp.key({"f": 0.31, "i": 3, "c": "b"})


def test_to_list_and_repr():
    sp = SPACES["random_forest"]
    desc = sp.to_list()
    assert [d["name"] for d in desc] == ["n_estimators", "min_samples_split", "max_depth"]
    assert [d["type"] for d in desc] == ["int", "float", "int"]
    assert desc[1] == {
        "type": "float",
        "name": "min_samples_split",
        "low": 0.01,
        "high": 0.5,
        "log": True,
    }
    assert repr(sp) == "SearchSpace(n_estimators, min_samples_split, max_depth)"
