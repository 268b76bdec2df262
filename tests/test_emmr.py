"""EMMR (Ishibashi et al., AISTATS 2023): the KL term, the bound's parts and the rule."""

import math

import numpy as np
import pytest

from autoterm.stopping import History, make_rule
from autoterm.stopping.emmr import emmr_terms, gaussian_update_kl

FAST = {"n_sobol": 64, "num_restarts": 1}


def test_gaussian_update_kl_hand_value():
    # N(0, 1) updated by y = 1 with noise 1: N(0.5, 0.5);
    # KL = 0.5 * (0.5 + 0.25 - 1 - log 0.5) = 0.5 * (log 2 - 0.25)
    assert gaussian_update_kl(0.0, 1.0, 1.0, 1.0) == pytest.approx(0.5 * (math.log(2) - 0.25))
    # an observation at the prior mean still shrinks the variance
    assert gaussian_update_kl(2.0, 4.0, 2.0, 4.0) == pytest.approx(0.5 * (0.5 - 1 + math.log(2)))
    # no information (huge noise): no divergence
    assert gaussian_update_kl(0.0, 1.0, 3.0, 1e12) == pytest.approx(0.0, abs=1e-9)


def toy(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    return X, (X[:, 0] - 0.3) ** 2 + (X[:, 1] - 0.6) ** 2 + 0.01 * rng.standard_normal(n)


def test_terms_are_consistent():
    X, y = toy(30)
    r = emmr_terms(X, y, **FAST)
    assert r["delta_t"] == pytest.approx(
        r["delta_mu"] + r["v"] + r["kappa"] * math.sqrt(r["kl"] / 2)
    )
    assert r["kappa"] > 0 and r["kl"] >= 0 and r["v"] >= 0 and r["tau"] > 0
    assert r["ratio"] == pytest.approx(r["delta_t"] / r["tau"])
    # a cache shares the fit of the first t - 1 points with the next check
    cache = {}
    emmr_terms(X[:-1], y[:-1], **FAST, cache=cache)
    assert len(cache) == 2
    emmr_terms(X, y, **FAST, cache=cache)
    assert len(cache) == 3


def test_a_repeated_point_moves_the_posterior_less_than_a_new_optimum():
    X, y = toy(30)
    same = emmr_terms(np.vstack([X, X[np.argmax(y)]]), np.r_[y, y.max()], **FAST)
    best = emmr_terms(np.vstack([X, [[0.3, 0.6]]]), np.r_[y, y.min() - 0.05], **FAST)
    assert best["delta_t"] > same["delta_t"]
    assert best["delta_mu"] > same["delta_mu"]


def test_rule_estimates_threshold_and_signal_reuse():
    X, y = toy(30)
    n = len(y)
    h = History(
        val=y,
        test=y,
        folds=np.tile(y[:, None], (1, 3)),
        X=X,
        cost=np.ones(n),
        signals={},
        n_test_over_n_train=0.5,
    )
    r = make_rule("emmr", warmup=25, **FAST)
    est = r.estimates(h)
    assert np.isnan(est[:25]).all() and np.isfinite(est[25:]).all()
    assert est[28] == pytest.approx(emmr_terms(X[:28], y[:28], **FAST, seed=_seed(28))["ratio"])
    np.testing.assert_array_equal(r.thresholds(h, 2.0), np.full(n + 1, 2.0))
    d = r.stop(h, float(np.nanmax(est)) * 2)  # a knob above every estimate fires at once
    assert d.fired and d.stop_iter == 25
    # logged estimates are reused, not recomputed
    h.signals["emmr"] = np.full(n, 0.123)
    assert r.estimates(h)[26] == 0.123 and r.estimate_at(h, 26) == 0.123


def _seed(t):
    from autoterm.stopping.regret_bound import check_seed

    return check_seed(0, t)


def test_online_emmr_reuses_the_loops_fits_and_equals_replay(tmp_path, monkeypatch):
    """Online, EMMR's two GPs are the BO loop's own fits (no refit), and its logged estimates
    are exactly what a replay of the stored run computes from scratch."""
    import autoterm.bo.numpy_gp as npgp
    from autoterm.runner import RunSpec, run
    from autoterm.stopping import load_history
    from autoterm.trajectory import read_trajectory

    calls = {"n": 0}
    real_fit = npgp.fit_numpy_gp

    def counting_fit(X, y, *a, **k):
        calls["n"] += 1
        return real_fit(X, y, *a, **k)

    monkeypatch.setattr(npgp, "fit_numpy_gp", counting_fit)
    out = tmp_path / "run"
    run(
        RunSpec(
            model="random_forest",
            dataset="breast_cancer",
            budget=12,
            folds=3,
            out=str(out),
            threads=1,
            bo={"num_restarts": 2, "raw_samples": 64},
            log_rules=["emmr"],
            warmup=6,
        )
    )
    recs = read_trajectory(out / "trajectory.jsonl")
    bo_fits = sum(1 for r in recs if r["source"] != "sobol")
    assert calls["n"] == bo_fits  # every GP fit of the run is the loop's; EMMR fitted none
    online = [r["stopping"]["emmr"]["estimate"] for r in recs if r["stopping"]]
    assert len(online) == 12 - 6 and all(math.isfinite(v) for v in online)
    replay = make_rule("emmr", warmup=6).estimates(load_history(out))
    # replay refits everything (its own cache): the same values
    assert np.allclose(online, replay[6:12], rtol=1e-9, atol=0)
