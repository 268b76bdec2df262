"""The stopping-rule contract: a conformance suite over every rule, and exact-step tests."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from autoterm.stopping import RULES, History, make_rule, rule_class
from autoterm.stopping.baselines import Conv, IQRImprovement, MaxEI, MaxPI, TopKPlateau
from autoterm.stopping.references import FullBudget, Oracle

ROOT = Path(__file__).resolve().parents[1]
# GP rules: few checks (a late warm-up) and a small LCB search keep the suite fast
FAST = {
    "regret_bound": {"n_sobol": 64, "num_restarts": 2, "warmup": 27},
    "emmr": {"n_sobol": 64, "num_restarts": 1, "warmup": 27},
}


def make_history(val, test=None, folds=None, signals=None, d=2, seed=0):
    val = np.asarray(val, float)
    n = len(val)
    rng = np.random.default_rng(seed)
    test = val + 0.01 if test is None else np.asarray(test, float)
    if folds is None:
        folds = val[:, None] + rng.normal(0, 0.01, size=(n, 5))
        folds -= folds.mean(axis=1, keepdims=True) - val[:, None]
    return History(
        val=val,
        test=test,
        folds=np.asarray(folds, float),
        X=rng.random((n, d)),
        cost=np.ones(n),
        signals=signals or {},
        n_test_over_n_train=0.25,
        eval_cost=np.ones(n),
    )


def random_history(n=32, seed=0):
    rng = np.random.default_rng(seed)
    val = 0.2 + 0.1 * rng.random(n)
    return make_history(
        val,
        signals={
            "ei_max": 10.0 ** -rng.uniform(2, 14, n),
            "pi_max": 10.0 ** -rng.uniform(1, 10, n),
        },
        seed=seed,
    )


def rule(name, **kw):
    return make_rule(name, **{"warmup": 10, **FAST.get(name, {}), **kw})


ALL = [n for n in RULES if n != "regret_bound_authors"]


def test_hydra_configs_match_the_registry():
    conf = ROOT / "experiments" / "conf" / "stopping"
    assert sorted(p.stem for p in conf.glob("*.yaml")) == sorted(RULES)
    for p in conf.glob("*.yaml"):
        cfg = yaml.safe_load(p.read_text())
        assert cfg["name"] == p.stem
        cls = rule_class(p.stem)
        assert tuple(cfg["knobs"]) == tuple(cls.default_knobs), p.stem
        make_rule(p.stem, **cfg["params"])


@pytest.mark.parametrize("name", ALL)
def test_conformance(name):
    h = random_history()
    before = copy.deepcopy(h)
    r = rule(name)
    est = r.estimates(h)
    assert est.shape == (len(h) + 1,)
    # deterministic and input not mutated
    np.testing.assert_array_equal(est, r.estimates(h))
    for f in ("val", "test", "folds", "X", "cost"):
        np.testing.assert_array_equal(getattr(h, f), getattr(before, f))
    # an online check at t reads only the prefix: same value, in any order of evaluation
    for t in (25, 12, 31, 20):
        e = r.estimate_at(h, t)
        assert (np.isnan(e) and np.isnan(est[t])) or e == pytest.approx(est[t], rel=1e-9)
    # warm-up respected, for every knob
    for knob in r.default_knobs:
        d = r.stop(h, knob)
        assert d.stop_iter >= r.warmup
        assert d.stop_iter <= len(h)


@pytest.mark.parametrize("name", ALL)
def test_constant_scores_are_tolerated(name):
    h = make_history(
        np.full(30, 0.25),
        folds=np.full((30, 5), 0.25),
        signals={"ei_max": np.zeros(30), "pi_max": np.zeros(30)},
    )
    r = rule(name)
    with np.errstate(all="raise"):
        for knob in r.default_knobs:
            d = r.stop(h, knob)
            assert r.warmup <= d.stop_iter <= 30


@pytest.mark.parametrize("name", ALL)
def test_failed_evaluations_are_tolerated(name):
    h = random_history()
    h.val[[3, 7, 22]] = np.nan
    h.folds[[3, 7, 22]] = np.nan
    r = rule(name)
    for knob in r.default_knobs:
        d = r.stop(h, knob)
        assert r.warmup <= d.stop_iter <= len(h)


def test_conv_counts_from_the_warmup_like_the_authors():
    # improves until 5, then never again: the authors' counter starts at the first check (20)
    val = np.r_[np.linspace(1, 0.5, 6), np.full(64, 0.6)]
    h = make_history(val)
    assert Conv(warmup=20).stop(h, 10).stop_iter == 30
    assert Conv(warmup=20, count_from="improvement").stop(h, 10).stop_iter == 20
    # an improvement by record 32 (seen from the check at t = 33) resets the count
    val2 = val.copy()
    val2[32] = 0.4
    assert Conv(warmup=20).stop(make_history(val2), 10).stop_iter == 30
    assert Conv(warmup=20).stop(make_history(val2), 20).stop_iter == 53
    assert not Conv(warmup=20).stop(make_history(val2), 40).fired


def test_ei_pi_use_the_signal_of_the_check():
    ei = np.full(40, 1e-3)
    ei[25] = 1e-9  # computed from the first 25 records: the check at t = 25
    h = make_history(np.linspace(1, 0, 40), signals={"ei_max": ei, "pi_max": ei})
    assert MaxEI(warmup=20).stop(h, 1e-8).stop_iter == 25
    assert MaxPI(warmup=20).stop(h, 1e-8).stop_iter == 25
    assert MaxEI(warmup=26).stop(h, 1e-8).fired is False
    assert MaxEI(warmup=20).stop(h, 1e-10).stop_iter == 40


def test_iqr_hand_computed():
    val = np.r_[[0.5, 0.1, 0.9, 0.3, 0.7, 0.2], np.full(10, 0.8)]
    h = make_history(val)
    est = IQRImprovement(warmup=1).estimates(h)
    # at t = 7 the best of the first 2 records was 0.1 and still is: no gain
    assert est[7] == 0.0
    # at t = 6 the best 5 records earlier (t=1) was 0.5, now 0.1; IQR of the first 6 values
    q75, q25 = np.percentile(val[:6], [75, 25])
    assert est[6] == pytest.approx(0.4 / (q75 - q25))
    assert IQRImprovement(warmup=6).stop(h, 0.1).stop_iter == 7


def test_plateau_with_patience():
    val = np.r_[np.linspace(1, 0.1, 12), np.full(20, 0.1)]
    h = make_history(val)
    raw = TopKPlateau(warmup=1).estimates(h)
    assert np.isnan(raw[9]) and raw[10] == pytest.approx(np.std(val[:10]))
    s0 = TopKPlateau(warmup=1).stop(h, 1e-6).stop_iter
    s2 = TopKPlateau(warmup=1, patience=2).stop(h, 1e-6).stop_iter
    assert raw[s0] < 1e-6 and s2 == s0 + 2


def test_oracle_and_full_budget():
    val = np.r_[np.linspace(1, 0.5, 30), np.full(10, 0.6)]
    test = val.copy()
    h = make_history(val, test=test)
    assert Oracle(warmup=1).stop(h, 0.0).stop_iter == 30
    d = FullBudget(warmup=1).stop(h, 0.0)
    assert d.stop_iter == 40 and not d.fired
