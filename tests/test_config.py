"""Hydra config tree: every group option composes into a valid run spec."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from autoterm.objectives import MODELS
from autoterm.runner import validate
from cli.config import CONF_DIR, group_options
from cli.hydra_app import spec_from_cfg


def _compose(overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_model_group_matches_the_library_registry():
    assert group_options("model") == sorted(MODELS)


@pytest.mark.parametrize("group", ["model", "dataset", "bo", "experiment"])
def test_every_group_option_composes_and_validates(group):
    options = group_options(group)
    assert options, f"config group {group}/ is empty"
    for opt in options:
        cfg = _compose([f"{group}={opt}"])
        spec = spec_from_cfg(cfg)
        validate(spec)
        if group == "model":
            assert spec.model == opt


def test_defaults_are_the_documented_ones():
    spec = spec_from_cfg(_compose([]))
    assert (spec.model, spec.dataset, spec.seed, spec.budget, spec.folds) == (
        "xgboost",
        "breast_cancer",
        0,
        200,
        10,
    )
    assert spec.n_init == 5 and spec.test_size == 0.2 and spec.out is None


def test_experiment_preset_overrides_only_what_it_names():
    spec = spec_from_cfg(_compose(["experiment=quick", "model=mlp"]))
    assert (spec.budget, spec.folds, spec.model) == (15, 3, "mlp")
    assert spec.model_options["epochs"] == 20


def test_multirun_spec_gets_one_thread_and_its_own_directory(tmp_path):
    cfg = _compose(["model=random_forest", "dataset.name=openml:32", "seed=3", f"out={tmp_path}"])
    spec = spec_from_cfg(cfg, multirun=True)
    assert spec.threads == 1
    assert Path(spec.out) == tmp_path / "random_forest" / "openml-32" / "seed=3"
    single = spec_from_cfg(cfg)
    assert single.threads is None and Path(single.out) == tmp_path
