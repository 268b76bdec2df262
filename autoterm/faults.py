"""Fault injection on real runs: SIGKILL an ``autoterm run`` at random points, resume, compare.

Used by the fault-injection tests and ``make check-reliability`` (``bench/check_reliability.py``).
A run is started as a subprocess of the real command line, killed with ``SIGKILL`` (no cleanup
of any kind can run) either while it starts up or a random fraction of an evaluation after a
random record, and started again with the same command; after the last kill it runs to the end.
The finished trajectory is then compared with an uninterrupted run of the same command: every
field must be equal except the timings (:data:`TIMING_KEYS`), and every record that was complete
in the file when a kill struck must still be there, unchanged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoterm.trajectory import TRAJECTORY, read_trajectory

TIMING_KEYS = frozenset(
    {
        "eval_seconds",
        "optimizer_seconds",
        "fit_seconds",
        "acq_seconds",
        "elapsed_seconds",
        "timestamp",
    }
)
"""Record fields that measure wall time and so differ between two runs of the same seed."""

ROOT = Path(__file__).resolve().parents[1]


def comparable(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its timing fields (what must be identical across runs of one seed)."""
    return {k: v for k, v in record.items() if k not in TIMING_KEYS}


def run_command(
    run_dir: Path,
    *,
    model: str = "random_forest",
    dataset: str = "breast_cancer",
    budget: int = 12,
    folds: int = 3,
    seed: int = 0,
    extra: Sequence[str] = ("bo.num_restarts=2", "bo.raw_samples=64", "threads=1"),
) -> list[str]:
    """The ``autoterm run`` command line of a small, fast run writing to ``run_dir``."""
    return [
        sys.executable,
        "-m",
        "cli.main",
        "run",
        model,
        "--dataset",
        dataset,
        "--budget",
        str(budget),
        "--folds",
        str(folds),
        "--seed",
        str(seed),
        "--out",
        str(run_dir),
        *extra,
    ]


def command_env() -> dict[str, str]:
    """The environment of a subprocess run: this checkout first on the path, one thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def count_records(path: Path) -> int:
    """Number of newline-terminated lines of a trajectory file (0 if absent)."""
    try:
        return Path(path).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@dataclass
class Kill:
    """One SIGKILL: when it struck and what the file held right after it.

    Attributes:
        mode: ``"startup"`` (a random time after launch) or ``"record"`` (a random delay after
            a record was written).
        delay: seconds after launch (startup) or after the awaited record (record).
        rows: the complete records in the file after the kill.
    """

    mode: str
    delay: float
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class KillReport:
    """The outcome of :func:`kill_and_resume`.

    Attributes:
        kills: the kills that struck a live process.
        final_returncode: exit status of the last, uninterrupted resume.
        final: the finished trajectory.
        rows_lost: records complete at some kill that are missing or changed at the end.
        mismatches: differences between the finished trajectory and the reference, and
            temporary files left in the run directory, one line each (empty when identical).
        survived: kills after which the run resumed and ended identical to the reference with
            every record written before the kill intact.
        log: what happened, one line per step.
    """

    kills: list[Kill]
    final_returncode: int
    final: list[dict[str, Any]]
    rows_lost: int
    mismatches: list[str]
    survived: int
    log: list[str]


def diff_trajectories(
    got: Sequence[Mapping[str, Any]], ref: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Differences between two trajectories, timings aside (one line each; empty if equal)."""
    out = []
    if len(got) != len(ref):
        out.append(f"{len(got)} records instead of {len(ref)}")
    for i, (a, b) in enumerate(zip(got, ref, strict=False)):
        ca, cb = comparable(a), comparable(b)
        if ca != cb:
            keys = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
            out.append(f"record {i} differs in {', '.join(keys)}")
    return out


def kill_and_resume(
    cmd: Sequence[str],
    run_dir: Path,
    reference: Sequence[Mapping[str, Any]],
    *,
    kills: int,
    seed: int = 0,
    startup_seconds: float = 3.0,
    record_seconds: float = 0.5,
    timeout: float = 600.0,
    env: Mapping[str, str] | None = None,
) -> KillReport:
    """Kill a real run ``kills`` times at random points, resuming each time, then finish it.

    Each launch is killed with ``SIGKILL`` either a uniform random time into its start-up
    (``startup_seconds``: imports, data loading, ``run.json``), or after 1-2 new records plus a
    uniform random fraction of ``record_seconds`` (mid evaluation, mid GP fit or mid write).

    Args:
        cmd: the ``autoterm run`` command (same for every launch).
        run_dir: its ``--out`` directory.
        reference: the trajectory of an uninterrupted run of the same command.
        kills: number of kills to inflict.
        seed: seed of the kill points.
        startup_seconds: typical time from launch to the first record.
        record_seconds: typical time of one evaluation.
        timeout: limit of each launch (seconds).
        env: the subprocesses' environment (default :func:`command_env`).

    Returns:
        The report; ``kills`` may hold fewer entries if the run finished before a kill struck.
    """
    rng = random.Random(seed)
    env = dict(env or command_env())
    path = Path(run_dir) / TRAJECTORY
    done: list[Kill] = []
    log: list[str] = []
    for k in range(kills):
        before = count_records(path)
        if before >= len(reference):
            log.append(f"kill {k + 1}: skipped, the run is already complete")
            break
        proc = subprocess.Popen(
            list(cmd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        start = time.monotonic()
        if rng.random() < 0.3:
            mode, delay = "startup", rng.uniform(0.0, startup_seconds)
            _sleep_alive(proc, delay)
        else:
            mode, delay = "record", rng.uniform(0.0, record_seconds)
            target = min(before + rng.randint(1, 2), len(reference))
            while proc.poll() is None and count_records(path) < target:
                if time.monotonic() - start > timeout:
                    break
                time.sleep(0.01)
            _sleep_alive(proc, delay)
        if proc.poll() is not None:
            log.append(f"kill {k + 1}: the run ended (status {proc.returncode}) before the kill")
            if proc.returncode != 0:
                break
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rows = read_trajectory(path) if path.exists() else []
        done.append(Kill(mode, delay, rows))
        raw = path.read_bytes() if path.exists() else b""
        torn = ", a torn last line" if raw and not raw.endswith(b"\n") else ""
        log.append(f"kill {k + 1}: SIGKILL {mode} +{delay:.2f}s: {len(rows)} records{torn}")
    proc = subprocess.run(
        list(cmd), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        log.append(f"final resume failed with status {proc.returncode}: {tail}")
    final = read_trajectory(path) if path.exists() else []
    mismatches = diff_trajectories(final, reference)
    leftovers = sorted(
        p.name for p in Path(run_dir).iterdir() if p.name.startswith(".") and p.name != ".lock"
    )
    if leftovers:
        mismatches.append(f"temporary files left in the run directory: {', '.join(leftovers)}")
    rows_lost = 0
    survived = 0
    final_ok = proc.returncode == 0 and not mismatches
    for kill in done:
        lost = sum(
            1
            for i, r in enumerate(kill.rows)
            if i >= len(final) or comparable(final[i]) != comparable(r)
        )
        rows_lost += lost
        survived += int(final_ok and lost == 0)
    return KillReport(done, proc.returncode, final, rows_lost, mismatches, survived, log)


def _sleep_alive(proc: subprocess.Popen, seconds: float) -> None:
    """Sleep ``seconds`` or until ``proc`` exits."""
    end = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < end:
        time.sleep(min(0.01, max(0.0, end - time.monotonic())))


@dataclass(frozen=True)
class BadInput:
    """One bad ``autoterm run`` input and the phrase its one-line error must contain.

    Attributes:
        name: what is wrong.
        args: the arguments after ``autoterm run`` (``--out`` is added by the caller).
        expect: a phrase of the expected message.
    """

    name: str
    args: tuple[str, ...]
    expect: str


def bad_inputs(directory: Path) -> list[BadInput]:
    """Every class of bad input the issue lists, with its data files written to ``directory``.

    Args:
        directory: where the broken data files are created.

    Returns:
        The inputs, each expected to fail with one line before a run directory exists.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def csv(name: str, header: str, rows: Sequence[str]) -> str:
        (d / name).write_text(header + "\n" + "".join(r + "\n" for r in rows))
        return f"file:{d / name}"

    no_target = csv("no_target.csv", "a,b,label", [f"{i},{2 * i},{i % 2}" for i in range(40)])
    one_class = csv("one_class.csv", "a,b,target", [f"{i},{2 * i},yes" for i in range(40)])
    tiny = csv("tiny.csv", "a,b,target", [f"{i},{i % 3},{1.5 * i + 0.1}" for i in range(12)])
    empty_feature = csv("empty_feature.csv", "a,b,target", [f"{i},,{i % 2}" for i in range(40)])
    text_target = csv(
        "text_target.csv", "a,b,target", [f"{i},{i},{'xyz'[i % 3]}" for i in range(40)]
    )
    (d / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (d / "broken.csv.gz").write_bytes(b"this is not gzip data")
    rf = "random_forest"
    return [
        BadInput("unknown model", ("lgbm",), "unknown model"),
        BadInput("unknown dataset", (rf, "--dataset", "no_such_data"), "unknown dataset"),
        BadInput("unknown rule (--stop)", (rf, "--stop", "no_such_rule"), "unknown stopping rule"),
        BadInput(
            "unknown rule (stopping.log)",
            (rf, "stopping.log=[conv,no_such_rule]"),
            "unknown stopping rule",
        ),
        BadInput("unknown override", (rf, "no_such_key=1"), "no_such_key"),
        BadInput("missing target column", (rf, "--dataset", no_target), "'target' not found"),
        BadInput("single-class target", (rf, "--dataset", one_class), "single class"),
        BadInput(
            "fewer rows than folds", (rf, "--dataset", tiny, "--folds", "20"), "training rows"
        ),
        BadInput("all-missing feature", (rf, "--dataset", empty_feature), "entirely missing"),
        BadInput(
            "non-numeric regression target",
            (rf, "--dataset", text_target, "dataset.task=regression"),
            "not numeric",
        ),
        BadInput(
            "unreadable file (binary)", (rf, "--dataset", f"file:{d / 'binary.csv'}"), "not a text"
        ),
        BadInput(
            "unreadable file (corrupt gzip)",
            (rf, "--dataset", f"file:{d / 'broken.csv.gz'}"),
            "could not read",
        ),
        BadInput("missing file", (rf, "--dataset", f"file:{d / 'absent.csv'}"), "file not found"),
        BadInput("budget < initial design", (rf, "--budget", "3"), "initial design"),
        BadInput("folds < 2", (rf, "--folds", "1"), "folds must be >= 2"),
        BadInput("non-positive trial_timeout", (rf, "trial_timeout=0"), "trial_timeout"),
        BadInput("non-numeric value", (rf, "budget=abc"), "numbers"),
    ]
