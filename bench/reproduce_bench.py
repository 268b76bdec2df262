"""P5 (issue 6): wall time and peak memory of ``autoterm reproduce`` for a profile.

Runs ``autoterm reproduce PROFILE --out <fresh temporary dir>`` (nothing reused: every run is
trained, every rule replayed) as a subprocess and reads the ``reproduce.json`` it writes: the wall
time of each stage and the peak memory of the whole process tree (sum of the resident sets of the
sweep's jobs, sampled every 2 s by :class:`autoterm.resources.PeakMemory`, plus the largest single
process). With ``--from results/<profile>/reproduce.json`` it records a finished run's file
instead of running again (the ``laptop`` profile takes about an hour).

Merges ``<profile>_minutes``, ``<profile>_peak_tree_rss_mib`` and the stage times into
``bench/results/reproduce.json`` and prints ``P5 smoke reproduce minutes: <x>`` for smoke.

Usage::

    python bench/reproduce_bench.py [--profile smoke] [--from FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--from", dest="src", default=None, help="a finished run's reproduce.json")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "reproduce.json"))
    args = ap.parse_args()
    load = os.getloadavg()[0]
    if args.src:
        doc = json.loads(Path(args.src).read_text())
        wall = doc["seconds"]["total"]
    else:
        exe = Path(sys.executable).with_name("autoterm")
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run(
                [str(exe), "reproduce", args.profile, "--out", str(Path(tmp) / args.profile)],
                check=True,
                cwd=ROOT,
            )
            wall = time.perf_counter() - t0
            doc = json.loads((Path(tmp) / args.profile / "reproduce.json").read_text())
    out = Path(args.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    p = args.profile.replace("-", "_")
    mem = doc.get("memory") or {}
    res.update(
        {
            f"{p}_minutes": round(wall / 60, 2),
            f"{p}_seconds": doc["seconds"],
            f"{p}_peak_tree_rss_mib": mem.get("peak_tree_rss_mib"),
            f"{p}_max_process_rss_mib": mem.get("max_process_rss_mib"),
            f"{p}_load_at_start": round(load, 2) if not args.src else None,
            f"{p}_finished": doc.get("finished"),
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"{args.profile}: {wall / 60:.2f} min, peak memory {mem.get('peak_tree_rss_mib')} MiB")
    if p == "smoke":
        print(f"P5 smoke reproduce minutes: {wall / 60:.2f}")


if __name__ == "__main__":
    main()
