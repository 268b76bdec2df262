"""Model families (objectives) by name; heavy libraries are imported on first use."""

from __future__ import annotations

import importlib

from autoterm.objectives.base import EvalResult, Objective, score

MODELS: dict[str, str] = {
    "xgboost": "autoterm.objectives.xgboost:XGBoostObjective",
    "random_forest": "autoterm.objectives.random_forest:RandomForestObjective",
    "mlp": "autoterm.objectives.mlp:MLPObjective",
}


def get_objective(name: str) -> type[Objective]:
    """The objective class registered as ``name``.

    Raises:
        KeyError: with the list of valid names.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    module, cls = MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["MODELS", "EvalResult", "Objective", "get_objective", "score"]
