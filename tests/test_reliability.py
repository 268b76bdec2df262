"""Reliability: the run-directory lock, failed trials (timeouts, non-finite scores), corrupt files,
and SIGKILL at random points of real runs followed by an exact resume."""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time

import numpy as np
import pytest

from autoterm.faults import command_env, count_records, kill_and_resume, run_command
from autoterm.runner import RunError, RunSpec, run, validate
from autoterm.trajectory import TRAJECTORY, TrajectoryError, lock_run_dir, read_trajectory

FAST_BO = {"num_restarts": 2, "raw_samples": 64}


def _spec(tmp_path, **kw):
    base = dict(
        model="random_forest",
        dataset="breast_cancer",
        budget=6,
        folds=3,
        out=str(tmp_path / "run"),
        threads=1,
        bo=dict(FAST_BO),
    )
    base.update(kw)
    return RunSpec(**base)


# --------------------------------------------------------------------------- lock


def test_a_locked_run_directory_is_refused_with_one_line(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with lock_run_dir(run_dir):
        with pytest.raises(RunError) as err:
            run(_spec(tmp_path))
    msg = str(err.value)
    assert "in use by another autoterm process" in msg and "\n" not in msg
    assert "--out" in msg
    assert not (run_dir / TRAJECTORY).exists()  # nothing was written
    # released on exit: the same run now goes through, and leaves the lock file harmlessly
    res = run(_spec(tmp_path))
    assert res.n_records == 6 and (run_dir / ".lock").exists()


def test_temporary_files_of_a_killed_atomic_write_are_cleaned_up(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".run.json.k1ll3d").write_text('{"half": ')
    (run_dir / ".stopped.json.x").write_text("")
    run(_spec(tmp_path, budget=5))
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == [".lock"]


def test_lock_file_left_by_a_killed_process_does_not_block(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text("pid 999999 on elsewhere\n")  # what kill -9 leaves behind
    with lock_run_dir(run_dir) as path:
        assert "pid" in path.read_text()


def test_second_process_on_the_same_run_directory_refuses(tmp_path):
    """Two real processes: the second exits non-zero with one line, the first is unharmed."""
    out = tmp_path / "run"
    cmd = run_command(out, budget=40)
    env = command_env()
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        start = time.monotonic()
        while count_records(out / TRAJECTORY) < 1:
            assert first.poll() is None, first.stderr.read().decode()[-2000:]
            assert time.monotonic() - start < 120
            time.sleep(0.05)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert first.poll() is None, "the first run ended before the second one got to the lock"
    finally:
        first.kill()
        first.wait()
    assert second.returncode != 0
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "in use by another autoterm process" in lines[0]
    assert "Traceback" not in second.stderr
    recs = read_trajectory(out / TRAJECTORY)
    assert [r["iteration"] for r in recs] == list(range(len(recs)))


# --------------------------------------------------------------------------- failed trials


def _objective(dataset="breast_cancer"):
    from autoterm.data import load_dataset, make_splits, prepare
    from autoterm.objectives import get_objective

    cls = get_objective("random_forest")
    ds = load_dataset(dataset)
    data = prepare(ds, make_splits(ds.y, ds.task, n_folds=3, seed=0), cls.preprocessing)
    obj = cls(data, threads=1, seed=0)
    return obj, obj.space.decode(np.full((1, obj.space.dim), 0.5))[0]


def _slow(monkeypatch, seconds):
    from autoterm.objectives.random_forest import RandomForestObjective

    orig = RandomForestObjective.fit_predict

    def slow(self, config, X_train, y_train, X_eval, seed):
        if config["max_depth"] >= 3:
            end = time.monotonic() + seconds
            while time.monotonic() < end:  # Python-level work, interruptible
                time.sleep(0.01)
        return orig(self, config, X_train, y_train, X_eval, seed)

    monkeypatch.setattr(RandomForestObjective, "fit_predict", slow)


def test_timeout_interrupts_an_evaluation_and_records_the_reason(monkeypatch):
    obj, cfg = _objective()
    cfg["max_depth"] = 4
    _slow(monkeypatch, 30)
    res = obj.evaluate(cfg, iteration=0, timeout=0.3)
    assert res.status == "failed"
    assert res.error.startswith("TrialTimeout") and "trial_timeout=0.3" in res.error
    assert res.eval_seconds < 5
    assert math.isnan(res.val_score) and res.fold_scores == []
    # the alarm is disarmed afterwards: a later evaluation without a limit is not interrupted
    cfg["max_depth"] = 2
    assert obj.evaluate(cfg, iteration=1).status == "ok"


def test_timeout_outside_the_main_thread_is_checked_between_folds(monkeypatch):
    obj, cfg = _objective()
    cfg["max_depth"] = 4
    _slow(monkeypatch, 0.2)
    out = {}
    t = threading.Thread(target=lambda: out.update(res=obj.evaluate(cfg, timeout=0.1)))
    t.start()
    t.join(60)
    assert out["res"].status == "failed" and "TrialTimeout" in out["res"].error


def test_fast_evaluation_within_the_limit_is_ok():
    obj, cfg = _objective()
    res = obj.evaluate(cfg, timeout=60)
    assert res.status == "ok" and len(res.fold_scores) == 3


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_scores_are_failures_with_the_reason(monkeypatch, bad):
    from autoterm.objectives.random_forest import RandomForestObjective

    obj, cfg = _objective("diabetes")
    orig = RandomForestObjective.fit_predict

    def broken(self, config, X_train, y_train, X_eval, seed):
        return [np.full(len(p), bad) for p in orig(self, config, X_train, y_train, X_eval, seed)]

    monkeypatch.setattr(RandomForestObjective, "fit_predict", broken)
    res = obj.evaluate(cfg)
    assert res.status == "failed" and "non-finite score" in res.error


def test_run_records_timeouts_as_failed_and_goes_on(tmp_path, monkeypatch):
    _slow(monkeypatch, 30)
    res = run(_spec(tmp_path, budget=7, trial_timeout=0.5))
    recs = read_trajectory(res.run_dir / TRAJECTORY)
    assert len(recs) == 7
    failed = [r for r in recs if r["status"] == "failed"]
    assert failed and all("trial_timeout=0.5" in r["error"] for r in failed)
    assert all(r["val_score"] is None for r in failed)
    keys = [json.dumps(r["config"], sort_keys=True) for r in recs]
    assert len(set(keys)) == len(keys)  # a failed configuration is never proposed again
    assert json.loads((res.run_dir / "run.json").read_text())["spec"]["trial_timeout"] == 0.5


def test_trial_timeout_is_validated_and_not_part_of_the_identity(tmp_path):
    with pytest.raises(RunError, match="trial_timeout"):
        validate(_spec(tmp_path, trial_timeout=0))
    assert _spec(tmp_path, trial_timeout=5).identity() == _spec(tmp_path).identity()


def test_trial_timeout_from_the_config(tmp_path):
    from hydra import compose, initialize_config_dir

    from cli.config import CONF_DIR
    from cli.hydra_app import spec_from_cfg

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        assert spec_from_cfg(compose(config_name="config")).trial_timeout is None
        cfg = compose(config_name="config", overrides=["trial_timeout=90"])
    assert spec_from_cfg(cfg).trial_timeout == 90.0


# --------------------------------------------------------------------------- corrupt files


def _finished(tmp_path, name="run", budget=6):
    return run(_spec(tmp_path, out=str(tmp_path / name), budget=budget)).run_dir


def test_resume_of_a_corrupt_trajectory_names_file_and_line(tmp_path):
    run_dir = _finished(tmp_path)
    path = run_dir / TRAJECTORY
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:30] + "\n" + "".join(lines[3:]))
    (run_dir / "COMPLETED").unlink()
    before = path.read_bytes()
    with pytest.raises(RunError, match=rf"{TRAJECTORY}:3:"):
        run(_spec(tmp_path, budget=8))
    assert path.read_bytes() == before  # never "repaired" away


def test_duplicated_record_is_an_error_not_a_resume(tmp_path):
    run_dir = _finished(tmp_path)
    path = run_dir / TRAJECTORY
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:3], lines[2], *lines[3:]]))  # as if two writers interleaved
    with pytest.raises(TrajectoryError, match=r":4:.*iteration 2 where 3"):
        read_trajectory(path)


def test_corrupt_run_json_is_one_line(tmp_path):
    run_dir = _finished(tmp_path)
    (run_dir / "run.json").write_text('{"identity": ')
    with pytest.raises(RunError, match="run.json: not valid JSON"):
        run(_spec(tmp_path))


def test_replay_of_a_corrupt_or_truncated_trajectory(tmp_path, caplog):
    from autoterm.replay import default_specs, replay
    from autoterm.stopping import load_history

    run_dir = _finished(tmp_path, budget=6)
    path = run_dir / TRAJECTORY
    good = path.read_bytes()
    path.write_bytes(good[: len(good) - 17])  # truncated mid last record
    assert len(load_history(run_dir)) == 5
    assert any(
        "torn" in r.getMessage() and f"{TRAJECTORY}:6" in r.getMessage() for r in caplog.records
    )
    lines = good.split(b"\n")
    lines[1] = lines[1][:20]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(TrajectoryError, match=rf"{path}:2:"):
        replay([run_dir], default_specs(["conv"]), n_jobs=1)


# --------------------------------------------------------------------------- bad input (CLI)


def test_corrupt_trajectory_through_the_cli_is_one_line(tmp_path):
    run_dir = _finished(tmp_path)
    path = run_dir / TRAJECTORY
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "garbage\n" + "".join(lines[1:]))
    (run_dir / "COMPLETED").unlink()
    proc = subprocess.run(
        run_command(run_dir, budget=6),
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}:2: not a valid")


# --------------------------------------------------------------------------- SIGKILL + resume


def _reference(tmp_path, budget):
    out = tmp_path / "reference"
    proc = subprocess.run(
        run_command(out, budget=budget),
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return read_trajectory(out / TRAJECTORY)


def _check_kills(tmp_path, budget, kills, seed):
    ref = _reference(tmp_path, budget)
    assert len(ref) == budget
    report = kill_and_resume(
        run_command(tmp_path / "killed", budget=budget),
        tmp_path / "killed",
        ref,
        kills=kills,
        seed=seed,
    )
    assert report.kills, report.log
    assert report.final_returncode == 0, report.log
    assert report.mismatches == [], report.log
    assert report.rows_lost == 0, report.log
    assert report.survived == len(report.kills), report.log
    return report


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    """Fast variant: 2 kills at random points of a real run."""
    _check_kills(tmp_path, budget=10, kills=2, seed=7)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_many_sigkills_then_resume_equals_an_uninterrupted_run(tmp_path, seed):
    report = _check_kills(tmp_path, budget=14, kills=6, seed=seed)
    assert len(report.kills) >= 4, report.log


def test_kill_harness_detects_a_different_run(tmp_path):
    """The comparison is not vacuous: another seed's run is reported as different."""
    from autoterm.faults import diff_trajectories

    a = [{"iteration": 0, "config": {"x": 1}, "val_score": 0.1, "eval_seconds": 1.0}]
    b = [{"iteration": 0, "config": {"x": 2}, "val_score": 0.1, "eval_seconds": 2.0}]
    assert diff_trajectories(a, a[:1]) == []
    assert diff_trajectories(a, [{**a[0], "eval_seconds": 9.0}]) == []
    assert diff_trajectories(a, b) == ["record 0 differs in config"]
    assert diff_trajectories(a, []) == ["1 records instead of 0"]
