import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import build_overrides, cli, seed_override

ROOT = Path(__file__).resolve().parents[1]


def test_seed_override_forms():
    assert seed_override("3") == ("seed=3", False)
    assert seed_override("0-4") == ("seed=range(0,5)", True)
    assert seed_override("2-2") == ("seed=range(2,3)", False)
    assert seed_override("0, 2,5") == ("seed=0,2,5", True)
    with pytest.raises(click.BadParameter):
        seed_override("4-1")
    with pytest.raises(click.BadParameter):
        seed_override("x")


def test_build_overrides_translates_flags_and_passes_extras():
    ovr, sweep = build_overrides(
        "xgboost", "openml:1590", "1", 15, 3, "/tmp/out dir", ("bo.n_init=7",)
    )
    assert ovr == [
        "model=xgboost",
        "dataset.name='openml:1590'",
        "seed=1",
        "budget=15",
        "folds=3",
        "out='/tmp/out dir'",
        "bo.n_init=7",
    ]
    assert not sweep


def test_build_overrides_detects_sweeps():
    assert build_overrides("xgboost,mlp", None, None, None, None, None)[1]
    ovr, sweep = build_overrides("mlp", "iris,wine", "0-1", None, None, None)
    assert sweep and "dataset.name=iris,wine" in ovr and "seed=range(0,2)" in ovr


def test_build_overrides_rejects_unknown_model_with_choices():
    with pytest.raises(click.BadParameter, match="random_forest"):
        build_overrides("xgb", None, None, None, None, None)


def test_help_is_instant_and_lists_commands():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0
    for cmd in ("run", "datasets"):
        assert cmd in res.output


def _commands(group: click.Group, prefix: str = "autoterm"):
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path)
        else:
            yield path, cmd


def test_readme_documents_every_command_and_option():
    readme = (ROOT / "README.md").read_text()
    for path, cmd in _commands(cli):
        assert path in readme, f"README does not mention `{path}`"
        for p in cmd.params:
            if isinstance(p, click.Option):
                longs = [o for o in p.opts if o.startswith("--")]
                assert any(o in readme for o in longs), f"README misses {longs} of `{path}`"


def test_readme_model_list_matches_config_group():
    readme = (ROOT / "README.md").read_text()
    for m in (ROOT / "experiments" / "conf" / "model").glob("*.yaml"):
        assert f"`{m.stem}`" in readme


def test_unknown_model_fails_before_anything_runs(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "lgbm", "--out", str(out)])
    assert res.exit_code != 0
    assert "xgboost" in res.output and "random_forest" in res.output and "mlp" in res.output
    assert not out.exists()


def test_unknown_dataset_lists_valid_names_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "xgboost", "--dataset", "nope", "--out", str(out)])
    assert res.exit_code != 0
    assert "breast_cancer" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--folds", "1"], "folds"),
        (["--budget", "3"], "initial design"),
        (["--seed", "0-2"], "-m"),
        (["bogus_key=1"], "bogus_key"),
        (["notanoverride"], "key=value"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, args, message):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "random_forest", "--out", str(out), *args])
    assert res.exit_code != 0
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_datasets_list_shows_bundled_and_local(shared_data):
    res = CliRunner().invoke(cli, ["datasets", "list"])
    assert res.exit_code == 0, res.output
    for name in ("breast_cancer", "diabetes", "adult", "pendigits"):
        assert name in res.output
    assert re.search(r"adult.*binary", res.output)


def test_every_bad_input_is_one_line_before_any_run_directory(tmp_path):
    """Each bad input of the reliability issue: non-zero exit, one `Error:` line, no run dir."""
    from autoterm.faults import bad_inputs

    problems = []
    for bad in bad_inputs(tmp_path / "data"):
        out = tmp_path / "run"
        res = CliRunner().invoke(cli, ["run", *bad.args, "--out", str(out)])
        errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
        if (
            res.exit_code == 0
            or len(errors) != 1
            or bad.expect not in errors[0]
            or "Traceback" in res.output
            or out.exists()
        ):
            problems.append(f"{bad.name}: exit {res.exit_code}, output {res.output!r}")
    assert not problems, "\n".join(problems)
