"""Stopping rules behind one contract (:class:`StoppingRule`), by name.

Rules: the paper's ``regret_bound`` (and ``regret_bound_authors``, the authors' logged bound),
the baselines ``conv``, ``ei``, ``pi``, ``iqr``, ``plateau``, the follow-up ``emmr``
(Ishibashi et al., 2023), and the references ``full_budget`` and ``oracle``. Each has a Hydra
config in ``experiments/conf/stopping/<name>.yaml`` (a test checks the two lists agree).
"""

from __future__ import annotations

import importlib
from typing import Any

from autoterm.stopping.base import WARMUP, StopDecision, StoppingRule
from autoterm.stopping.history import History, history_from_records, load_history

RULES: dict[str, str] = {
    "regret_bound": "autoterm.stopping.regret_bound:RegretBound",
    "regret_bound_authors": "autoterm.stopping.regret_bound:AuthorsRegretBound",
    "conv": "autoterm.stopping.baselines:Conv",
    "ei": "autoterm.stopping.baselines:MaxEI",
    "pi": "autoterm.stopping.baselines:MaxPI",
    "iqr": "autoterm.stopping.baselines:IQRImprovement",
    "plateau": "autoterm.stopping.baselines:TopKPlateau",
    "emmr": "autoterm.stopping.emmr:EMMR",
    "full_budget": "autoterm.stopping.references:FullBudget",
    "oracle": "autoterm.stopping.references:Oracle",
}


def rule_class(name: str) -> type[StoppingRule]:
    """The rule class registered as ``name``.

    Raises:
        KeyError: with the list of valid names.
    """
    if name not in RULES:
        raise KeyError(f"unknown stopping rule {name!r}; choose one of: {', '.join(RULES)}")
    module, cls = RULES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_rule(name: str, **params: Any) -> StoppingRule:
    """Instantiate the rule ``name`` with its parameters (``warmup`` included)."""
    return rule_class(name)(**params)


__all__ = [
    "RULES",
    "WARMUP",
    "History",
    "StopDecision",
    "StoppingRule",
    "history_from_records",
    "load_history",
    "make_rule",
    "rule_class",
]
