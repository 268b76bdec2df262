"""The process-tree memory sampler sees memory held by child processes."""

import subprocess
import sys
import time

import pytest

from autoterm.resources import PeakMemory, tree_rss_bytes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def test_tree_rss_counts_a_child_holding_memory():
    base = tree_rss_bytes()
    assert base > 0
    code = "b = bytearray(200 * 2**20); import time; time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        with PeakMemory(interval=0.1) as mem:
            deadline = time.time() + 20
            while tree_rss_bytes() - base < 150 * 2**20 and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
        assert mem.peak_bytes - base >= 150 * 2**20  # the child's 200 MiB are in the sum
        s = mem.summary()
        assert s["peak_tree_rss_mib"] >= 150 and s["max_process_rss_mib"] > 0
    finally:
        child.kill()
        child.wait()
