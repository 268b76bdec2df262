"""``autoterm sweep`` and ``autoterm reproduce``: experiment presets on Hydra launchers.

A preset (``experiments/conf/experiment/<name>.yaml``) names its grid in
``hydra.sweeper.params`` (``model``, ``dataset.name``, ``seed``). ``autoterm sweep`` expands
that grid the way Hydra's basic sweeper does (command-line overrides of the same key win), checks
every run before launching, then hands the whole grid to one Hydra multirun on the chosen
launcher while this process follows the run directories (:class:`autoterm.sweep.SweepProgress`).
Run directories are ``<out>/runs/<model>/<dataset>/seed=<s>``: deterministic, so a sweep started
again skips finished runs and continues interrupted ones. ``autoterm reproduce`` chains sweep (or
the authors' runs), replay, report and figures under ``results/<profile>/``.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from cli.config import CONF_DIR, group_options

log = logging.getLogger("autoterm")

SWEEP_KEYS = ("model", "dataset.name", "seed")
LAUNCHERS = ("joblib", "submitit_local", "submitit_slurm", "slurm")


class InputError(click.ClickException):
    """Bad input: one line ``Error: <problem>; <fix>``, exit status 2."""

    exit_code = 2


@dataclass
class SweepPlan:
    """An expanded preset: its runs (one spec each) and the overrides that launch it.

    Attributes:
        experiment: the preset's name.
        root: where the sweep writes (``runs/``, ``sweeps/``, ``progress.json``).
        specs: one run spec per grid point, ``out`` = its run directory.
        overrides: the Hydra overrides of the multirun (the grid itself comes from the preset).
        reproduce: the preset's ``reproduce`` block (what ``autoterm reproduce`` does with it).
    """

    experiment: str
    root: Path
    specs: list[Any]
    overrides: list[str]
    reproduce: dict[str, Any]

    def planned(self) -> list[Any]:
        """The runs as :class:`autoterm.sweep.PlannedRun`."""
        from autoterm.sweep import PlannedRun

        return [PlannedRun(s.model, s.dataset, s.seed, Path(s.out), s.budget) for s in self.specs]


def _compose(overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except Exception as exc:  # hydra's override / composition errors
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
        raise InputError(
            f"bad override: {msg}; check the key=value pairs against experiments/conf/"
        ) from exc
    finally:
        GlobalHydra.instance().clear()


def _value_str(v: Any) -> str:
    from cli.main import _quote

    return _quote(v) if isinstance(v, str) else str(v)


def expand_grid(params: dict[str, Any], extra: list[str]) -> tuple[dict[str, list[Any]], list[str]]:
    """The grid axes of a preset and the overrides left for composition.

    Args:
        params: the preset's ``hydra.sweeper.params`` (key → ``"a,b"``, ``"range(0,3)"``, ...).
        extra: command-line overrides; one on a grid key (sweep or single value) replaces that
            axis, as in Hydra's basic sweeper.

    Returns:
        ``axes`` (key → values, in order) and the overrides that are not grid axes.

    Raises:
        InputError: a grid over another key than ``model``, ``dataset.name`` or ``seed`` (the
            run directory is ``<model>/<dataset>/seed=<s>``: other keys would share it).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    axes: dict[str, list[Any]] = {}
    rest: list[str] = []
    try:
        preset = parser.parse_overrides([f"{k}={v}" for k, v in params.items()])
        user = parser.parse_overrides(list(extra))
    except Exception as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"bad override: {msg}; write key=value") from exc
    for o, line in [(o, None) for o in preset] + list(zip(user, extra, strict=True)):
        key = o.get_key_element()
        if o.is_sweep_override() or (line is None) or key in axes:
            if key not in SWEEP_KEYS:
                raise InputError(
                    f"cannot sweep {key!r}: a preset sweeps only {', '.join(SWEEP_KEYS)} (runs "
                    "live in <model>/<dataset>/seed=<s>); set it to one value, or run another "
                    "--out per value"
                )
            if o.is_sweep_override():
                if not o.is_discrete_sweep():
                    raise InputError(f"{key}: interval sweeps are not supported; list the values")
                axes[key] = list(o.sweep_iterator())
            else:
                axes[key] = [o.value()]
        else:
            rest.append(line)
    return axes, rest


def plan_sweep(
    experiment: str,
    root: Path,
    extra: list[str],
    launcher: list[str],
    *,
    require_grid: bool = True,
) -> SweepPlan:
    """Expand and check a preset's grid (see :func:`expand_grid`); nothing is written.

    Args:
        experiment: the preset's name.
        root: the sweep's root (runs go to ``root/runs``).
        extra: command-line overrides.
        launcher: overrides choosing the launcher (:func:`launcher_overrides`).
        require_grid: fail when the preset has no ``hydra.sweeper.params`` (``False``: an empty
            plan, e.g. ``paper-replay``, which imports runs instead).

    Raises:
        InputError: unknown preset, bad override, a preset without a grid, or a run that cannot
            start (unknown model, dataset or rule, budget below the initial design, ...).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from autoterm.runner import RunError, dataset_slug, validate
    from cli.hydra_app import spec_from_cfg

    if experiment not in group_options("experiment"):
        raise InputError(
            f"unknown experiment {experiment!r}; choose one of: "
            + ", ".join(group_options("experiment"))
        )
    base = [f"experiment={experiment}", *launcher]  # launcher: hydra.launcher.* keys compose
    try:
        parsed = OverridesParser.create().parse_overrides(list(extra))
    except Exception as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"bad override: {msg}; write key=value") from exc
    single = [e for o, e in zip(parsed, extra, strict=True) if not o.is_sweep_override()]
    cfg0 = _compose([*base, *single])
    node = cfg0.get("reproduce")
    repro = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    params = dict(cfg0.hydra.sweeper.params or {})
    axes, rest = expand_grid(params, extra)
    if not axes and require_grid:
        hint = (
            f"`autoterm reproduce {experiment}`"
            if repro.get("source") == "paper-runs"  # type: ignore[union-attr]
            else "`autoterm run`"
        )
        raise InputError(
            f"experiment {experiment!r} has no grid (hydra.sweeper.params); use {hint}"
        )
    common = [*base, *rest, f"out={_value_str(str(root / 'runs'))}"]
    others = [k for k in axes if k not in ("dataset.name", "seed")]
    specs = []
    cache: dict[tuple, Any] = {}
    for combo in itertools.product(*axes.values()) if axes else []:
        point = dict(zip(axes, combo, strict=True))
        key = tuple((k, point[k]) for k in others)
        if key not in cache:
            cfg = _compose([*common, *[f"{k}={_value_str(v)}" for k, v in key]])
            cache[key] = spec_from_cfg(cfg, multirun=True)
        spec = cache[key]
        ds = str(point.get("dataset.name", spec.dataset))
        seed = int(point.get("seed", spec.seed))
        out = root / "runs" / spec.model / dataset_slug(ds) / f"seed={seed}"
        specs.append(replace(spec, dataset=ds, seed=seed, out=str(out)))
    checked: set[tuple[str, str]] = set()
    for s in specs:
        if (s.model, s.dataset) not in checked:
            checked.add((s.model, s.dataset))
            try:
                validate(s)
            except RunError as exc:
                raise InputError(f"{experiment}: {s.model}/{s.dataset}: {exc}") from exc
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    overrides = [
        *base,
        f"out={_value_str(str(root / 'runs'))}",
        f"hydra.sweep.dir={_value_str(str(root / 'sweeps' / stamp))}",
        *extra,
    ]
    return SweepPlan(experiment, root, specs, overrides, dict(repro))  # type: ignore[arg-type]


def launcher_overrides(launcher: str | None, jobs: int | None) -> list[str]:
    """``hydra/launcher=...`` and the parallelism of ``--jobs`` for that launcher."""
    out = [] if launcher in (None, "joblib") else [f"hydra/launcher={launcher}"]
    if jobs is not None:
        if launcher in (None, "joblib"):
            out.append(f"hydra.launcher.n_jobs={jobs}")
        elif launcher in ("slurm", "submitit_slurm"):
            out.append(f"hydra.launcher.array_parallelism={jobs}")
        else:
            raise InputError(f"--jobs has no meaning for --launcher {launcher}; drop it")
    return out


def run_sweep(plan: SweepPlan) -> None:
    """Launch the plan's Hydra multirun and follow its run directories until it returns.

    Raises:
        click.ClickException: some jobs failed (the sweep can be started again: finished runs
            are skipped, interrupted ones continue).
    """
    from hydra.core.global_hydra import GlobalHydra

    from autoterm.sweep import PROGRESS_FILE, SweepProgress
    from cli.hydra_app import hydra_main

    plan.root.mkdir(parents=True, exist_ok=True)
    argv = sys.argv
    sys.argv = ["autoterm-sweep", "--multirun", *plan.overrides]
    GlobalHydra.instance().clear()
    try:
        with SweepProgress(
            plan.planned(), status_file=plan.root / PROGRESS_FILE, name=plan.experiment
        ):
            hydra_main()
    except SystemExit as exc:  # hydra reports a failed job and exits
        if exc.code not in (0, None):
            raise click.ClickException(
                f"sweep {plan.experiment}: some jobs failed (see above); start it again to "
                "retry them (finished runs are skipped)"
            ) from exc
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()


def _echo_plan(plan: SweepPlan) -> None:
    from autoterm.runner import dataset_slug
    from autoterm.sweep import run_done

    groups: dict[tuple[str, str], list[Any]] = {}
    for s in plan.specs:
        groups.setdefault((s.model, dataset_slug(s.dataset)), []).append(s)
    click.echo(f"{plan.experiment}: {len(plan.specs)} runs -> {plan.root / 'runs'}")
    for (m, d), specs in groups.items():
        s = specs[0]
        done = sum(run_done(Path(x.out)) for x in specs)
        rows = f", max_rows {s.max_rows}" if s.max_rows else ""
        click.echo(
            f"  {m:<14} {d:<22} seeds {','.join(str(x.seed) for x in specs):<12} "
            f"budget {s.budget}, {s.folds} folds{rows}  ({done} complete)"
        )


def _echo_estimate(plan: SweepPlan, jobs: int) -> None:
    from autoterm.estimate import estimate_sweep
    from autoterm.sweep import format_seconds

    est = estimate_sweep(plan.specs, jobs=jobs, on_timing=lambda m: log.info("%s", m))
    click.echo(
        f"{'model':<14} {'dataset':<22} {'rows':>6} {'eval s':>7} {'BO s':>6} {'rule s':>6} "
        f"{'run s':>7} {'runs':>4}"
    )
    for r in est.table():
        click.echo(
            f"{r['model']:<14} {r['dataset']:<22} {r['n_rows']:>6} {r['eval_s']:>7.2f} "
            f"{r['bo_step_s']:>6.2f} {r['rule_check_s']:>6.3f} {r['run_s']:>7.0f} {r['runs']:>4}"
            + (f"  ({r['failed']} evaluations FAILED)" if r["failed"] else "")
        )
    click.echo(
        "(eval s, BO s: proxies timed on Sobol configurations and synthetic values; run s "
        "applies the per-model calibration to real BO runs, see autoterm/estimate.py)"
    )
    click.echo(
        f"estimate: {est.cpu_seconds / 3600:.2f} CPU-hours; about "
        f"{format_seconds(est.wall_seconds)} on {jobs} parallel jobs (one thread each)"
    )


def _default_jobs(jobs: int | None) -> int:
    from autoterm.runner import default_threads

    return jobs or default_threads()


_sweep_options = [
    click.option(
        "--out",
        "-o",
        type=click.Path(file_okay=False),
        help="Root of the sweep's results (runs/, sweeps/, progress.json). "
        "Default: results/<experiment>.",
    ),
    click.option(
        "--launcher",
        "-l",
        type=click.Choice(LAUNCHERS),
        help="Hydra launcher: joblib (default: one job per core), submitit_local, "
        "submitit_slurm, or slurm (experiments/conf/hydra/launcher/slurm.yaml).",
    ),
    click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        help="Parallel jobs (joblib n_jobs; SLURM array_parallelism). Default: cores.",
    ),
]


def _add(options: list[Any]) -> Any:
    def deco(f: Any) -> Any:
        for o in reversed(options):
            f = o(f)
        return f

    return deco


@click.command("sweep")
@click.argument("experiment")
@_add(_sweep_options)
@click.option("--dry-run", is_flag=True, help="List the runs (and how many are done); run nothing.")
@click.option(
    "--estimate",
    is_flag=True,
    help="Time one evaluation per model x dataset and a BO step, print the predicted CPU-hours "
    "and wall time; run nothing.",
)
@click.argument("overrides", nargs=-1)
def sweep_cmd(
    experiment: str,
    out: str | None,
    launcher: str | None,
    jobs: int | None,
    dry_run: bool,
    estimate: bool,
    overrides: tuple[str, ...],
) -> None:
    """Run the grid of an experiment preset (EXPERIMENT: smoke, laptop, paper, ...) as a sweep.

    Extra key=value overrides apply to every run (e.g. budget=30); one on model, dataset.name or
    seed replaces that axis of the grid (e.g. seed=0,1). Finished runs are skipped, interrupted
    ones continue.
    """
    from cli.logs import setup_logging

    setup_logging()
    root = Path(out or Path("results") / experiment)
    plan = plan_sweep(experiment, root, list(overrides), launcher_overrides(launcher, jobs))
    if dry_run or estimate:
        _echo_plan(plan)
        if estimate:
            _echo_estimate(plan, _default_jobs(jobs))
        return
    run_sweep(plan)


@click.command("reproduce")
@click.argument("profile", default="laptop")
@_add(_sweep_options)
@click.option(
    "--paper-runs",
    type=click.Path(file_okay=False),
    help="paper-replay: folder of the authors' runs (default: the preset's, ../shared/paper-runs).",
)
@click.option(
    "--download/--no-download",
    default=None,
    help="paper-replay: fetch the authors' runs from GitHub (cached) when the folder lacks "
    "them. Default: the preset's (on).",
)
@click.option(
    "--max-traces",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Per-run trace figures to draw.",
)
@click.argument("overrides", nargs=-1)
@click.pass_context
def reproduce_cmd(
    ctx: click.Context,
    profile: str,
    out: str | None,
    launcher: str | None,
    jobs: int | None,
    paper_runs: str | None,
    download: bool | None,
    max_traces: int,
    overrides: tuple[str, ...],
) -> None:
    """Run a profile end to end: sweep (or the authors' runs), replay, report, figures.

    PROFILE: smoke, laptop (default), paper or paper-replay (experiments/conf/experiment/).
    Writes results/<PROFILE>/: runs/, replay/*.csv, report/summary.*, figures/*.{pdf,png} and
    reproduce.json (wall time of each stage, peak memory of the process tree). Started again, it
    skips finished runs.
    """
    from autoterm.resources import PeakMemory
    from cli.logs import setup_logging

    setup_logging()
    t_start = time.perf_counter()
    mem = PeakMemory(interval=2.0).__enter__()  # a daemon thread: dies with the process
    root = Path(out or Path("results") / profile).resolve()
    plan = plan_sweep(
        profile, root, list(overrides), launcher_overrides(launcher, jobs), require_grid=False
    )
    stages: dict[str, float] = {}
    source = plan.reproduce.get("source", "sweep")
    runs_dir = root / "runs"
    tables: list[Path] = []
    t0 = time.perf_counter()
    if source == "paper-runs":
        tables, fidelity_src = _paper_runs(plan, runs_dir, paper_runs, download, jobs, ctx, stages)
    elif source == "sweep":
        fidelity_src = None
        if not plan.specs:
            raise InputError(f"{profile} has no grid (hydra.sweeper.params) and no runs to import")
        run_sweep(plan)
        stages["sweep"] = time.perf_counter() - t0
    else:
        raise InputError(f"{profile}: reproduce.source must be sweep or paper-runs, not {source!r}")
    if source == "sweep":
        from autoterm.sweep import run_done

        done = [Path(s.out) for s in plan.specs if run_done(Path(s.out))]
        if not done:
            raise click.ClickException(f"{profile}: no run finished; nothing to replay")
        t0 = time.perf_counter()
        tables = [root / "replay" / "autoterm.csv"]
        _replay(ctx, done, tables[0], paper_grid=False, jobs=jobs)
        stages["replay"] = time.perf_counter() - t0
    from cli.main import plot_cmd, report_cmd

    t0 = time.perf_counter()
    ctx.invoke(
        report_cmd, replay_csv=tuple(map(str, tables)), out=str(root / "report"), by_dataset=True
    )
    if fidelity_src is not None:
        _fidelity(tables[0], fidelity_src, root / "report")
    stages["report"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ctx.invoke(
        plot_cmd,
        replay_csv=tuple(map(str, tables)),
        out=str(root / "figures"),
        run_patterns=(str(runs_dir),),
        max_traces=max_traces,
    )
    stages["figures"] = time.perf_counter() - t0
    stages["total"] = time.perf_counter() - t_start
    mem.__exit__(None, None, None)
    from autoterm.sweep import format_seconds
    from autoterm.trajectory import write_json_atomic

    write_json_atomic(
        root / "reproduce.json",
        {
            "profile": profile,
            "runs": len(plan.specs) if source == "sweep" else None,
            "tables": [str(t) for t in tables],
            "seconds": stages,
            "memory": mem.summary(),
            "argv": sys.argv[1:],
            "finished": time.strftime("%F %T"),
        },
    )
    log.info(
        "reproduce %s: %s (%s), peak memory %.0f MiB -> %s",
        profile,
        format_seconds(stages["total"]),
        ", ".join(f"{k} {format_seconds(v)}" for k, v in stages.items() if k != "total"),
        mem.peak_bytes / 2**20,
        root,
    )


def _replay(
    ctx: click.Context, runs: list[Path], out: Path, *, paper_grid: bool, jobs: int | None
) -> None:
    from cli.main import replay_cmd

    ctx.invoke(
        replay_cmd,
        runs=tuple(str(r) for r in runs),
        out=str(out),
        rules=None,
        paper_grid=paper_grid,
        jobs=jobs,
    )


def _paper_runs(
    plan: SweepPlan,
    runs_dir: Path,
    paper_runs: str | None,
    download: bool | None,
    jobs: int | None,
    ctx: click.Context,
    stages: dict[str, float],
) -> tuple[list[Path], Path | None]:
    """Find (or fetch), import and replay the authors' runs; the tables and their result table."""
    from autoterm.paper_fetch import RESULT_TABLE, resolve_paper_runs
    from autoterm.paper_runs import PaperRunsError, import_paper_runs

    cfg = plan.reproduce
    t0 = time.perf_counter()
    try:
        src = resolve_paper_runs(
            paper_runs or cfg.get("paper_runs"),
            download=bool(cfg.get("download", True)) if download is None else download,
            url=cfg.get("url") or None,
        )
        dirs = import_paper_runs(src, runs_dir)
    except PaperRunsError as exc:
        raise click.ClickException(str(exc)) from exc
    stages["import"] = time.perf_counter() - t0
    log.info("%d authors' runs from %s -> %s", len(dirs), src, runs_dir)
    t0 = time.perf_counter()
    paper, ours = plan.root / "replay" / "paper.csv", plan.root / "replay" / "autoterm.csv"
    _replay(ctx, dirs, paper, paper_grid=True, jobs=jobs)
    _replay(ctx, dirs, ours, paper_grid=False, jobs=jobs)
    stages["replay"] = time.perf_counter() - t0
    result = sorted(src.glob(RESULT_TABLE.replace(".csv", "*.csv")))
    return [paper, ours], (result[0] if result else None)


def _fidelity(paper_csv: Path, authors_csv: Path, out: Path) -> None:
    """Compare the paper-grid replay with the authors' stop decisions; write and log it."""
    import pandas as pd

    from autoterm.fidelity import compare_with_authors, summary
    from autoterm.trajectory import write_text_atomic

    cmp = compare_with_authors(pd.read_csv(paper_csv), authors_csv)
    cmp = cmp[cmp["stop_iter_authors"].notna()]
    s = summary(cmp)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "fidelity.csv", s.to_csv(index=False))
    lines = [
        f"# Replay of the authors' runs against their stop decisions ({authors_csv.name})",
        "",
        "| algo | method | bound | runs | same stop | RTC ours | RTC theirs | RYC ours "
        "| RYC theirs |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in s.itertuples():
        bound = r.bound_source
        lines.append(
            f"| {r.algo} | {r.paper_method} | {bound if isinstance(bound, str) and bound else '-'} "
            f"| {r.runs} | "
            f"{r.agree:.0%} | {r.rtc_iter:.3f} | {r.rtc_iter_authors:.3f} | {r.ryc:.3f} | "
            f"{r.ryc_authors:.3f} |"
        )
    write_text_atomic(out / "fidelity.md", "\n".join(lines) + "\n")
    for src, g in cmp.groupby(cmp["bound_source"].fillna("").replace("", "-")):
        log.info(
            "authors' stop decisions reproduced (bound %s): %d/%d",
            src,
            int(g["agree"].sum()),
            len(g),
        )
