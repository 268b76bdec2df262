"""The paper's rule: beta_t, the statistical error, the GP regret bound and the two rules."""

import math

import numpy as np
import pytest
import torch

from autoterm.stopping import History
from autoterm.stopping.regret_bound import (
    AuthorsRegretBound,
    BoundResult,
    RegretBound,
    beta_t,
    fingerprint,
    negative_lcb,
    regret_bound,
    select_top,
    statistical_error,
)

FAST = {"n_sobol": 128, "num_restarts": 2}


def history(val, folds, signals=None, X=None, ratio=0.5):
    val = np.asarray(val, float)
    n = len(val)
    return History(
        val=val,
        test=val + 0.01,
        folds=np.asarray(folds, float).reshape(n, -1),
        X=np.random.default_rng(0).random((n, 2)) if X is None else X,
        cost=np.ones(n),
        signals=signals or {},
        n_test_over_n_train=ratio,
    )


def toy(n=15, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 1))
    return X, np.sin(6 * X[:, 0]) + 0.05 * rng.standard_normal(n)


def test_beta_t_hand_value():
    # 0.2 * 2 * log(3 * 20^2 * pi^2 / 0.6) = 0.4 * log(19739.2088...) = 0.4 * 9.890362...
    assert beta_t(3, 20) == pytest.approx(0.4 * math.log(1200 * math.pi**2 / 0.6), rel=1e-12)
    assert beta_t(3, 20) == pytest.approx(3.956145, abs=1e-6)
    assert beta_t(9, 50, delta=0.05, scale=1.0) == pytest.approx(
        2 * math.log(9 * 2500 * math.pi**2 / 0.3)
    )


def test_statistical_error_hand_value():
    # std([.1, .2, .3], ddof=0) = sqrt(2/3) * 0.1; sqrt(1/3 + 1/2) = sqrt(5/6)
    expected = math.sqrt(5 / 6) * math.sqrt(2 / 3) * 0.1
    assert statistical_error(np.array([0.1, 0.2, 0.3]), 0.5) == pytest.approx(expected)
    assert expected == pytest.approx(0.0745356, abs=1e-7)
    assert math.isnan(statistical_error(np.array([]), 0.5))


def test_select_top_keeps_the_best_in_order_and_earliest_on_ties():
    y = np.array([5.0, 1.0, 3.0, 1.0, 2.0])
    assert select_top(y, top_fraction=0.5, min_points=2).tolist() == [1, 3]
    assert select_top(y, top_fraction=0.5, min_points=3).tolist() == [1, 3, 4]
    assert select_top(y, top_fraction=0.5, min_points=9).tolist() == [0, 1, 2, 3, 4]
    assert select_top(np.zeros(4), 0.5, 2).tolist() == [0, 1]


def test_negative_lcb_is_botorch_ucb_with_maximize_false():
    from botorch.acquisition import UpperConfidenceBound

    from autoterm.bo.surrogate import fit_gp

    X, y = toy()
    model = fit_gp(X, y)
    g = torch.linspace(0, 1, 101, dtype=torch.float64).reshape(-1, 1, 1)
    with torch.no_grad():
        ours = negative_lcb(model, 2.0)(g)
        ucb = UpperConfidenceBound(model, beta=2.0, maximize=False)(g)
        post = model.posterior(g)
        lcb = post.mean.reshape(-1) - math.sqrt(2.0) * post.variance.sqrt().reshape(-1)
    torch.testing.assert_close(ours, ucb, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(ours, -lcb, atol=1e-8, rtol=1e-8)


def test_regret_bound_matches_a_dense_grid_of_the_same_model():
    X, y = toy()
    cache = {}
    r = regret_bound(X, y, n_sobol=256, seed=3, cache=cache, backend="botorch")
    assert r.gp_ok and r.warning == "" and r.n_fit == 15
    assert r.beta == pytest.approx(beta_t(1, 15))
    model = cache[(fingerprint(X, y), 3, "botorch")]
    g = torch.linspace(0, 1, 100_001, dtype=torch.float64).reshape(-1, 1, 1)  # marginals
    with torch.no_grad():
        p = model.posterior(g)
        lcb = p.mean.reshape(-1) - math.sqrt(r.beta) * p.variance.sqrt().reshape(-1)
        pt = model.posterior(torch.as_tensor(X).unsqueeze(1))
        ucb = pt.mean.reshape(-1) + math.sqrt(r.beta) * pt.variance.sqrt().reshape(-1)
    grid_min = float(lcb.min())
    assert grid_min - 1e-4 <= r.lcb_min <= grid_min + 1e-6
    assert r.ucb_min == pytest.approx(float(ucb.min()), abs=1e-9)
    assert r.bound == pytest.approx(r.ucb_min - r.lcb_min)
    assert r.bound > 0
    # the same inputs give the same bound; the cached model is reused
    kw = {"n_sobol": 256, "seed": 3, "backend": "botorch"}
    assert regret_bound(X, y, cache=cache, **kw).bound == r.bound
    assert regret_bound(X, y, **kw).bound == pytest.approx(r.bound, abs=1e-9)


@pytest.mark.parametrize("noise", [False, True])
def test_numpy_backend_matches_a_dense_grid_and_botorch(noise):
    X, y = toy()
    cache = {}
    r = regret_bound(X, y, n_sobol=256, seed=3, cache=cache, observation_noise=noise)
    assert r.gp_ok and r.n_fit == 15
    gp = cache[(fingerprint(X, y), 3, "numpy")]
    mu, sd = gp.predict(np.linspace(0, 1, 100_001).reshape(-1, 1), observation_noise=noise)
    grid_min = float((mu - math.sqrt(r.beta) * sd).min())
    assert grid_min - 1e-4 <= r.lcb_min <= grid_min + 1e-6
    mu_t, sd_t = gp.predict(X, observation_noise=noise)
    assert r.ucb_min == pytest.approx(float((mu_t + math.sqrt(r.beta) * sd_t).min()), abs=1e-9)
    # the same model through BoTorch/GPyTorch gives the same bound
    b = regret_bound(X, y, n_sobol=256, seed=3, observation_noise=noise, backend="botorch")
    assert r.bound == pytest.approx(b.bound, rel=0.02)


def test_unknown_backend_is_an_error():
    X, y = toy()
    with pytest.raises(ValueError, match="backend"):
        regret_bound(X, y, backend="gpy")


def test_refinement_never_raises_the_lcb_minimum():
    X, y = toy(12, seed=1)
    coarse = regret_bound(X, y, n_sobol=16, num_restarts=0)
    fine = regret_bound(X, y, n_sobol=16, num_restarts=2)
    assert fine.lcb_min <= coarse.lcb_min + 1e-12
    assert fine.ucb_min == pytest.approx(coarse.ucb_min)


def test_fits_only_the_best_points():
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 2)), rng.random(30)
    cache = {}
    r = regret_bound(X, y, top_fraction=0.5, min_points=10, cache=cache, **FAST)
    assert r.n_fit == 15
    idx = np.argsort(y)[:15]
    idx.sort()
    assert (fingerprint(X[idx], y[idx]), 0, "numpy") in cache


@pytest.mark.parametrize(
    "X, y",
    [
        (np.random.default_rng(0).random((10, 2)), np.r_[np.zeros(9), np.nan]),
        (np.random.default_rng(0).random((10, 2)), np.r_[np.zeros(9), np.inf]),
        (np.random.default_rng(0).random((1, 2)), np.zeros(1)),
        (np.random.default_rng(0).random((10, 2)), np.zeros(9)),
    ],
)
def test_failures_give_nan_and_never_raise(X, y):
    r = regret_bound(X, y, **FAST)
    assert math.isnan(r.bound) and not r.gp_ok and r.warning


@pytest.mark.parametrize("backend", ["numpy", "botorch"])
def test_fit_errors_are_caught(monkeypatch, backend):
    import autoterm.bo.numpy_gp as numpy_gp
    import autoterm.bo.surrogate as surrogate

    def boom(*a, **k):
        raise RuntimeError("not positive definite")

    monkeypatch.setattr(surrogate, "fit_gp", boom)
    monkeypatch.setattr(numpy_gp, "fit_numpy_gp", boom)
    X, y = toy()
    r = regret_bound(X, y, backend=backend, **FAST)
    assert math.isnan(r.bound) and not r.gp_ok and "not positive definite" in r.warning
    assert r.beta == pytest.approx(beta_t(1, 15))


def test_constant_scores_do_not_raise():
    X = np.random.default_rng(0).random((12, 2))
    r = regret_bound(X, np.full(12, 0.3), **FAST)
    assert r.gp_ok is False or r.bound >= -1e-9


# ---- the rules ------------------------------------------------------------------------------

# Incumbent changes at t = 3 (record 2 is best) and t = 5 (record 4): its fold std shrinks.
VAL = [0.5, 0.4, 0.3, 0.35, 0.2, 0.6, 0.7, 0.8]
FOLDS = [[v - 0.1, v, v + 0.1] if i < 4 else [v - 0.01, v, v + 0.01] for i, v in enumerate(VAL)]
EPS_WIDE = statistical_error(np.array(FOLDS[2]), 0.5)  # incumbent record 2 (t = 3, 4)
EPS_NARROW = statistical_error(np.array(FOLDS[4]), 0.5)  # incumbent record 4 (t >= 5)


def test_thresholds_updated_and_frozen():
    h = history(VAL, FOLDS)
    upd = RegretBound(warmup=3).thresholds(h, 2.0)
    frz = RegretBound(warmup=3, frozen_threshold=True).thresholds(h, 2.0)
    assert upd.shape == frz.shape == (9,)
    assert upd[3] == upd[4] == pytest.approx(2 * EPS_WIDE)
    assert np.allclose(upd[5:], 2 * EPS_NARROW)
    assert np.allclose(frz[3:], 2 * EPS_WIDE)
    assert math.isnan(upd[0])


def test_updated_and_frozen_thresholds_stop_at_different_checks():
    # a precomputed bound (as a replay stores it): above both thresholds at t = 3, 4, then
    # between the narrow (updated) and the wide (frozen) one
    bound = np.full(9, np.nan)  # checks 0..N (a per-record signal may also hold check N)
    bound[3:5] = 2 * EPS_WIDE
    bound[5:] = 0.5 * (EPS_WIDE + EPS_NARROW)
    h = history(VAL, FOLDS, signals={"regret_bound": bound})
    upd, frz = RegretBound(warmup=3), RegretBound(warmup=3, frozen_threshold=True)
    assert frz.stop(h, 1.0).stop_iter == 5
    d = upd.stop(h, 1.0)
    assert not d.fired and d.stop_iter == 8  # bound never below the updated eps
    # below both thresholds only from t = 6: both stop there
    bound2 = np.full(9, 1.0)
    bound2[6:] = 0.5 * EPS_NARROW
    h2 = history(VAL, FOLDS, signals={"regret_bound": bound2})
    assert upd.stop(h2, 1.0).stop_iter == frz.stop(h2, 1.0).stop_iter == 6


def test_warmup_is_respected_and_stored_checks_are_not_recomputed(monkeypatch):
    computed = []

    def fake(self, h, t, cache=None):
        computed.append(t)
        return BoundResult(0.0, 0.0, 0.0, 1.0, 4, True)

    monkeypatch.setattr(RegretBound, "bound_at", fake)
    stored = np.r_[np.zeros(7), np.nan]  # record t = check t: checks 0..6 stored, 7 missing
    h = history(VAL, FOLDS, signals={"regret_bound": stored})
    r = RegretBound(warmup=4)
    est = r.estimates(h)
    assert computed == [7, 8]
    assert np.isnan(est[:4]).all() and (est[4:] == 0).all()
    assert r.stop(h, 1.0).stop_iter == 4  # would fire at once, but not before the warm-up
    computed.clear()
    assert r.estimate_at(h, 5) == 0.0 and computed == []
    assert r.estimate_at(h, 8) == 0.0 and computed == [8]


def test_estimates_compute_missing_checks_and_estimate_at_agrees():
    rng = np.random.default_rng(1)
    n = 21
    X = rng.random((n, 2))
    val = ((X - 0.3) ** 2).sum(1) + 0.01 * rng.standard_normal(n)
    val[7] = np.nan  # a failed evaluation is skipped
    folds = val[:, None] + rng.normal(0, 0.01, (n, 3))
    h = history(val, folds, X=X)
    r = RegretBound(warmup=20, min_points=10, **FAST)
    est = r.estimates(h)
    assert est.shape == (n + 1,)
    assert np.isnan(est[:20]).all() and np.isfinite(est[20:]).all()
    # online (one fit, prefix only) equals the replay value at the same check
    assert r.estimate_at(h, 21) == pytest.approx(est[21], rel=1e-9, abs=1e-12)


def test_no_fold_scores_gives_a_constant_threshold():
    h = history(VAL, np.zeros((8, 0)))
    thr = RegretBound(constant_threshold=0.02).thresholds(h, 2.0)
    assert np.allclose(thr, 0.04)
    assert np.allclose(RegretBound().thresholds(h, 1.0), 0.01)


def test_missing_X_gives_nan_not_an_error():
    h = history(VAL, FOLDS)
    h.X = None
    assert np.isnan(RegretBound(warmup=3).estimates(h)).all()


def test_authors_rule_reads_the_logged_signals():
    bound = np.array([np.nan, np.nan, np.nan, 0.30, 0.25, 0.15, 0.12, 0.05])
    std = np.array([np.nan, np.nan, np.nan, 0.10, 0.10, 0.05, 0.05, 0.05])
    h = history(VAL, FOLDS, signals={"authors_regret_bound": bound, "authors_incumbent_std": std})
    upd = AuthorsRegretBound(warmup=3)
    frz = AuthorsRegretBound(warmup=3, frozen_threshold=True)
    assert np.allclose(upd.estimates(h)[3:8], bound[3:])
    assert np.isnan(upd.estimates(h)[8])
    assert np.allclose(frz.thresholds(h, 2.0)[3:8], 0.2)
    assert frz.stop(h, 2.0).stop_iter == 5  # 0.15 < 2 * 0.10 (frozen at t = 3)
    assert upd.stop(h, 2.0).stop_iter == 7  # 0.05 < 2 * 0.05 only at t = 7
    assert upd.estimate_at(h, 6) == pytest.approx(0.12)
    assert AuthorsRegretBound.name == "regret_bound_authors"
    assert RegretBound.default_knobs == (1.0, 2.38, 4.76)


def test_a_failed_fit_in_the_rule_is_a_logged_warning_and_no_stop(monkeypatch, caplog):
    import autoterm.bo.numpy_gp as numpy_gp

    def boom(*a, **k):
        raise RuntimeError("not positive definite")

    monkeypatch.setattr(numpy_gp, "fit_numpy_gp", boom)
    rng = np.random.default_rng(0)
    h = history(rng.random(25), rng.random((25, 3)))
    rule = RegretBound(warmup=22, **FAST)
    with caplog.at_level("WARNING", logger="autoterm.stopping.regret_bound"):
        d = rule.stop(h, 1e9)
    assert not d.fired and d.stop_iter == 25
    assert sum("no bound at check" in r.message for r in caplog.records) == 4  # checks 22..25
    assert "not positive definite" in caplog.records[0].message
