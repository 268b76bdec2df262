"""The four closing lines of ``make bench`` (issue 6), read from ``bench/results/*.json``.

* P2 from ``overhead.json`` (``bench/overhead.py``): autoterm's optimiser overhead per iteration
  over Optuna's GPSampler + Terminator at the largest ``n``;
* P3 from ``replay.json`` (``make bench-replay``): key ``all_rules_minutes_380_runs_extrapolated``;
* P4 from ``mlp_folds.json`` (``bench/mlp_folds.py``): the batched-fold speedup;
* P5 from ``reproduce.json``: key ``smoke_minutes``.

A missing file or key prints ``n/a (run ...)`` with the command that produces it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _read(path: Path) -> dict[str, Any] | None:
    """The JSON document at ``path``, or ``None`` if absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _fmt(value: Any, missing: str) -> str:
    """``value`` with two decimals, or ``n/a (missing)``."""
    if isinstance(value, int | float):
        return f"{value:.2f}"
    return f"n/a ({missing})"


def p2_line(results: Path) -> str:
    """``P2 overhead ratio autoterm/optuna at n=<n>: <x>`` (the largest ``n`` measured)."""
    doc = _read(results / "overhead.json") or {}
    ns = sorted(
        int(k[len("ratio_n") :]) for k in doc.get("summary", {}) if k[len("ratio_n") :].isdigit()
    )
    n = ns[-1] if ns else 200
    value = doc.get("summary", {}).get(f"ratio_n{n}")
    return f"P2 overhead ratio autoterm/optuna at n={n}: {_fmt(value, 'run make bench')}"


def p3_line(results: Path) -> str:
    """``P3 replay minutes for 380 runs (extrapolated): <x>``."""
    value = (_read(results / "replay.json") or {}).get("all_rules_minutes_380_runs_extrapolated")
    return f"P3 replay minutes for 380 runs (extrapolated): {_fmt(value, 'run make bench-replay')}"


def p4_line(results: Path) -> str:
    """``P4 mlp batched-fold speedup: <x>``."""
    value = ((_read(results / "mlp_folds.json") or {}).get("summary") or {}).get("speedup")
    return f"P4 mlp batched-fold speedup: {_fmt(value, 'run make bench')}"


def p5_line(results: Path) -> str:
    """``P5 smoke reproduce minutes: <x>``."""
    value = (_read(results / "reproduce.json") or {}).get("smoke_minutes")
    return f"P5 smoke reproduce minutes: {_fmt(value, 'run python bench/reproduce_bench.py')}"


def main() -> None:
    """Print the four lines."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=str(RESULTS))
    results = Path(ap.parse_args().results)
    lines = [p2_line(results), p3_line(results), p4_line(results), p5_line(results)]
    print("\n".join(lines))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
