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
