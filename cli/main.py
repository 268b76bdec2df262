"""The ``autoterm`` command line (click). Thin: flags become Hydra overrides or library calls."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

import click

from cli.config import group_options
from cli.sweep import reproduce_cmd, sweep_cmd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autoterm.report import Report

SEED_RANGE = re.compile(r"^(\d+)-(\d+)$")


class InputError(click.ClickException):
    """Bad input to ``autoterm run``: one line ``Error: <problem>; <fix>``, exit status 2."""

    exit_code = 2


def seed_override(seed: str) -> tuple[str, bool]:
    """Translate ``--seed`` into a Hydra override.

    Args:
        seed: ``"3"``, ``"0-4"`` (inclusive range) or ``"0,2,5"``.

    Returns:
        The override and whether it is a sweep.
    """
    seed = seed.strip()
    m = SEED_RANGE.match(seed)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo:
            raise click.BadParameter(
                f"empty range {seed!r}; write LOW-HIGH with LOW <= HIGH", param_hint="--seed"
            )
        return (f"seed=range({lo},{hi + 1})", hi > lo)
    parts = [p.strip() for p in seed.split(",")]
    if not all(p.isdigit() for p in parts):
        raise click.BadParameter(
            f"{seed!r} is not a seed; use N, LOW-HIGH or N,M,...", param_hint="--seed"
        )
    return (f"seed={','.join(parts)}", len(parts) > 1)


def _quote(value: str) -> str:
    """Quote a value for Hydra's override grammar when it holds special characters."""
    if re.fullmatch(r"[\w.\-/]+", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_overrides(
    model: str,
    dataset: str | None,
    seed: str | None,
    budget: int | None,
    folds: int | None,
    out: str | None,
    extra: tuple[str, ...] = (),
) -> tuple[list[str], bool]:
    """Turn the ``autoterm run`` flags into Hydra overrides (pure).

    Args:
        model: a model name, or several separated by commas (a sweep).
        dataset: a dataset name, or several separated by commas (a sweep).
        seed: see :func:`seed_override`.
        budget: number of evaluations.
        folds: k of the k-fold CV.
        out: the run directory (the root of the run tree in a multirun).
        extra: further ``key=value`` overrides, passed through unchanged.

    Returns:
        The overrides and whether any of them sweeps over several values.
    """
    models = [m.strip() for m in model.split(",")]
    valid = group_options("model")
    for m in models:
        if m not in valid:
            raise click.BadParameter(
                f"unknown model {m!r}; choose one of: {', '.join(valid)}", param_hint="MODEL"
            )
    overrides = [f"model={','.join(models)}"]
    sweep = len(models) > 1
    if dataset is not None:
        names = [d.strip() for d in dataset.split(",")] if "file:" not in dataset else [dataset]
        overrides.append("dataset.name=" + ",".join(_quote(d) for d in names))
        sweep = sweep or len(names) > 1
    if seed is not None:
        o, s = seed_override(seed)
        overrides.append(o)
        sweep = sweep or s
    if budget is not None:
        overrides.append(f"budget={budget}")
    if folds is not None:
        overrides.append(f"folds={folds}")
    if out is not None:
        overrides.append(f"out={_quote(out)}")
    for e in extra:
        if "=" not in e:
            raise click.BadParameter(
                f"{e!r} is not an override; write key=value", param_hint="[OVERRIDES]"
            )
    overrides.extend(extra)
    return overrides, sweep


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autoterm")
def cli() -> None:
    """autoterm: Bayesian optimisation runs and automatic termination rules for HPO."""


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("model")
@click.option(
    "--dataset",
    "-d",
    help="Dataset name(s), comma-separated to sweep "
    "(bundled, data-dir name, openml:<id>, file:<path>). Default: breast_cancer.",
)
@click.option("--seed", "-s", help="Seed, LOW-HIGH range or comma list (sweeps need -m).")
@click.option(
    "--budget",
    "-b",
    type=click.IntRange(min=1),
    help="Evaluations per run (initial design included). Default: 200.",
)
@click.option("--folds", "-k", type=int, help="k of the k-fold CV (>= 2). Default: 10.")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Run directory (in a multirun: the root of <model>/<dataset>/seed=<s>).",
)
@click.option(
    "--stop",
    "stop_rule",
    help="End the run when this stopping rule fires (e.g. regret_bound, conv); "
    "default: log every rule and run the full budget.",
)
@click.option(
    "--stop-knob",
    type=float,
    help="The knob of --stop (c for regret_bound, k for conv, tau for ei/pi); "
    "default: the rule's first default knob.",
)
@click.option(
    "--multirun",
    "-m",
    is_flag=True,
    help="Sweep over comma lists / ranges with Hydra's joblib launcher.",
)
@click.argument("overrides", nargs=-1)
def run(
    model: str,
    dataset: str | None,
    seed: str | None,
    budget: int | None,
    folds: int | None,
    out: str | None,
    stop_rule: str | None,
    stop_knob: float | None,
    multirun: bool,
    overrides: tuple[str, ...],
) -> None:
    """Run Bayesian optimisation of MODEL (xgboost, random_forest, mlp) on a dataset.

    Extra Hydra overrides can follow as key=value, e.g. `bo.n_init=10 model.options.epochs=5`.
    Results go to results/runs/<model>/<dataset>/seed=<s>/ unless --out is given.
    """
    from cli.logs import setup_logging

    setup_logging()
    try:
        ovr = _checked_overrides(
            model, dataset, seed, budget, folds, out, stop_rule, stop_knob, multirun, overrides
        )
    except click.UsageError as exc:  # one line, no usage block: the message names the fix
        raise InputError(exc.format_message()) from exc
    from cli.hydra_app import hydra_main

    argv = sys.argv
    sys.argv = ["autoterm-run", *(["--multirun"] if multirun else []), *ovr]
    try:
        hydra_main()
    finally:
        sys.argv = argv


def _checked_overrides(
    model: str,
    dataset: str | None,
    seed: str | None,
    budget: int | None,
    folds: int | None,
    out: str | None,
    stop_rule: str | None,
    stop_knob: float | None,
    multirun: bool,
    overrides: tuple[str, ...],
) -> list[str]:
    """The Hydra overrides of ``autoterm run``, validated before anything is written.

    Raises:
        click.UsageError: bad input (its message names the problem and the fix).
    """
    extra = list(overrides)
    if stop_rule:
        extra.append(f"stopping.stop={stop_rule}")
    if stop_knob is not None:
        if not stop_rule:
            raise click.UsageError("--stop-knob needs --stop RULE")
        extra.append(f"stopping.knob={stop_knob!r}")
    ovr, sweep = build_overrides(model, dataset, seed, budget, folds, out, tuple(extra))
    if sweep and not multirun:
        raise click.UsageError("several models, datasets or seeds given: add -m to sweep")
    if folds is not None and folds < 2:
        raise click.BadParameter(
            f"folds must be >= 2 (got {folds}); pass --folds 2 or more", param_hint="--folds"
        )
    if not multirun:
        _precheck(ovr)
    else:
        for d in dataset.split(",") if dataset and "file:" not in dataset else [dataset]:
            if d:
                _check_dataset(d.strip())
    return ovr


def _check_dataset(name: str) -> None:
    from autoterm.data import DatasetError, check_dataset, resolve_data_dirs

    try:
        check_dataset(name, data_dirs=resolve_data_dirs())
    except DatasetError as exc:
        raise click.BadParameter(str(exc), param_hint="--dataset") from exc


def _precheck(overrides: list[str]) -> None:
    """Compose the config and validate the run before Hydra starts (nothing is written).

    The dataset is loaded and split here, so data that cannot be used fails with one line
    before a run directory exists.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from autoterm.runner import RunError, validate
    from cli.config import CONF_DIR
    from cli.hydra_app import spec_from_cfg

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
    except Exception as exc:  # hydra's override / composition errors
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
        raise click.UsageError(
            f"bad override: {msg}; check the key=value pairs against experiments/conf/"
        ) from exc
    finally:
        GlobalHydra.instance().clear()
    try:
        spec = spec_from_cfg(cfg)
    except (TypeError, ValueError) as exc:  # e.g. budget=abc
        raise click.UsageError(
            f"bad override: {exc}; give numbers for numeric keys (budget, folds, seed, ...)"
        ) from exc
    try:
        validate(spec, load_data=True)
    except RunError as exc:
        raise click.UsageError(str(exc)) from exc


@cli.group()
def datasets() -> None:
    """Inspect the datasets autoterm can load."""


@datasets.command("list")
def datasets_list() -> None:
    """List bundled, data-directory and cached datasets with their size and task."""
    from rich.console import Console
    from rich.table import Table

    from autoterm.data import list_datasets, resolve_data_dirs

    dirs = resolve_data_dirs()
    table = Table(title="autoterm datasets")
    for col in ("name", "task", "rows", "features", "categorical", "openml", "source"):
        table.add_column(col)
    for d in list_datasets(dirs):
        table.add_row(
            *(
                str(d.get(k, "")) if d.get(k) is not None else "-"
                for k in (
                    "name",
                    "task",
                    "n_rows",
                    "n_features",
                    "n_categorical",
                    "openml_id",
                    "source",
                )
            )
        )
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table to 80 columns
        console = Console(width=200)
    console.print(table)
    console.print("data directories searched: " + ", ".join(str(p) for p in dirs))


@cli.command("import-paper-runs")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False),
    help="Root of the imported runs: <out>/<model>/<dataset>/seed=<s>/.",
)
@click.option("--overwrite", is_flag=True, help="Re-import runs that were already imported.")
def import_paper_runs_cmd(src: str, out: str, overwrite: bool) -> None:
    """Convert the authors' published BO runs (SRC laid out like bo-early-stopping) into runs."""
    from pathlib import Path

    from autoterm.paper_runs import PaperRunsError, import_paper_runs

    try:
        dirs = import_paper_runs(Path(src), Path(out), overwrite=overwrite)
    except PaperRunsError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"{len(dirs)} runs in {out}")


@cli.command("replay")
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="The tidy table to write (CSV).",
)
@click.option("--rules", "-r", help="Comma-separated rule names (default: every rule).")
@click.option(
    "--paper-grid",
    is_flag=True,
    help="Exactly the authors' method grid, labelled with "
    "their names (paper_method, bound_source) and their measure conventions.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: cores).")
def replay_cmd(
    runs: tuple[str, ...], out: str, rules: str | None, paper_grid: bool, jobs: int | None
) -> None:
    """Replay stopping rules on stored runs (RUNS: run directories, parents or globs)."""
    import csv
    import os
    import tempfile
    from pathlib import Path

    from rich.progress import Progress

    from autoterm.replay import default_specs, find_runs, paper_grid_specs, replay

    try:
        run_dirs = find_runs(runs)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        specs = (
            paper_grid_specs()
            if paper_grid
            else default_specs([r.strip() for r in rules.split(",")] if rules else None)
        )
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    if paper_grid and rules:
        names = {r.strip() for r in rules.split(",")}
        specs = [s for s in specs if s.rule in names or (s.label or "") in names]
    from autoterm.trajectory import TrajectoryError

    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("replay", total=len(run_dirs))
            rows = replay(
                run_dirs,
                specs,
                convention="paper" if paper_grid else "autoterm",
                n_jobs=jobs,
                progress=lambda done, total: bar.update(task, completed=done),
            )
    except (TrajectoryError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    out_p = Path(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_p.parent, prefix=f".{out_p.name}.")
    with os.fdopen(fd, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out_p)
    click.echo(
        f"{len(rows)} rows ({len(run_dirs)} runs x {len(rows) // len(run_dirs)} rule/knob) -> {out}"
    )


def _load_report(csvs: tuple[str, ...], strict: bool) -> Report:
    """Build the report; warnings become ``warning:`` lines, bad input one clear error."""
    import warnings

    from autoterm.report import ReportError, build_report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rep = build_report(list(csvs), strict=strict)
        except ReportError as exc:
            raise click.ClickException(str(exc)) from exc
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    return rep


@cli.command("report")
@click.argument("replay_csv", nargs=-1, required=True)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory of summary.csv/.md/.tex (and summary_by_dataset.*).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail when a model x rule x knob cell lacks runs (missing seeds) instead of warning.",
)
@click.option(
    "--by-dataset/--no-by-dataset",
    default=True,
    show_default=True,
    help="Also write the per-dataset breakdown (summary_by_dataset.*).",
)
def report_cmd(replay_csv: tuple[str, ...], out: str, strict: bool, by_dataset: bool) -> None:
    """Summarise replay tables: mean +- std of RTC and RYC per model x rule x knob.

    REPLAY_CSV: tables written by `autoterm replay`. Writes CSV, Markdown and LaTeX (booktabs).
    """
    from autoterm.report import write_report

    rep = _load_report(replay_csv, strict)
    files = write_report(rep, out, by_dataset=by_dataset)
    click.echo(
        f"{len(rep.summary)} cells ({rep.summary['n_runs'].sum()} rows) -> "
        + ", ".join(str(f) for f in files)
    )


@cli.command("plot")
@click.argument("replay_csv", nargs=-1, required=True)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory of the figures (PDF and PNG).",
)
@click.option(
    "--runs",
    "run_patterns",
    multiple=True,
    help="Run directories, parents or globs for the traces and the calibration (repeatable); "
    "default: the runs named in the tables' run column that exist.",
)
@click.option(
    "--rtc",
    type=click.Choice(["iter", "time"]),
    default="iter",
    show_default=True,
    help="RTC on the trade-off figure's x axis: in iterations or in time.",
)
@click.option(
    "--max-traces",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="At most this many per-run trace figures (one model after another).",
)
def plot_cmd(
    replay_csv: tuple[str, ...],
    out: str,
    run_patterns: tuple[str, ...],
    rtc: str,
    max_traces: int,
) -> None:
    """Draw the figures of replay tables: trade-off, stop iterations, traces, calibration.

    REPLAY_CSV: tables written by `autoterm replay`. Traces and the calibration read the runs
    (their stored regret bound: logged by `autoterm run`, cached by `autoterm replay`, or the
    authors' for imported paper runs).
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autoterm.plotting import (
        bound_trace,
        calibration_figure,
        collect_calibration,
        save_figure,
        stops_figure,
        trace_figure,
        tradeoff_figure,
    )
    from autoterm.plotting.trace import pick_runs, rows_for_runs
    from autoterm.replay import find_runs
    from autoterm.report import figure_rows
    from autoterm.stopping import load_history
    from autoterm.trajectory import RUN_META

    rep = _load_report(replay_csv, strict=False)
    rows = rep.rows
    assert rows is not None
    out_p = Path(out)
    written: list[Path] = []

    def save(fig: Figure, stem: str) -> None:
        written.extend(save_figure(fig, out_p / stem))
        plt.close(fig)

    if run_patterns:
        try:
            run_dirs = find_runs(run_patterns)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        run_dirs = [Path(r) for r in dict.fromkeys(rows["run"]) if (Path(r) / RUN_META).exists()]

    drawn = figure_rows(rows)  # a rule the paper grid repeats is drawn once, by its name
    save(tradeoff_figure(drawn, x=f"rtc_{rtc}"), "tradeoff")
    save(stops_figure(drawn), "stop_iterations")

    if not run_dirs:
        click.echo("no run directory found (pass --runs): traces and calibration skipped", err=True)
    else:
        candidates = rows_for_runs(rows, run_dirs)
        chosen = pick_runs(candidates, max_traces)
        if len(chosen) < max_traces:  # runs given with --runs but absent from the tables
            rest = [str(Path(d).resolve()) for d in run_dirs]
            chosen += [d for d in rest if d not in chosen][: max_traces - len(chosen)]
        for d in chosen:
            h = load_history(d)
            meta = h.meta
            stem = f"trace_{meta.get('model')}_{meta.get('dataset_slug') or meta.get('dataset')}"
            save(
                trace_figure(h, candidates[candidates["run"] == d], bound_trace(h, d)),
                f"{stem}_seed{meta.get('seed')}",
            )
        points = collect_calibration(run_dirs)
        if points.empty:
            click.echo("no stored regret bound in the runs: calibration skipped", err=True)
        else:
            save(calibration_figure(points), "calibration")
    click.echo(f"{len(written)} files -> {out}")


cli.add_command(sweep_cmd)
cli.add_command(reproduce_cmd)


if __name__ == "__main__":  # pragma: no cover
    cli()
