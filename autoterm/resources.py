"""Peak memory of a process tree: this process and every descendant (sweep jobs, loky workers).

``resource.getrusage`` gives the largest *single* descendant's peak, not what the jobs of a
sweep hold together. :class:`PeakMemory` samples the summed resident set size (RSS) of the
process and all its descendants from Linux's ``/proc`` in a daemon thread. Sampling misses
spikes shorter than the interval, so the figure is a lower bound of the true peak; the largest
single process's peak (``getrusage``) is reported next to it. On systems without ``/proc`` only
the latter is available.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from pathlib import Path
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from ``/proc/<pid>/stat``."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may contain spaces: fields restart after its ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    return kids


def tree_rss_bytes(pid: int | None = None) -> int:
    """Summed RSS of ``pid`` (default: this process) and all its descendants, in bytes.

    Args:
        pid: the root process.

    Returns:
        The sum (0 where ``/proc`` is missing).
    """
    root = os.getpid() if pid is None else pid
    if not Path("/proc").is_dir():
        return 0
    kids = _children()
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, ()))
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def max_process_rss_bytes() -> int:
    """The largest peak RSS of this process or any waited-for descendant (``getrusage``)."""
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) * scale


class PeakMemory:
    """Samples :func:`tree_rss_bytes` every ``interval`` seconds while in the ``with`` block.

    Attributes:
        peak_bytes: the largest sampled sum.

    Args:
        interval: seconds between samples.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = float(interval)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes())
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes())

    def summary(self) -> dict[str, float]:
        """``peak_tree_rss_mib`` (sampled sum) and ``max_process_rss_mib`` (getrusage)."""
        return {
            "peak_tree_rss_mib": round(self.peak_bytes / 2**20, 1),
            "max_process_rss_mib": round(max_process_rss_bytes() / 2**20, 1),
            "sample_interval_s": self.interval,
        }
