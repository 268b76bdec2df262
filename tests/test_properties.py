"""Property-based tests (hypothesis): the space encoding, the stopping-rule contract, and the
trajectory loader under truncation and corruption."""

from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autoterm.space import Categorical, Float, Int, SearchSpace, space_from_list
from autoterm.stopping import RULES, History, make_rule, rule_class
from autoterm.trajectory import (
    REQUIRED_KEYS,
    TrajectoryError,
    append_record,
    dumps,
    read_trajectory,
)

SETTINGS = settings(max_examples=150, deadline=None)

# --------------------------------------------------------------------------- search spaces


@st.composite
def floats_params(draw, name="p"):
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(1e-8, 1e3))
        high = low * draw(st.floats(1.001, 1e8))
    else:
        low = draw(st.floats(-1e6, 1e6))
        high = low + draw(st.floats(1e-3, 1e6))
    assume(low < high)
    return Float(name, low, high, log)


@st.composite
def int_params(draw, name="p"):
    log = draw(st.booleans())
    low = draw(st.integers(1, 200)) if log else draw(st.integers(-200, 200))
    high = low + draw(st.integers(1, 600))
    return Int(name, low, high, log)


@st.composite
def cat_params(draw, name="p"):
    kind = draw(st.sampled_from(["str", "int"]))
    elems = st.text(min_size=1, max_size=6) if kind == "str" else st.integers(-50, 50)
    choices = draw(st.lists(elems, min_size=2, max_size=6, unique=True))
    return Categorical(name, tuple(choices))


@st.composite
def spaces(draw):
    n = draw(st.integers(1, 5))
    params = []
    for i in range(n):
        kind = draw(st.sampled_from([floats_params, int_params, cat_params]))
        params.append(draw(kind(name=f"p{i}")))
    return SearchSpace(params)


@st.composite
def native_value(draw, p):
    if isinstance(p, Categorical):
        return draw(st.sampled_from(p.choices))
    if isinstance(p, Int):
        return draw(st.integers(int(p.low), int(p.high)))
    return draw(st.floats(p.low, p.high))


@st.composite
def space_and_configs(draw):
    space = draw(spaces())
    n = draw(st.integers(1, 4))
    configs = [{p.name: draw(native_value(p)) for p in space.params} for _ in range(n)]
    return space, configs


def _same_value(p, a, b):
    if isinstance(p, Float) and not isinstance(p, Int):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * (p.high - p.low))
    return a == b and type(a) is type(b)


@SETTINGS
@given(space_and_configs())
def test_encode_decode_round_trip(sc):
    space, configs = sc
    X = space.encode(configs)
    assert X.shape == (len(configs), space.dim)
    assert np.all(np.isfinite(X)) and np.all(X >= -1e-12) and np.all(X <= 1 + 1e-12)
    back = space.decode(X)
    for c, b in zip(configs, back, strict=True):
        for p in space.params:
            assert _same_value(p, c[p.name], b[p.name]), (p, c[p.name], b[p.name])
    # a stored space encodes the same
    again = space_from_list(json.loads(json.dumps(space.to_list())))
    assert np.array_equal(again.encode(configs), X)


@SETTINGS
@given(spaces(), st.data())
def test_decode_is_feasible_and_snapping_is_idempotent(space, data):
    n = data.draw(st.integers(1, 4))
    X = np.array(
        data.draw(
            st.lists(
                st.lists(st.floats(-0.5, 1.5), min_size=space.dim, max_size=space.dim),
                min_size=n,
                max_size=n,
            )
        )
    )
    configs = space.decode(X)
    for c in configs:
        for p in space.params:
            v = c[p.name]
            if isinstance(p, Categorical):
                assert v in p.choices
            else:
                assert p.low <= v <= p.high
                if isinstance(p, Int):
                    assert isinstance(v, int)
    snapped = space.snap(X)
    twice = space.snap(snapped)
    for j, p in enumerate(space.params):  # exact for integers and choices, round-off for floats
        if isinstance(p, Int | Categorical):
            assert np.array_equal(twice[:, j], snapped[:, j])
        else:
            assert np.allclose(twice[:, j], snapped[:, j], rtol=0, atol=1e-9)
    for c, b in zip(configs, space.decode(snapped), strict=True):
        assert all(_same_value(p, c[p.name], b[p.name]) for p in space.params)


@SETTINGS
@given(int_params(), st.floats(0.0, 1.0))
def test_int_decodes_to_the_nearest_feasible_encoding(p, u):
    v = p.decode(u)
    best = np.min(np.abs(p.grid() - u))
    assert abs(p.encode(v) - u) <= best + 1e-12


# --------------------------------------------------------------------------- stopping rules

# GP-based rules (regret_bound) refit a GP per check: covered by tests/test_regret_bound.py.
CHEAP_RULES = sorted(n for n in RULES if not rule_class(n).uses_gp)
LOOKS_AHEAD = {"oracle"}  # knows the final test error by design


@st.composite
def histories(draw):
    n = draw(st.integers(0, 40))
    k = 3
    constant = draw(st.booleans())
    base = draw(st.floats(0.0, 1.0))
    score = st.just(base) if constant else st.floats(0.0, 1.0)
    val = np.array([draw(score) for _ in range(n)], dtype=float)
    failed = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if draw(st.booleans()):
        failed[:] = False
    val[failed] = np.nan
    spread = 0.0 if constant else draw(st.floats(0.0, 0.1))
    folds = val[:, None] + spread * np.linspace(-1, 1, k)[None, :]
    test = val + (0.0 if constant else draw(st.floats(-0.05, 0.05)))
    cost = np.array(draw(st.lists(st.floats(0.01, 10.0), min_size=n, max_size=n)))
    signal = st.one_of(st.just(float("nan")), st.floats(0.0, 1.0))
    signals = {
        s: np.array(draw(st.lists(signal, min_size=n, max_size=n)), dtype=float)
        for s in ("ei_max", "pi_max", "authors_regret_bound", "authors_incumbent_std")
    }
    X = np.array(draw(st.lists(st.floats(0, 1), min_size=2 * n, max_size=2 * n))).reshape(n, 2)
    return History(val, test, folds, X, cost, signals, 0.5, {}, cost.copy())


def _snapshot(h: History) -> dict:
    return {
        "val": h.val.copy(),
        "test": h.test.copy(),
        "folds": h.folds.copy(),
        "X": h.X.copy(),
        "cost": h.cost.copy(),
        "signals": {k: v.copy() for k, v in h.signals.items()},
    }


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name", CHEAP_RULES)
@settings(max_examples=60, deadline=None)
@given(h=histories(), warmup=st.integers(1, 25))
def test_rule_contract(name, h, warmup):
    rule = make_rule(name, warmup=warmup)
    before = _snapshot(h)
    n = len(h)
    est = rule.estimates(h)
    assert est.shape == (n + 1,)
    assert _same(est, make_rule(name, warmup=warmup).estimates(h))  # deterministic
    for knob in rule.default_knobs:
        thr = rule.thresholds(h, knob)
        assert thr.shape == (n + 1,)
        d = rule.stop(h, knob)
        again = rule.stop(h, knob, estimates=est)
        assert (d.stop_iter, d.fired) == (again.stop_iter, again.fired)
        assert _same(
            np.array([d.estimate, d.threshold]), np.array([again.estimate, again.threshold])
        )
        if d.fired:
            assert warmup <= d.stop_iter <= n  # never before the warm-up
            assert d.estimate < d.threshold
        else:
            assert d.stop_iter == n
        half = rule.stop(h, knob, horizon=n // 2)
        assert half.stop_iter <= n // 2 and (not half.fired or half.stop_iter >= warmup)
    if name not in LOOKS_AHEAD:  # the check at t reads records < t only
        for t in range(min(warmup, n), n + 1):
            assert _same(np.float64(rule.estimate_at(h, t)), np.float64(est[t]))
    assert _same(_snapshot(h), before)  # the input is not modified


@pytest.mark.parametrize("name", CHEAP_RULES)
@pytest.mark.parametrize("kind", ["constant", "all_failed", "empty"])
def test_rules_tolerate_degenerate_histories(name, kind):
    n = 0 if kind == "empty" else 30
    val = np.full(n, 0.25 if kind == "constant" else np.nan)
    h = History(
        val,
        val.copy(),
        np.repeat(val[:, None], 3, axis=1),
        np.full((n, 2), 0.5),
        np.ones(n),
        {"ei_max": np.zeros(n), "pi_max": np.zeros(n)},
        0.5,
        {},
        np.ones(n),
    )
    rule = make_rule(name, warmup=5)
    for knob in rule.default_knobs:
        d = rule.stop(h, knob)
        assert d.stop_iter <= n and (not d.fired or d.stop_iter >= 5)


# --------------------------------------------------------------------------- trajectory loader


def _records(n: int) -> list[dict]:
    return [
        {
            "iteration": i,
            "config": {"n_estimators": 3 + i, "max_features": "sqrt", "lr": 10.0**-i},
            "fold_scores": [0.1 * i, 0.2, None],
            "val_score": 0.15 + i,
            "test_score": 0.2,
            "train_score": 0.05,
            "eval_seconds": 1.25,
            "optimizer_seconds": 0.5,
            "status": "ok" if i % 3 else "failed",
            "error": None if i % 3 else "RuntimeError: ünïcode reason",
            "signals": {"ei_max": 1e-9 * i},
        }
        for i in range(n)
    ]


def _write(directory: Path, n: int) -> tuple[Path, list[dict], bytes]:
    """A trajectory of ``n`` records as :func:`append_record` writes it (no fsync: fast)."""
    recs = _records(n)
    data = "".join(dumps(r) + "\n" for r in recs).encode("utf-8")
    path = directory / "trajectory.jsonl"
    path.write_bytes(data)
    return path, json.loads(json.dumps(recs)), data


def _line_of(data: bytes, pos: int) -> int:
    """0-based line index of byte ``pos``."""
    return data[:pos].count(b"\n")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 8), frac=st.floats(0.0, 1.0), repair=st.booleans())
def test_truncated_trajectory_reads_as_its_complete_prefix(n, frac, repair):
    with tempfile.TemporaryDirectory() as d:
        path, recs, data = _write(Path(d), n)
        cut = int(frac * len(data))
        path.write_bytes(data[:cut])
        complete = data[:cut].count(b"\n")
        handler = _Capture()
        logging.getLogger("autoterm.trajectory").addHandler(handler)
        try:
            got = read_trajectory(path, repair=repair)
        finally:
            logging.getLogger("autoterm.trajectory").removeHandler(handler)
        assert got == recs[:complete]
        torn = cut > 0 and not data[:cut].endswith(b"\n")
        assert any("torn" in m for m in handler.messages) == torn
        if torn:
            assert any(f"{path}:{complete + 1}:" in m for m in handler.messages)
        if repair:
            boundary = data[:cut].rfind(b"\n") + 1
            assert path.read_bytes() == data[:boundary]
            append_record(path, recs[complete] if complete < n else {**recs[0], "iteration": n})
            assert len(read_trajectory(path)) == complete + 1


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


corruptions = st.one_of(
    st.tuples(st.just("replace"), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(1, 40)),
    st.tuples(st.just("newline"), st.just(b"\n")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 8), frac=st.floats(0.0, 1.0), corruption=corruptions)
def test_corrupted_trajectory_is_a_valid_prefix_or_an_error_naming_file_and_line(
    n, frac, corruption
):
    kind, arg = corruption
    with tempfile.TemporaryDirectory() as d:
        path, recs, data = _write(Path(d), n)
        pos = min(int(frac * len(data)), len(data) - 1)
        if kind == "replace":
            bad = data[:pos] + arg + data[pos + len(arg) :]
        elif kind == "delete":
            bad = data[:pos] + data[pos + arg :]
        else:
            bad = data[:pos] + arg + data[pos:]
        assume(bad != data)
        path.write_bytes(bad)
        first = _line_of(bad, pos)  # the first line that may differ
        try:
            got = read_trajectory(path, repair=True)
        except TrajectoryError as exc:
            msg = str(exc)
            assert msg.startswith(f"{path}:")
            line = int(msg[len(str(path)) + 1 :].split(":", 1)[0])
            assert first + 1 <= line <= bad.count(b"\n") + 1
            assert path.read_bytes() == bad  # an error never rewrites the file
            return
        # a valid prefix: intact records up to the corruption, every record well-formed
        assert got[:first] == recs[:first]
        for i, r in enumerate(got):
            assert isinstance(r, dict) and set(REQUIRED_KEYS) <= set(r)
            assert r["iteration"] == i and r["status"] in ("ok", "failed")
        assert read_trajectory(path) == got  # after repair the file reads the same, quietly
        append_record(path, {**recs[0], "iteration": len(got)})
        assert len(read_trajectory(path)) == len(got) + 1
