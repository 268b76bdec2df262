"""Experiment presets, sweeps on Hydra launchers, sweep progress, the authors' runs, reproduce."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from autoterm.paper_fetch import COMPLETE, RESULT_TABLE, cached_copy, resolve_paper_runs
from autoterm.paper_runs import PaperRunsError, import_paper_runs
from autoterm.sweep import PlannedRun, SweepProgress, count_records, format_seconds
from autoterm.trajectory import read_trajectory
from cli.config import CONF_DIR, group_options
from cli.main import cli
from cli.sweep import InputError, launcher_overrides, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT.parent / "shared" / "paper-runs"
TINY = ["bo.num_restarts=2", "bo.raw_samples=64"]
FIGURES = ("tradeoff", "stop_iterations", "calibration")


def _catalog_tasks(shared: Path) -> dict[str, str]:
    return {d["name"]: d["task"] for d in json.loads((shared / "catalog.json").read_text())}


# --------------------------------------------------------------------------------------------
# presets


def test_every_experiment_preset_composes_and_expands(shared_data, tmp_path):
    """Each preset composes (Hydra compose API), expands to valid runs in deterministic dirs."""
    presets = group_options("experiment")
    assert {"smoke", "laptop", "paper", "paper-replay"} <= set(presets)
    for exp in presets:
        plan = plan_sweep(exp, tmp_path / exp, [], [], require_grid=False)
        for s in plan.specs:
            assert Path(s.out) == tmp_path / exp / "runs" / s.model / Path(s.out).parent.name / (
                f"seed={s.seed}"
            )
            assert s.threads == 1
        keys = {(s.model, s.dataset, s.seed) for s in plan.specs}
        assert len(keys) == len(plan.specs), f"{exp}: two runs share a directory"


def test_smoke_preset_is_3_models_2_bundled_datasets_2_seeds(tmp_path):
    plan = plan_sweep("smoke", tmp_path, [], [])
    assert len(plan.specs) == 12
    assert {s.model for s in plan.specs} == {"xgboost", "random_forest", "mlp"}
    assert {s.dataset for s in plan.specs} == {"breast_cancer", "diabetes"}
    assert {s.seed for s in plan.specs} == {0, 1}
    assert all(s.folds == 3 and 20 < s.budget <= 40 for s in plan.specs)
    mlp = next(s for s in plan.specs if s.model == "mlp")
    xgb = next(s for s in plan.specs if s.model == "xgboost")
    assert "epochs" in mlp.model_options and "epochs" not in xgb.model_options  # per_model


def test_laptop_preset_uses_real_local_data_of_both_kinds(shared_data, tmp_path):
    plan = plan_sweep("laptop", tmp_path, [], [])
    tasks = _catalog_tasks(shared_data)
    datasets = {s.dataset for s in plan.specs}
    assert len(datasets) >= 6 and datasets <= set(tasks)
    kinds = {tasks[d] for d in datasets}
    assert "regression" in kinds and kinds & {"binary", "multiclass"}
    assert {s.model for s in plan.specs} == {"xgboost", "random_forest", "mlp"}
    assert {s.seed for s in plan.specs} == {0, 1, 2}
    assert all(s.folds >= 5 and s.budget >= 60 and s.max_rows for s in plan.specs)
    assert len(plan.specs) == 3 * len(datasets) * 3


def test_paper_preset_is_the_papers_grid(shared_data, tmp_path):
    plan = plan_sweep("paper", tmp_path, [], [])
    assert all(s.budget == 200 and s.folds == 10 for s in plan.specs)
    assert {s.seed for s in plan.specs} == set(range(10))
    assert {s.model for s in plan.specs} == {"xgboost", "random_forest", "mlp"}
    datasets = {s.dataset for s in plan.specs}
    assert len(datasets) >= 15 and all(re.fullmatch(r"openml:\d+", d) for d in datasets)
    # every one of the authors' 19 dataset names is accounted for in the preset
    text = (CONF_DIR / "experiment" / "paper.yaml").read_text()
    readme = (PAPER / "README.md").read_text() if PAPER.exists() else ""
    names = set(re.findall(r"\b((?:nyc|op100|openml|aa|tst)-[\w-]+?)_dpp\d", readme))
    assert len(names) == 19 or not readme
    for n in names:
        assert n in text, f"paper.yaml does not mention {n}"


def test_paper_replay_preset_imports_instead_of_sweeping(tmp_path):
    plan = plan_sweep("paper-replay", tmp_path, [], [], require_grid=False)
    assert plan.specs == []
    assert plan.reproduce["source"] == "paper-runs" and plan.reproduce["download"] is True
    with pytest.raises(InputError, match="autoterm reproduce paper-replay"):
        plan_sweep("paper-replay", tmp_path, [], [])


def test_command_line_overrides_replace_grid_axes(tmp_path):
    plan = plan_sweep("smoke", tmp_path, ["model=random_forest", "seed=3,4", "budget=7"], [])
    assert {(s.model, s.seed) for s in plan.specs} == {("random_forest", 3), ("random_forest", 4)}
    assert len(plan.specs) == 4 and all(s.budget == 7 for s in plan.specs)
    assert "seed=3,4" in plan.overrides and "experiment=smoke" in plan.overrides


def test_launcher_fields_can_be_overridden_with_the_launcher(shared_data, tmp_path):
    plan = plan_sweep(
        "paper", tmp_path, ["hydra.launcher.partition=cpu"], launcher_overrides("slurm", 50)
    )
    assert plan.overrides[:3] == [
        "experiment=paper",
        "hydra/launcher=slurm",
        "hydra.launcher.array_parallelism=50",
    ]
    assert plan.overrides[-1] == "hydra.launcher.partition=cpu"


def test_sweeping_a_key_that_is_not_in_the_run_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="cannot sweep 'budget'"):
        plan_sweep("smoke", tmp_path, ["budget=5,6"], [])


def test_bad_sweep_inputs_fail_with_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["sweep", "nope", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "choose one of" in res.output and "smoke" in res.output
    res = CliRunner().invoke(cli, ["sweep", "smoke", "--dry-run", "dataset.name=nope,iris"])
    assert res.exit_code == 2 and "nope" in res.output
    assert not (tmp_path / "x").exists()


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path):
    out = tmp_path / "smoke"
    res = CliRunner().invoke(cli, ["sweep", "smoke", "--dry-run", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "smoke: 12 runs" in res.output and "(0 complete)" in res.output
    assert not out.exists()


def test_launcher_overrides():
    assert launcher_overrides(None, None) == []
    assert launcher_overrides("joblib", 3) == ["hydra.launcher.n_jobs=3"]
    assert launcher_overrides("slurm", 50) == [
        "hydra/launcher=slurm",
        "hydra.launcher.array_parallelism=50",
    ]
    with pytest.raises(InputError):
        launcher_overrides("submitit_local", 2)


def test_slurm_launcher_config_composes():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["hydra/launcher=slurm", "hydra.launcher.partition=cpu"],
            return_hydra_config=True,
        )
    la = cfg.hydra.launcher
    assert la._target_.endswith("SlurmLauncher")
    assert (la.partition, la.cpus_per_task) == ("cpu", 1)
    assert la.timeout_min > 0 and la.max_num_timeout >= 1


# --------------------------------------------------------------------------------------------
# progress


def _planned(tmp_path: Path, n: int, budget: int = 4) -> list[PlannedRun]:
    return [
        PlannedRun("random_forest", "iris", s, tmp_path / "random_forest" / "iris" / f"seed={s}", 4)
        for s in range(n)
    ]


def _append(run_dir: Path, n: int, torn: bool = False) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "trajectory.jsonl").open("a") as fh:
        fh.write("{}\n" * n + ('{"iter' if torn else ""))


def test_count_records_ignores_a_torn_line(tmp_path):
    assert count_records(tmp_path / "none") == 0
    _append(tmp_path, 3, torn=True)
    assert count_records(tmp_path) == 3


def test_format_seconds():
    assert [format_seconds(s) for s in (5, 75, 3725)] == ["5s", "1m15s", "1h02m"]


def test_progress_logs_finished_runs_with_counts_and_eta(tmp_path, caplog):
    runs = _planned(tmp_path, 3)
    _append(runs[0].run_dir, 4)
    (runs[0].run_dir / "COMPLETED").write_text("done\n")
    status = tmp_path / "progress.json"
    prog = SweepProgress(runs, status_file=status, name="t", heartbeat=0)
    with caplog.at_level("INFO", logger="autoterm.sweep"):
        st = prog.start()
        assert (st.runs_done, st.evals_done, st.evals_total) == (1, 4, 12)
        assert "3 runs, 1 already complete, 8 evaluations to go" in caplog.text
        _append(runs[1].run_dir, 4)
        (runs[1].run_dir / "COMPLETED").write_text("done\n")
        _append(runs[2].run_dir, 2)
        st = prog.poll()
    assert (st.runs_done, st.evals_done) == (2, 10)
    assert st.eta_seconds is not None and st.eta_seconds >= 0
    assert "t: random_forest/iris/seed=1 done; 2/3 runs, 10/12 evaluations (83%)" in caplog.text
    assert json.loads(status.read_text())["runs_done"] == 2


def test_runs_finished_between_two_polls_are_counted_one_by_one(tmp_path, caplog):
    runs = _planned(tmp_path, 3)
    prog = SweepProgress(runs, name="t", heartbeat=0)
    with caplog.at_level("INFO", logger="autoterm.sweep"):
        prog.start()
        for r in runs[:2]:
            _append(r.run_dir, 4)
            (r.run_dir / "COMPLETED").write_text("done\n")
        prog.poll()
    assert "seed=0 done; 1/3 runs" in caplog.text and "seed=1 done; 2/3 runs" in caplog.text


def test_progress_warns_about_incomplete_runs_at_the_end(tmp_path, caplog):
    runs = _planned(tmp_path, 2)
    with caplog.at_level("INFO", logger="autoterm.sweep"):
        with SweepProgress(runs, interval=0.05, name="t"):
            _append(runs[0].run_dir, 4)
            (runs[0].run_dir / "COMPLETED").write_text("done\n")
    assert "seed=0 done; 1/2 runs" in caplog.text
    assert "1 of 2 runs not complete: random_forest/iris/seed=1" in caplog.text


# --------------------------------------------------------------------------------------------
# the authors' runs: local folder, download, cache


def _run_folders(n_reps: int = 2) -> tuple[str, list[str]]:
    name = "op100-9952_dpp1_RandomForest_cross_validation_nf10"
    return name, [f"{i:03d}" for i in range(n_reps)]


def _upstream_tarball(path: Path) -> None:
    """A .tar.gz laid out like GitHub's archive of the upstream repository (a small subset)."""
    name, reps = _run_folders()
    top = "bo-early-stopping-cffd7d36"

    def add(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w:gz") as tar:
        add(tar, f"{top}/README.md", b"upstream\n")
        add(tar, f"{top}/src/util.py", b"x = 1\n")
        for d in ("bo_runs_cv", "regrets_identity_cv_top0.5"):
            for r in reps:
                raw = gzip.decompress((PAPER / d / name / f"{r}.csv.gz").read_bytes())
                add(tar, f"{top}/bo_runs/{d}/{name}/{r}.csv", raw)
        add(
            tar,
            f"{top}/{RESULT_TABLE}",
            (PAPER / "result_identity_cv_top0.5.subset.csv").read_bytes(),
        )
        add(tar, "../evil/bo_runs_cv/x/000.csv", b"nope")


@pytest.fixture
def loopback_server(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (base URL, stop function)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            srv.shutdown()
            srv.server_close()
            stopped = True

    yield f"http://127.0.0.1:{srv.server_address[1]}", www, stop
    stop()


needs_paper = pytest.mark.skipif(not (PAPER / "bo_runs_cv").exists(), reason="no paper-runs")


@needs_paper
def test_a_local_folder_with_the_runs_is_used_as_it_is(tmp_path):
    assert resolve_paper_runs(PAPER, cache_dir=tmp_path, download=False) == PAPER
    assert not any(tmp_path.iterdir())


def test_offline_download_fails_with_one_clear_line(tmp_path):
    with pytest.raises(PaperRunsError, match=r"offline\? Pass a local copy") as exc:
        resolve_paper_runs(tmp_path / "missing", cache_dir=tmp_path, url="http://127.0.0.1:9/a.tgz")
    assert "\n" not in str(exc.value)
    assert not cached_copy(tmp_path).exists()
    with pytest.raises(PaperRunsError, match="--paper-runs DIR"):
        resolve_paper_runs(tmp_path / "missing", cache_dir=tmp_path, download=False)


def test_a_download_that_is_not_an_archive_is_refused(tmp_path, loopback_server):
    url, www, _ = loopback_server
    (www / "page.tar.gz").write_text("<html>rate limited</html>")
    with pytest.raises(PaperRunsError, match="not a readable .tar.gz"):
        resolve_paper_runs(None, cache_dir=tmp_path / "c", url=f"{url}/page.tar.gz")
    assert not cached_copy(tmp_path / "c").exists()


@needs_paper
def test_download_extracts_the_runs_and_is_cached(tmp_path, loopback_server):
    url, www, stop = loopback_server
    _upstream_tarball(www / "repo.tar.gz")
    cache = tmp_path / "cache"
    got = resolve_paper_runs(tmp_path / "missing", cache_dir=cache, url=f"{url}/repo.tar.gz")
    name, reps = _run_folders()
    assert got == cached_copy(cache)
    for d in ("bo_runs_cv", "regrets_identity_cv_top0.5"):
        assert sorted(p.name for p in (got / d / name).iterdir()) == [f"{r}.csv" for r in reps]
    assert (got / RESULT_TABLE).exists() and (got / COMPLETE).exists()
    assert not (got / "README.md").exists() and not (got / "src").exists()
    assert not (tmp_path / "evil").exists() and "x" not in os.listdir(got / "bo_runs_cv")
    meta = json.loads((got / COMPLETE).read_text())
    assert meta["files"]["bo_runs_cv"] == 2 and len(meta["sha256"]) == 64
    stop()  # offline from here: the cache answers
    assert resolve_paper_runs(None, cache_dir=cache, url=f"{url}/repo.tar.gz") == got
    dirs = import_paper_runs(got, tmp_path / "runs")
    assert [d.name for d in dirs] == ["seed=0", "seed=1"]


# --------------------------------------------------------------------------------------------
# real sweeps and the pipeline (subprocesses, tiny budgets)


def _autoterm(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def test_sweep_on_submitit_local(tmp_path):
    """A real submitit sweep (one process per job), each run in its own deterministic dir."""
    out = tmp_path / "sl"
    grid = ["model=random_forest", "dataset.name=iris", "seed=0,1", "budget=5", *TINY]
    proc = _autoterm(
        ["sweep", "smoke", "--launcher", "submitit_local", "--out", str(out), *grid], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for s in (0, 1):
        d = out / "runs" / "random_forest" / "iris" / f"seed={s}"
        assert (d / "COMPLETED").exists()
        assert len(read_trajectory(d / "trajectory.jsonl")) == 5
        assert json.loads((d / "run.json").read_text())["threads"] == 1
    assert list(out.glob("sweeps/*/.submitit/*/*_log.err"))
    assert "2/2 runs, 10/10 evaluations" in proc.stderr
    assert json.loads((out / "progress.json").read_text())["runs_done"] == 2


def test_joblib_sweep_skips_finished_runs_and_continues_interrupted_ones(tmp_path):
    out = tmp_path / "jl"
    grid = ["model=random_forest", "dataset.name=iris", "seed=0,1", "budget=6", *TINY]
    args = ["sweep", "smoke", "--jobs", "2", "--out", str(out), *grid]
    proc = _autoterm(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run0 = out / "runs" / "random_forest" / "iris" / "seed=0"
    run1 = out / "runs" / "random_forest" / "iris" / "seed=1"
    full1 = (run1 / "trajectory.jsonl").read_text().splitlines()
    before0 = (run0 / "trajectory.jsonl").read_text()
    # interrupt seed=1 after 2 evaluations (what a kill leaves: no COMPLETED, a torn line)
    (run1 / "COMPLETED").unlink()
    (run1 / "trajectory.jsonl").write_text("\n".join(full1[:2]) + "\n" + full1[2][:30])
    proc = _autoterm(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 runs, 1 already complete, 4 evaluations to go" in proc.stderr
    assert "already complete" in proc.stderr and "resuming after 2 of 6" in proc.stderr
    assert (run0 / "trajectory.jsonl").read_text() == before0
    again = [json.loads(x) for x in (run1 / "trajectory.jsonl").read_text().splitlines()]
    assert [r["config"] for r in again] == [json.loads(x)["config"] for x in full1]


def _check_outputs(root: Path) -> None:
    for f in ("summary.csv", "summary.md", "summary.tex", "summary_by_dataset.csv"):
        assert (root / "report" / f).exists(), f
    figs = root / "figures"
    for stem in FIGURES:
        assert (figs / f"{stem}.png").exists() and (figs / f"{stem}.pdf").exists(), stem
    assert list(figs.glob("trace_*.png"))
    meta = json.loads((root / "reproduce.json").read_text())
    assert {"report", "figures", "replay", "total"} <= set(meta["seconds"])


def test_reproduce_smoke_pipeline_on_a_tiny_budget(tmp_path):
    """`make reproduce PROFILE=smoke` in small: sweep, replay, report, the four figures."""
    out = tmp_path / "smoke"
    grid = ["model=random_forest", "dataset.name=iris", "seed=0,1", "budget=22", *TINY]
    proc = _autoterm(["reproduce", "smoke", "--out", str(out), "--jobs", "2", *grid], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_outputs(out)
    table = pd.read_csv(out / "replay" / "autoterm.csv")
    assert set(table["seed"]) == {0, 1} and "regret_bound" in set(table["rule"])
    assert "reproduce smoke:" in proc.stderr


@needs_paper
def test_reproduce_paper_replay_on_a_subset(tmp_path):
    """paper-replay from a local folder: import, both replays, fidelity, report, figures."""
    src = tmp_path / "src"
    name, reps = _run_folders()
    for d in ("bo_runs_cv", "regrets_identity_cv_top0.5"):
        (src / d / name).mkdir(parents=True)
        for r in reps:
            shutil.copy(PAPER / d / name / f"{r}.csv.gz", src / d / name)
    shutil.copy(PAPER / "result_identity_cv_top0.5.subset.csv", src)
    out = tmp_path / "pr"
    args = ["reproduce", "paper-replay", "--paper-runs", str(src), "--no-download"]
    proc = _autoterm([*args, "--out", str(out), "--jobs", "2", "--max-traces", "1"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_outputs(out)
    paper = pd.read_csv(out / "replay" / "paper.csv")
    assert len(paper) == 2 * 14 + 2 * 3  # 14 methods with the authors' bound, 3 Ours with ours
    fid = pd.read_csv(out / "report" / "fidelity.csv")
    assert (fid.loc[fid["bound_source"].fillna("") != "autoterm", "agree"] == 1.0).all()
    assert "authors' stop decisions reproduced (bound authors): 6/6" in proc.stderr
    assert (out / "report" / "fidelity.md").read_text().count("| RF |") == 17


def test_make_reproduce_passes_the_profile_and_launcher_on():
    def dry(*args: str) -> str:
        proc = subprocess.run(
            ["make", "-n", "reproduce", *args], capture_output=True, text=True, cwd=ROOT
        )
        assert proc.returncode == 0, proc.stderr
        return " ".join(proc.stdout.replace("\\\n", " ").split())

    assert "autoterm reproduce laptop" in dry()
    out = dry("PROFILE=paper", "LAUNCHER=slurm", "JOBS=100", "ARGS=budget=50")
    assert "autoterm reproduce paper --launcher slurm --jobs 100 budget=50" in out


def test_estimate_times_the_pieces_and_predicts_the_wall_time(tmp_path):
    from autoterm.estimate import estimate_sweep

    plan = plan_sweep("smoke", tmp_path, ["model=random_forest", "dataset.name=iris", *TINY], [])
    est = estimate_sweep(plan.specs, jobs=2, n_configs=2)
    (row,) = est.table()
    assert (row["model"], row["dataset"], row["runs"], row["failed"]) == (
        "random_forest",
        "iris",
        2,
        0,
    )
    assert row["eval_s"] > 0 and row["bo_step_s"] > 0 and row["rule_check_s"] > 0
    assert est.cpu_seconds == pytest.approx(2 * row["run_s"])
    assert row["run_s"] <= est.wall_seconds < est.cpu_seconds  # 2 equal runs on 2 jobs
    res = CliRunner().invoke(
        cli, ["sweep", "smoke", "--estimate", "--out", str(tmp_path / "e"), "seed=0", *TINY]
    )
    assert res.exit_code == 0, res.output
    assert "CPU-hours" in res.output and "on 8 parallel" not in res.output
    assert not (tmp_path / "e").exists()
