"""The replay cache: keyed by what changes a rule's estimates, not by its threshold options."""

from autoterm.replay import RuleSpec, _params_key


def test_threshold_only_params_share_the_estimates_cache():
    base = RuleSpec("regret_bound", params={"beta_scale": 0.1})
    frozen = RuleSpec("regret_bound", params={"beta_scale": 0.1, "frozen_threshold": True})
    assert _params_key(base) == _params_key(frozen)
    assert _params_key(base) != _params_key(RuleSpec("regret_bound", params={"beta_scale": 0.2}))
    # the warm-up changes which checks have estimates: part of the key
    assert _params_key(base) != _params_key(
        RuleSpec("regret_bound", params={"beta_scale": 0.1, "warmup": 10})
    )
    assert _params_key(base) != _params_key(RuleSpec("emmr", params={"beta_scale": 0.1}))


def test_cache_is_recomputed_when_the_data_or_the_rule_version_changes(tmp_path, monkeypatch):
    """A cached estimate is reused only for the same trajectory and the same estimate code."""
    import json

    import numpy as np

    from autoterm.replay import CACHE, _cached_estimates
    from autoterm.stopping import History, make_rule
    from autoterm.stopping.baselines import Conv as ConvergenceRule

    rng = np.random.default_rng(0)
    val = rng.random(30)

    def hist(v):
        return History(val=v, test=v, folds=np.zeros((len(v), 0)), X=None, cost=np.ones(len(v)))

    spec = RuleSpec("conv")
    rule = make_rule("conv")
    calls = {"n": 0}
    real = ConvergenceRule.estimates

    def counting(self, h):
        calls["n"] += 1
        return real(self, h)

    monkeypatch.setattr(ConvergenceRule, "estimates", counting)
    a = _cached_estimates(tmp_path, spec, rule, hist(val))
    b = _cached_estimates(tmp_path, spec, rule, hist(val))
    assert calls["n"] == 1 and np.array_equal(a, b, equal_nan=True)
    changed = val.copy()
    changed[25] = -1.0  # same length, another trajectory: recomputed, not served stale
    c = _cached_estimates(tmp_path, spec, rule, hist(changed))
    assert calls["n"] == 2 and not np.array_equal(a, c, equal_nan=True)
    monkeypatch.setattr(ConvergenceRule, "estimate_version", 2)
    _cached_estimates(tmp_path, spec, rule, hist(changed))
    assert calls["n"] == 3
    assert len(json.loads((tmp_path / CACHE).read_text())) == 2  # one entry per version
