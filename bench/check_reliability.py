"""``make check-reliability``: the reliability guarantees, checked on real runs of the real CLI.

1. SIGKILL a small run (random forest on breast_cancer) at random points ``--kills`` times,
   resuming each time, and compare the finished trajectory with an uninterrupted run of the same
   seed: identical configurations and scores (timings aside), and no record that was complete at
   a kill may be lost or changed.
2. A second process on a run directory in use refuses with one line and leaves it intact.
3. A trial past ``trial_timeout`` is recorded as failed with the reason; the run completes.
4. Every bad input of the issue fails with exactly one ``Error:`` line, a non-zero exit status
   and no run directory.
5. Resuming or replaying a corrupt trajectory names the file and line; a truncated one replays
   its complete prefix.

Prints each check and ends with the lines ``kills survived: <n>``, ``bad inputs tried: <n>`` and
``rows lost: <n>``; exits 1 if any guarantee failed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autoterm.faults import (
    ROOT,
    bad_inputs,
    command_env,
    count_records,
    kill_and_resume,
    run_command,
)
from autoterm.trajectory import TRAJECTORY, read_trajectory

CLI = [sys.executable, "-m", "cli.main"]


def _run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, env=command_env(), capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def _lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]


class Checks:
    """Collects pass/fail lines."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def report(self, ok: bool, what: str) -> None:
        """Print one check."""
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failed.append(what)


def check_kills(work: Path, checks: Checks, kills: int, budget: int, seed: int) -> tuple[int, int]:
    """Kill/resume versus an uninterrupted run; returns (kills survived, rows lost)."""
    print(f"SIGKILL at random points ({kills} kills, budget {budget}, seed {seed})", flush=True)
    t0 = time.monotonic()
    ref_proc = _run(run_command(work / "reference", budget=budget))
    ref = read_trajectory(work / "reference" / TRAJECTORY)
    elapsed = time.monotonic() - t0
    checks.report(
        ref_proc.returncode == 0 and len(ref) == budget,
        f"uninterrupted reference run: {len(ref)} records in {elapsed:.1f}s",
    )
    report = kill_and_resume(
        run_command(work / "killed", budget=budget),
        work / "killed",
        ref,
        kills=kills,
        seed=seed,
        record_seconds=0.6,
    )
    for line in report.log:
        print(f"       {line}")
    checks.report(len(report.kills) == kills, f"{len(report.kills)} of {kills} kills struck")
    checks.report(report.final_returncode == 0, "the last resume finished the run")
    checks.report(
        not report.mismatches,
        "finished trajectory equals the uninterrupted run (configurations, scores, signals)"
        + (f": {'; '.join(report.mismatches[:5])}" if report.mismatches else ""),
    )
    checks.report(
        report.rows_lost == 0, f"records complete at a kill and kept: lost {report.rows_lost}"
    )
    return report.survived, report.rows_lost


def check_lock(work: Path, checks: Checks) -> None:
    """A second process on a run directory in use refuses with one line."""
    print("two processes on one run directory", flush=True)
    out = work / "locked"
    cmd = run_command(out, budget=40)
    first = subprocess.Popen(
        cmd, env=command_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        start = time.monotonic()
        while count_records(out / TRAJECTORY) < 1 and first.poll() is None:
            if time.monotonic() - start > 300:
                break
            time.sleep(0.05)
        second = _run(cmd)
        overlapped = first.poll() is None
    finally:
        first.kill()
        first.wait()
    errors = [ln for ln in _lines(second) if "ERROR" in ln or ln.startswith("Error:")]
    msg = errors[0] if errors else "(no error line)"
    checks.report(overlapped, "the first run was still running when the second one started")
    checks.report(
        second.returncode != 0 and len(errors) == 1 and "in use" in msg,
        f"second process refused (status {second.returncode}): {msg.split('ERROR', 1)[-1].strip()}",
    )
    try:
        recs = read_trajectory(out / TRAJECTORY)
        ok = [r["iteration"] for r in recs] == list(range(len(recs)))
    except ValueError as exc:
        ok, recs = False, []
        print(f"       {exc}")
    checks.report(ok, f"the first run's trajectory is intact ({len(recs)} records)")


def check_timeout(work: Path, checks: Checks) -> None:
    """Every trial past a tiny trial_timeout is recorded as failed and the run completes."""
    print("trial_timeout", flush=True)
    out = work / "timeout"
    proc = _run(run_command(out, budget=6, extra=("threads=1", "trial_timeout=0.001")))
    recs = read_trajectory(out / TRAJECTORY)
    failed = [r for r in recs if r["status"] == "failed" and "trial_timeout" in (r["error"] or "")]
    reason = failed[0]["error"] if failed else "-"
    checks.report(
        proc.returncode == 0 and len(recs) == 6 and len(failed) == 6,
        f"{len(failed)} of {len(recs)} trials recorded as failed, reason: {reason}",
    )


def check_bad_inputs(work: Path, checks: Checks) -> int:
    """Each bad input through the real CLI: one Error line, non-zero exit, no run directory."""
    cases = bad_inputs(work / "bad-data")
    print(f"bad inputs ({len(cases)}), each through `autoterm run`", flush=True)
    for bad in cases:
        out = work / "bad-run"
        proc = _run([*CLI, "run", *bad.args, "--out", str(out)])
        lines = _lines(proc)
        one = len(lines) == 1 and lines[0].startswith("Error:") and bad.expect in lines[0]
        ok = one and proc.returncode != 0 and not out.exists()
        shown = " ".join(bad.args).replace(str(work), "$TMP")
        checks.report(ok, f"{bad.name}: autoterm run {shown}")
        said = " | ".join(lines).replace(str(work), "$TMP")
        print(f"         -> (status {proc.returncode}) {said[:400]}")
        if out.exists():
            shutil.rmtree(out)
    return len(cases)


def check_corrupt(work: Path, checks: Checks) -> None:
    """Resume and replay of a corrupt trajectory name the file and line; truncation replays."""
    print("corrupt and truncated trajectories", flush=True)
    src = work / "reference"
    bad = work / "corrupt"
    shutil.copytree(src, bad)
    (bad / "COMPLETED").unlink()
    path = bad / TRAJECTORY
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3][: len(lines[3]) // 2]
    path.write_bytes(b"\n".join(lines))
    where = f"{path}:4:"
    budget = len(read_trajectory(src / TRAJECTORY))
    proc = _run(run_command(bad, budget=budget))
    out = _lines(proc)
    checks.report(
        proc.returncode != 0 and len(out) == 1 and where in out[0],
        f"resume refuses with one line naming the line: {out[0][:200] if out else '-'}",
    )
    proc = _run([*CLI, "replay", str(bad), "--rules", "conv", "--out", str(work / "r.csv")])
    out = _lines(proc)
    checks.report(
        proc.returncode != 0 and len(out) == 1 and where in out[0],
        f"replay refuses with one line naming the line: {out[0][:200] if out else '-'}",
    )
    trunc = work / "truncated"
    shutil.copytree(src, trunc)
    data = (trunc / TRAJECTORY).read_bytes()
    (trunc / TRAJECTORY).write_bytes(data[: len(data) - 25])
    proc = _run([*CLI, "replay", str(trunc), "--rules", "conv", "--out", str(work / "t.csv")])
    warned = [ln for ln in _lines(proc) if "torn" in ln]
    checks.report(
        proc.returncode == 0 and bool(warned),
        f"truncated trajectory replays its complete prefix with a warning: "
        f"{warned[0].split('WARNING', 1)[-1].strip()[:200] if warned else '-'}",
    )


def main() -> int:
    """Run every check; print the report; 0 if every guarantee held."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=5, help="SIGKILLs to inflict (>= 5 for make)")
    ap.add_argument("--budget", type=int, default=16, help="evaluations of the killed run")
    ap.add_argument("--seed", type=int, default=None, help="seed of the kill points")
    ap.add_argument("--keep", help="keep the runs in this directory")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 10_000
    checks = Checks()
    tmp = tempfile.TemporaryDirectory(prefix="autoterm-reliability-")
    work = Path(args.keep) if args.keep else Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        survived, lost = check_kills(work, checks, args.kills, args.budget, seed)
        check_lock(work, checks)
        check_timeout(work, checks)
        check_corrupt(work, checks)
        n_bad = check_bad_inputs(work, checks)
    finally:
        tmp.cleanup()
    print(f"{len(checks.failed)} checks failed in {time.monotonic() - t0:.0f}s")
    for f in checks.failed:
        print(f"  FAILED: {f}")
    print(f"kills survived: {survived}")
    print(f"bad inputs tried: {n_bad}")
    print(f"rows lost: {lost}")
    return 1 if checks.failed or lost or survived < args.kills else 0


if __name__ == "__main__":
    sys.exit(main())
