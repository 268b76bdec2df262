"""Replay throughput on the authors' runs: every rule, and the GP-based rule per check.

Imports ``../shared/paper-runs`` (80 runs) into a temporary folder, times a replay of the cheap
rules on all of them, and the paper's GP rule (``regret_bound``) on ``--gp-runs`` runs (every
check), then extrapolates to all 80 and to the 380 upstream runs. Prints a table and writes
``bench/results/replay.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__)
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--src", default=str(root.parent / "shared" / "paper-runs"))
    ap.add_argument("--gp-runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(root / "bench" / "results" / "replay.json"))
    args = ap.parse_args()

    from autoterm.paper_runs import import_paper_runs
    from autoterm.replay import RuleSpec, default_specs, replay

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        runs = import_paper_runs(Path(args.src), Path(tmp))
        t_import = time.perf_counter() - t0
        cheap = [s for s in default_specs() if s.rule != "regret_bound"]
        t0 = time.perf_counter()
        rows = replay(runs, cheap, n_jobs=args.jobs)
        t_cheap = time.perf_counter() - t0
        gp = [RuleSpec("regret_bound")]
        per_run = []
        for r in runs[: args.gp_runs]:
            t0 = time.perf_counter()
            replay([r], gp, n_jobs=1)
            per_run.append(time.perf_counter() - t0)
        n_checks = 200 - 20 + 1
        per_check = statistics.median(per_run) / n_checks
        gp_80 = statistics.median(per_run) * len(runs) / max(1, args.jobs)
    res = {
        "runs": len(runs),
        "import_seconds": t_import,
        "cheap_rules_seconds_all_runs": t_cheap,
        "cheap_rows": len(rows),
        "gp_seconds_per_run": per_run,
        "gp_seconds_per_check": per_check,
        "gp_minutes_80_runs_extrapolated": gp_80 / 60,
        "all_rules_minutes_380_runs_extrapolated": (gp_80 + t_cheap) * 380 / len(runs) / 60,
        "jobs": args.jobs,
        "cpus": len(os.sched_getaffinity(0)),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(  # noqa: T201 - the benchmark's report
        f"import of {len(runs)} runs: {t_import:.1f} s\n"
        f"cheap rules ({len(rows)} rows) on all runs: {t_cheap:.1f} s\n"
        f"regret_bound: {per_check * 1000:.0f} ms per check (GP fit + LCB search), "
        f"{statistics.median(per_run):.1f} s per run\n"
        f"replay minutes for 80 runs (extrapolated, {args.jobs} jobs): "
        f"{(gp_80 + t_cheap) / 60:.1f}\n"
        f"replay minutes for 380 runs (extrapolated): "
        f"{res['all_rules_minutes_380_runs_extrapolated']:.1f}"
    )


if __name__ == "__main__":
    main()
