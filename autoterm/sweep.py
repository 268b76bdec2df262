"""Progress of a sweep, read from its run directories by the process that launched it.

A sweep's jobs run elsewhere (joblib workers, submitit processes, SLURM nodes) and write their
run directories (:mod:`autoterm.trajectory`). The launching process knows the planned runs and
polls those directories: a run is done when it holds ``COMPLETED``, and the evaluations done so
far are the complete lines of each ``trajectory.jsonl`` (counted, not parsed). A log line is
written when a run finishes, and a heartbeat at most every ``heartbeat`` seconds, with runs
done/total, evaluations done/total and an ETA from the evaluation rate since the sweep started
(runs already complete when it started do not count towards the rate). The same numbers go to
``progress.json`` next to the runs, so another shell (or a login node) can follow the sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from autoterm.trajectory import DONE_MARKER, TRAJECTORY, write_json_atomic

log = logging.getLogger(__name__)

PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: where it writes and how many evaluations it will do at most."""

    model: str
    dataset: str
    seed: int
    run_dir: Path
    budget: int

    @property
    def label(self) -> str:
        """``model/dataset/seed=s``."""
        return f"{self.model}/{self.run_dir.parent.name}/seed={self.seed}"


@dataclass
class SweepStatus:
    """A snapshot of a sweep."""

    runs_total: int
    runs_done: int
    evals_total: int
    evals_done: int
    elapsed_seconds: float
    eta_seconds: float | None

    def line(self) -> str:
        """``7/12 runs, 340/600 evaluations (57%), 4m12s elapsed, ETA 3m10s``."""
        pct = 100.0 * self.evals_done / self.evals_total if self.evals_total else 100.0
        eta = "?" if self.eta_seconds is None else format_seconds(self.eta_seconds)
        return (
            f"{self.runs_done}/{self.runs_total} runs, {self.evals_done}/{self.evals_total} "
            f"evaluations ({pct:.0f}%), {format_seconds(self.elapsed_seconds)} elapsed, ETA {eta}"
        )


def format_seconds(s: float) -> str:
    """``75`` → ``1m15s``, ``3725`` → ``1h02m``."""
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def count_records(run_dir: Path) -> int:
    """Complete (newline-terminated) records of a run's trajectory; 0 when it has none."""
    try:
        with (Path(run_dir) / TRAJECTORY).open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))
    except FileNotFoundError:
        return 0


def run_done(run_dir: Path) -> bool:
    """Whether the run finished (its ``COMPLETED`` marker exists)."""
    return (Path(run_dir) / DONE_MARKER).exists()


class SweepProgress:
    """Follows a sweep's runs from the launching process (see the module docstring).

    Use as a context manager around the launch: a daemon thread polls every ``interval``
    seconds; on exit a last poll logs the final state.

    Args:
        runs: the planned runs.
        interval: seconds between polls.
        heartbeat: seconds between progress lines when no run finishes (``0``: only on
            finished runs).
        status_file: where to write the snapshot as JSON (``None``: nowhere).
        name: the sweep's name in log lines.
    """

    def __init__(
        self,
        runs: Sequence[PlannedRun],
        *,
        interval: float = 5.0,
        heartbeat: float = 300.0,
        status_file: Path | None = None,
        name: str = "sweep",
    ):
        self.runs = list(runs)
        self.interval = interval
        self.heartbeat = heartbeat
        self.status_file = status_file
        self.name = name
        self._done: set[Path] = set()
        self._t0 = time.monotonic()
        self._evals0 = 0
        self._last_line = self._t0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _counts(self) -> tuple[set[Path], int]:
        done: set[Path] = set()
        evals = 0
        for r in self.runs:
            if run_done(r.run_dir):
                done.add(r.run_dir)
                evals += r.budget  # a run that stopped early has nothing left to do
            else:
                evals += min(count_records(r.run_dir), r.budget)
        return done, evals

    def start(self) -> SweepStatus:
        """Take the starting point (runs already done do not count towards the rate)."""
        self._t0 = self._last_line = time.monotonic()
        self._done, self._evals0 = self._counts()
        st = self._status(self._evals0)
        log.info(
            "%s: %d runs, %d already complete, %d evaluations to go",
            self.name,
            st.runs_total,
            st.runs_done,
            st.evals_total - st.evals_done,
        )
        self._write(st)
        return st

    def _status(self, evals: int) -> SweepStatus:
        elapsed = time.monotonic() - self._t0
        total = sum(r.budget for r in self.runs)
        gained = evals - self._evals0
        eta = None
        if gained > 0 and elapsed > 0:
            eta = (total - evals) * elapsed / gained
        elif evals >= total:
            eta = 0.0
        return SweepStatus(len(self.runs), len(self._done), total, evals, elapsed, eta)

    def poll(self) -> SweepStatus:
        """Look at the run directories once; log newly finished runs (and a heartbeat)."""
        done, evals = self._counts()
        new = [r for r in self.runs if r.run_dir in done and r.run_dir not in self._done]
        before = len(self._done & done)
        self._done = done
        st = self._status(evals)
        now = time.monotonic()
        for i, r in enumerate(new, 1):  # several runs finished since the last poll: count up
            log.info(
                "%s: %s done; %s", self.name, r.label, replace(st, runs_done=before + i).line()
            )
            self._last_line = now
        if not new and self.heartbeat and now - self._last_line >= self.heartbeat:
            log.info("%s: %s", self.name, st.line())
            self._last_line = now
        self._write(st)
        return st

    def _write(self, st: SweepStatus) -> None:
        if self.status_file is None:
            return
        try:
            write_json_atomic(self.status_file, {"name": self.name, **asdict(st)})
        except OSError as exc:  # progress is best effort: never fail the sweep for it
            log.debug("cannot write %s: %s", self.status_file, exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # a hiccup reading a file must not kill the thread
                log.debug("progress poll failed: %s", exc)

    def __enter__(self) -> SweepProgress:
        self.start()
        self._thread = threading.Thread(target=self._loop, name="sweep-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        st = self.poll()
        missing = [r.label for r in self.runs if r.run_dir not in self._done]
        if missing:
            more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
            log.warning(
                "%s: %d of %d runs not complete: %s%s",
                self.name,
                len(missing),
                len(self.runs),
                ", ".join(missing[:5]),
                more,
            )
        else:
            log.info(
                "%s: all %d runs complete (%s)",
                self.name,
                len(self.runs),
                format_seconds(st.elapsed_seconds),
            )
