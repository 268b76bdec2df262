"""Replay throughput on the authors' runs: every rule on all 80 runs, measured, not extrapolated.

Imports ``../shared/paper-runs`` (80 runs of Makarova et al., AutoML 2022) into a temporary
folder, then times, side by side in one process tree:

1. every rule of ``autoterm replay`` (default knobs) on all runs, from scratch (no cache):
   the cheap rules, then each GP rule (``regret_bound``, ``emmr``) on its own;
2. the paper grid (``--paper-grid``: their Conv/EI/PI/Ours grid, Ours with their bound and
   with autoterm's GP in the authors-like reading);
3. the same replay again, served from ``replay_cache.json`` (no GP work);
4. the time of one check of each GP rule (GP fit + lcb search), median over the checks of two
   runs (one random forest, one XGBoost), one process.

Prints a table ending with the replay minutes for the 80 runs and the extrapolation to the 380
upstream runs (``P3``), and writes ``bench/results/replay.json``.

Usage::

    python bench/replay_bench.py [--jobs 2] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

UPSTREAM_RUNS = 380  # 19 datasets x 2 algorithms x 10 replicates


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _per_check_ms(run_dir: Path, rule_name: str) -> float:
    """Median wall time (ms) of one check of a GP rule, every check of one run."""
    from autoterm.stopping import load_history, make_rule

    h = load_history(run_dir)
    rule = make_rule(rule_name)
    times = []
    for t in range(rule.warmup, len(h) + 1):
        t0 = time.perf_counter()
        rule.estimate_at(h, t)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__)
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--src", default=str(root.parent / "shared" / "paper-runs"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=int, default=0, help="only N of the runs, spread (0: all)")
    ap.add_argument("--out", default=str(root / "bench" / "results" / "replay.json"))
    args = ap.parse_args()

    from autoterm.paper_runs import import_paper_runs
    from autoterm.replay import CACHE, default_specs, paper_grid_specs, replay

    res: dict[str, object] = {"jobs": args.jobs, "cpus": len(os.sched_getaffinity(0))}
    with tempfile.TemporaryDirectory() as tmp:
        t_import, runs = _timed(lambda: import_paper_runs(Path(args.src), Path(tmp)))
        runs = sorted(runs)
        if args.runs:  # spread over models and datasets
            runs = runs[:: max(1, len(runs) // args.runs)][: args.runs]
        n = len(runs)
        specs = default_specs()
        gp_names = [s.rule for s in specs if s.build().uses_gp]
        cheap = [s for s in specs if s.rule not in gp_names]

        def run(sp, convention="autoterm"):
            return replay(runs, sp, n_jobs=args.jobs, convention=convention)

        t_cheap, _ = _timed(lambda: run(cheap))
        t_gp = {}
        for name in gp_names:
            t_gp[name], _ = _timed(lambda name=name: run([s for s in specs if s.rule == name]))
        t_all_fresh = t_cheap + sum(t_gp.values())
        t_cached, rows = _timed(lambda: run(specs))
        for r in runs:
            (Path(r) / CACHE).unlink(missing_ok=True)
        t_grid_fresh, _ = _timed(lambda: run(paper_grid_specs(), "paper"))
        t_grid, grid_rows = _timed(lambda: run(paper_grid_specs(), "paper"))
        rf = next(r for r in runs if "random_forest" in str(r))
        xgb = next(r for r in runs if "xgboost" in str(r))
        per_check = {
            f"{name} {model}": _per_check_ms(r, name)
            for name in gp_names
            for model, r in (("random_forest", rf), ("xgboost", xgb))
        }
    res.update(
        {
            "machine": platform.node(),
            "runs": n,
            "import_seconds": t_import,
            "cheap_rules_seconds": t_cheap,
            "gp_rule_seconds": t_gp,
            "all_rules_seconds_fresh": t_all_fresh,
            "all_rules_seconds_cached": t_cached,
            "rows": len(rows),
            "paper_grid_seconds_fresh": t_grid_fresh,
            "paper_grid_seconds_cached": t_grid,
            "paper_grid_rows": len(grid_rows),
            "ms_per_check_median": per_check,
            "all_rules_minutes_380_runs_extrapolated": t_all_fresh * UPSTREAM_RUNS / n / 60,
        }
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    lines = [
        f"import of {n} runs: {t_import:.1f} s",
        f"cheap rules ({len(cheap)} rules) on {n} runs: {t_cheap:.1f} s",
        *(f"{k} on {n} runs (GP refits, {args.jobs} jobs): {v:.1f} s" for k, v in t_gp.items()),
        *(f"one check of {k} (GP fit + lcb search): {v:.1f} ms" for k, v in per_check.items()),
        f"every rule again, from the cache: {t_cached:.1f} s",
        f"paper grid (fresh / cached): {t_grid_fresh:.1f} s / {t_grid:.1f} s",
        f"replay minutes for {n} runs, every rule, {args.jobs} jobs: {t_all_fresh / 60:.2f}",
        f"P3 replay minutes for 380 runs (extrapolated): "
        f"{res['all_rules_minutes_380_runs_extrapolated']:.2f}",
    ]
    print("\n".join(lines))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
