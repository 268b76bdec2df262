"""The on-disk record of a run: ``run.json``, ``trajectory.jsonl`` and a completion marker.

``trajectory.jsonl`` holds one JSON object per evaluation, appended whole and flushed (and
fsynced) as each evaluation finishes, so a crash loses at most the evaluation in flight. A torn
last line (a crash during the write) is detected on load, dropped with a warning and redone on
resume; a corrupt line anywhere else is an error naming the file and line. Direction is
normalised here once: every score in a record is *minimised*. A run directory is written by one
process at a time: :func:`lock_run_dir` holds an exclusive lock on ``<run>/.lock`` for the whole
run.

Record keys (one per evaluation):
    iteration (0-based), config (native units), fold_scores (k), val_score, test_score,
    train_score, eval_seconds, optimizer_seconds, status ("ok" | "failed"), error, source
    ("sobol" | "logei" | "fallback"), signals (e.g. ei_max, pi_max), gp (hyperparameters),
    incumbent_iteration, incumbent_val, incumbent_test, elapsed_seconds (cumulative evaluation +
    optimiser time), timestamp.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRAJECTORY = "trajectory.jsonl"
RUN_META = "run.json"
DONE_MARKER = "COMPLETED"
STOPPED = "stopped.json"
LOCK = ".lock"
STATUSES = ("ok", "failed")
REQUIRED_KEYS = (
    "iteration",
    "config",
    "fold_scores",
    "val_score",
    "test_score",
    "train_score",
    "eval_seconds",
    "optimizer_seconds",
    "status",
)


TIE_RTOL = 1e-12


def improves(new: float, best: float | None) -> bool:
    """Whether score ``new`` strictly improves on ``best`` (minimisation).

    Scores within a relative ``TIE_RTOL`` are a tie and the earlier one stays incumbent: float
    round-off in a CV mean must not change the incumbent. This is how the authors' incumbents
    reproduce (``../shared/paper-runs``: two rows of one run differ by 1e-17).
    """
    if best is None:
        return True
    return new < best - TIE_RTOL * max(abs(best), abs(new))


class TrajectoryError(ValueError):
    """A trajectory file that cannot be read (names the file and line)."""


class RunDirLocked(RuntimeError):
    """Another process holds the run directory's lock (the message names it and the fix)."""


@contextlib.contextmanager
def lock_run_dir(run_dir: Path) -> Iterator[Path]:
    """Hold an exclusive, non-blocking lock on ``<run_dir>/.lock`` for the ``with`` block.

    The lock is an ``flock`` on the file, so the kernel releases it when the holder exits in any
    way (``kill -9`` included); the file itself stays behind and is harmless: only a live lock
    counts. The holder's pid and host are written into the file for the error message.

    Args:
        run_dir: an existing run directory.

    Yields:
        The lock file's path.

    Raises:
        RunDirLocked: another process (or another open of the file) holds the lock.
    """
    import fcntl

    path = Path(run_dir) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise RunDirLocked(
                f"{Path(run_dir)} is in use by another autoterm process ({holder}); wait for it "
                "to finish, or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` (strict JSON) and numpy scalars by Python ones."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (no NaN/inf) of ``obj`` on one line."""
    return json.dumps(_clean(obj), allow_nan=False, separators=(",", ":"))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fsynced temporary file and a rename (all or nothing)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented strict JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(_clean(obj), indent=2, allow_nan=False) + "\n")


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record as a whole line, flushed and fsynced.

    Args:
        path: the ``trajectory.jsonl`` file.
        record: the evaluation record.
    """
    line = dumps(record) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _check_record(rec: Any) -> None:
    """Raise ``ValueError`` unless ``rec`` is a record with the required keys."""
    if not isinstance(rec, dict):
        raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    if missing:
        raise ValueError(f"missing keys {missing}")


def _check_consistent(rec: dict[str, Any], index: int) -> None:
    """Raise ``ValueError`` if a well-formed record does not belong at position ``index``."""
    it = rec["iteration"]
    if isinstance(it, bool) or not isinstance(it, int) or it != index:
        raise ValueError(
            f"iteration {it!r} where {index} was expected (records duplicated, lost or reordered)"
        )
    if rec["status"] not in STATUSES:
        raise ValueError(f"status {rec['status']!r} is not one of {', '.join(STATUSES)}")


def read_trajectory(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Load a trajectory, dropping a torn last line with a warning.

    A line is a record when it ends with a newline (the commit marker of :func:`append_record`)
    and parses to a JSON object with :data:`REQUIRED_KEYS`. Only the last line may fail that
    test (a crash during its write): it is dropped with a warning. A record must also sit at the
    position its ``iteration`` says and have a known ``status``, wherever it is.

    Args:
        path: the ``trajectory.jsonl`` file (a missing file is an empty trajectory).
        repair: truncate a torn last line from the file (done before resuming a run).

    Returns:
        The records in order.

    Raises:
        TrajectoryError: a line other than the last is not a valid record, or a record is out
            of place; the message starts with ``<path>:<line>:``.
    """
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records: list[dict[str, Any]] = []
    offset = 0
    for i, line in enumerate(lines):
        is_last = i == len(lines) - 1
        if is_last and line == b"":
            break
        complete = not is_last  # a line without its newline was torn by a crash
        try:
            rec = json.loads(line) if complete else None
            if complete:
                _check_record(rec)
        except (ValueError, RecursionError) as exc:
            if i >= len(lines) - 2 and all(x == b"" for x in lines[i + 1 :]):
                rec = None
            else:
                raise TrajectoryError(
                    f"{path}:{i + 1}: not a valid trajectory record ({_short(exc)}); "
                    "the file is corrupt: restore it or delete the run directory"
                ) from exc
        if rec is None:
            log.warning("%s:%d: dropping a torn last record (interrupted write)", path, i + 1)
            if repair:
                with open(path, "r+b") as fh:
                    fh.truncate(offset)
                    fh.flush()
                    os.fsync(fh.fileno())
            break
        try:
            _check_consistent(rec, i)
        except ValueError as exc:
            raise TrajectoryError(
                f"{path}:{i + 1}: not a valid trajectory record ({exc}); "
                "the file is corrupt: restore it or delete the run directory"
            ) from exc
        records.append(rec)
        offset += len(line) + 1
    return records


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def read_run_meta(run_dir: Path) -> dict[str, Any] | None:
    """``run.json`` of a run directory, or ``None`` when absent.

    Raises:
        TrajectoryError: the file is not a JSON object (names the file).
    """
    p = Path(run_dir) / RUN_META
    if not p.exists():
        return None
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise TrajectoryError(
            f"{p}: not valid JSON ({_short(exc)}); restore it or delete the run directory"
        ) from exc
    if not isinstance(meta, dict):
        raise TrajectoryError(f"{p}: not a JSON object; restore it or delete the run directory")
    return meta


def is_complete(run_dir: Path) -> bool:
    """Whether the run directory holds a finished run."""
    return (Path(run_dir) / DONE_MARKER).exists()
