"""End-to-end runs with the real libraries at small sizes, through the CLI and the library."""

import json
import logging

import pytest
from click.testing import CliRunner

from autoterm.runner import RunError, RunSpec, run
from autoterm.trajectory import REQUIRED_KEYS, read_trajectory
from cli.main import cli

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
FAST_BO = {"num_restarts": 2, "raw_samples": 64}


def _cli_run(*args):
    res = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.parametrize(
    "model, dataset, extra",
    [
        ("xgboost", "breast_cancer", []),
        ("random_forest", "wine", []),
        ("mlp", "diabetes", ["model.options.epochs=3"]),
    ],
)
def test_each_model_writes_a_complete_run(tmp_path, model, dataset, extra):
    out = tmp_path / "run"
    _cli_run(
        model,
        "--dataset",
        dataset,
        "--budget",
        "8",
        "--folds",
        "3",
        "--out",
        str(out),
        "bo.num_restarts=2",
        "bo.raw_samples=64",
        "threads=1",
        *extra,
    )
    recs = read_trajectory(out / "trajectory.jsonl")
    assert [r["iteration"] for r in recs] == list(range(8))
    for r in recs:
        assert set(REQUIRED_KEYS) <= set(r)
        assert r["status"] == "ok", r.get("error")
        assert len(r["fold_scores"]) == 3
        assert r["val_score"] == pytest.approx(sum(r["fold_scores"]) / 3)
        assert r["test_score"] >= 0 and r["train_score"] >= 0 and r["eval_seconds"] > 0
    assert [r["source"] for r in recs[:5]] == ["sobol"] * 5
    for r in recs[5:]:
        assert r["source"] in ("logei", "fallback")
        assert r["optimizer_seconds"] > 0
        assert r["signals"]["ei_max"] >= 0 and 0 <= r["signals"]["pi_max"] <= 1
        assert len(r["gp"]["lengthscales"]) == len(r["config"])
    inc = min(recs, key=lambda r: r["val_score"])
    assert recs[-1]["incumbent_val"] == inc["val_score"]
    meta = json.loads((out / "run.json").read_text())
    assert meta["model"] == model and meta["seed"] == 0 and meta["split"]["folds"] == 3
    assert meta["split"]["n_train"] + meta["split"]["n_test"] == meta["n_rows"]
    assert meta["metric"] == ("rmse" if dataset == "diabetes" else "error")
    assert meta["dataset_fingerprint"] and meta["versions"]["botorch"]
    assert (out / "COMPLETED").exists()


def _spec(tmp_path, **kw):
    base = dict(
        model="random_forest",
        dataset="breast_cancer",
        budget=8,
        folds=3,
        out=str(tmp_path / "run"),
        threads=1,
        bo=dict(FAST_BO),
    )
    base.update(kw)
    return RunSpec(**base)


def test_finished_run_is_a_no_op(tmp_path, caplog):
    spec = _spec(tmp_path, budget=6)
    first = run(spec)
    before = (first.run_dir / "trajectory.jsonl").read_bytes()
    with caplog.at_level(logging.INFO):
        again = run(spec)
    assert again.skipped and again.n_records == 6
    assert (first.run_dir / "trajectory.jsonl").read_bytes() == before
    assert "already complete" in caplog.text


def test_interrupted_run_continues_to_the_same_trajectory(tmp_path):
    full = run(_spec(tmp_path, out=str(tmp_path / "full")))
    ref = read_trajectory(full.run_dir / "trajectory.jsonl")
    cut = run(_spec(tmp_path, out=str(tmp_path / "cut"), budget=8))
    path = cut.run_dir / "trajectory.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    # keep 6 whole records plus a torn seventh, and drop the completion marker
    path.write_text("".join(lines[:6]) + lines[6][:40])
    (cut.run_dir / "COMPLETED").unlink()
    run(_spec(tmp_path, out=str(tmp_path / "cut")))
    got = read_trajectory(path)
    assert [r["config"] for r in got] == [r["config"] for r in ref]
    assert [r["fold_scores"] for r in got] == [r["fold_scores"] for r in ref]
    assert [r["test_score"] for r in got] == [r["test_score"] for r in ref]


def test_same_seed_same_configurations_other_seed_differs(tmp_path):
    a = read_trajectory(
        run(_spec(tmp_path, out=str(tmp_path / "a"), budget=7)).run_dir / "trajectory.jsonl"
    )
    b = read_trajectory(
        run(_spec(tmp_path, out=str(tmp_path / "b"), budget=7)).run_dir / "trajectory.jsonl"
    )
    c = read_trajectory(
        run(_spec(tmp_path, out=str(tmp_path / "c"), budget=7, seed=1)).run_dir / "trajectory.jsonl"
    )
    assert [r["config"] for r in a] == [r["config"] for r in b]
    assert [r["val_score"] for r in a] == [r["val_score"] for r in b]
    assert [r["config"] for r in a] != [r["config"] for r in c]


def test_different_run_in_same_directory_is_refused(tmp_path):
    run(_spec(tmp_path, budget=5))
    with pytest.raises(RunError, match="different run"):
        run(_spec(tmp_path, budget=5, seed=3, dataset="wine"))


def test_budget_can_be_extended(tmp_path):
    run(_spec(tmp_path, budget=5))
    res = run(_spec(tmp_path, budget=7))
    assert not res.skipped
    assert len(read_trajectory(res.run_dir / "trajectory.jsonl")) == 7


@pytest.mark.parametrize("model", ["xgboost", "random_forest"])
def test_adult_from_local_data_dir_offline(tmp_path, shared_data, model):
    """openml:1590 resolves to the shared copy of adult: strings, NaNs, no network."""
    out = tmp_path / model
    _cli_run(
        model,
        "--dataset",
        "openml:1590",
        "--budget",
        "6",
        "--folds",
        "3",
        "--out",
        str(out),
        "dataset.max_rows=4000",
        "bo.num_restarts=2",
        "bo.raw_samples=64",
        "threads=1",
    )
    recs = read_trajectory(out / "trajectory.jsonl")
    assert len(recs) == 6 and all(r["status"] == "ok" for r in recs)
    assert min(r["val_score"] for r in recs) < 0.24  # better than the majority class
    meta = json.loads((out / "run.json").read_text())
    assert meta["task"] == "binary" and meta["n_rows"] == 4000
    assert str(shared_data) in meta["dataset_source"]


def test_failed_trials_are_recorded_and_not_reproposed(tmp_path, monkeypatch):
    from autoterm.objectives.random_forest import RandomForestObjective

    orig = RandomForestObjective.fit_predict

    def flaky(self, config, X_train, y_train, X_eval, seed):
        if config["max_depth"] == 1:
            raise RuntimeError("injected failure")
        return orig(self, config, X_train, y_train, X_eval, seed)

    monkeypatch.setattr(RandomForestObjective, "fit_predict", flaky)
    res = run(_spec(tmp_path, budget=10))
    recs = read_trajectory(res.run_dir / "trajectory.jsonl")
    assert len(recs) == 10
    failed = [r for r in recs if r["status"] == "failed"]
    assert failed and all("injected failure" in r["error"] for r in failed)
    keys = [json.dumps(r["config"], sort_keys=True) for r in recs]
    assert len(set(keys)) == len(keys)


def test_multirun_sweeps_on_the_joblib_launcher(tmp_path):
    """`-m` with a seed range runs one job per seed on joblib (2 processes), each its own dir."""
    import subprocess
    import sys

    out = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "cli.main",
        "run",
        "random_forest",
        "--dataset",
        "iris",
        "--seed",
        "0-1",
        "-m",
        "--budget",
        "5",
        "--folds",
        "3",
        "--out",
        str(out),
        "bo.num_restarts=2",
        "bo.raw_samples=64",
        f"results_dir={tmp_path / 'results'}",
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for s in (0, 1):
        d = out / "random_forest" / "iris" / f"seed={s}"
        assert (d / "COMPLETED").exists()
        assert len(read_trajectory(d / "trajectory.jsonl")) == 5
        assert json.loads((d / "run.json").read_text())["threads"] == 1
    assert list((tmp_path / "results" / "sweeps").glob("*/multirun.yaml"))
    assert not (tmp_path / "multirun.yaml").exists()


def test_online_stop_is_where_replay_of_the_full_run_stops(tmp_path):
    """replay ≡ online: `--stop conv --stop-knob 2` ends the run exactly where replay says."""
    import pandas as pd

    common = [
        "random_forest",
        "--dataset",
        "breast_cancer",
        "--folds",
        "3",
        "bo.num_restarts=2",
        "bo.raw_samples=64",
        "threads=1",
        "stopping.log=[conv,iqr]",
        "stopping.warmup=8",
    ]
    _cli_run(*common, "--budget", "16", "--out", str(tmp_path / "full"))
    table = tmp_path / "replay.csv"
    res = CliRunner().invoke(
        cli,
        ["replay", str(tmp_path / "full"), "--rules", "conv", "--out", str(table), "--jobs", "1"],
    )
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(table)["knob"]) == {10, 30, 50, 70, 90}
    full = read_trajectory(tmp_path / "full" / "trajectory.jsonl")
    # the logged online estimates are the replay's estimates
    from autoterm.stopping import load_history, make_rule

    conv = make_rule("conv", warmup=8)
    replay_est = conv.estimates(load_history(tmp_path / "full"))
    for r in full:
        if r["stopping"]:
            assert r["stopping"]["conv"]["estimate"] == replay_est[r["iteration"]]
    d = conv.stop(load_history(tmp_path / "full"), 2)
    assert d.fired and d.stop_iter < 16
    expected = d.stop_iter
    _cli_run(
        *common,
        "--budget",
        "16",
        "--out",
        str(tmp_path / "online"),
        "--stop",
        "conv",
        "--stop-knob",
        "2",
    )
    online = read_trajectory(tmp_path / "online" / "trajectory.jsonl")
    assert len(online) == expected
    assert [r["config"] for r in online] == [r["config"] for r in full[:expected]]
    stopped = json.loads((tmp_path / "online" / "stopped.json").read_text())
    assert stopped["rule"] == "conv" and stopped["stop_iter"] == expected
    # running the stopped run again is a no-op
    res = run(
        RunSpec(
            model="random_forest",
            dataset="breast_cancer",
            budget=16,
            folds=3,
            out=str(tmp_path / "online"),
            threads=1,
            bo=dict(FAST_BO),
            log_rules=["conv", "iqr"],
            stop="conv",
            stop_knob=2.0,
            warmup=8,
        )
    )
    assert res.skipped


def test_identity_records_defaults_and_old_run_files_still_resume(tmp_path):
    """The identity holds every BO and model default, so a run made with other settings is
    refused even when they were defaults then; a run.json of an older version (options given
    only) compares on today's defaults."""
    from autoterm.runner import resolve_identity

    spec = RunSpec(
        model="xgboost", dataset="breast_cancer", budget=6, folds=3, out=str(tmp_path / "r")
    )
    ident = spec.identity()
    assert ident["bo"]["gp_backend"] == "numpy" and ident["bo"]["num_restarts"] == 10
    assert ident["model_options"] == {"tree_method": "hist", "max_bin": 256}
    explicit = RunSpec(**{**spec.__dict__, "bo": {"gp_backend": "numpy", "raw_samples": 512}})
    assert explicit.identity() == ident
    old = {**ident, "bo": {}, "model_options": {}}  # what older versions wrote
    assert resolve_identity(old) == ident
    mlp = RunSpec(model="mlp", dataset="diabetes", model_options={"epochs": 3}).identity()
    assert mlp["model_options"]["batched_folds"] is True and mlp["model_options"]["epochs"] == 3

    run(RunSpec(**{**spec.__dict__, "threads": 1, "bo": dict(FAST_BO)}))
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["identity"]["bo"]["gp_backend"] == "numpy"
    with pytest.raises(RunError, match="different run"):
        run(
            RunSpec(
                **{
                    **spec.__dict__,
                    "budget": 7,
                    "threads": 1,
                    "bo": {**FAST_BO, "gp_backend": "botorch"},
                }
            )
        )
