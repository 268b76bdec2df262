"""A run's trajectory as arrays: what every stopping rule reads.

Notation (Makarova et al., 2022; ``DESIGN.md`` §3):
    N: number of records (evaluations) in the run.
    t: a *check* after ``t`` evaluations; a rule checking at ``t`` sees records ``0 .. t-1`` only
       (a prefix of length ``t``). ``stop_iter = s`` means the run would have stopped after ``s``
       evaluations. The loop's own signals stored on record ``t`` (``ei_max``, ``pi_max``) were
       computed from the first ``t`` records, so they belong to the check at ``t``; this is also
       the convention of the authors' files (their regrets row ``t`` uses bo rows ``0 .. t-1``,
       and their ``ei`` of bo row ``t``).
    k: number of CV folds.

Scores are minimised. Failed evaluations have ``val = NaN`` and are never incumbents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autoterm.trajectory import RUN_META, TRAJECTORY, improves, read_trajectory


@dataclass
class History:
    """The arrays of one run.

    Attributes:
        val: validation scores, shape ``(N,)`` (NaN for failed evaluations).
        test: test scores, shape ``(N,)``.
        folds: per-fold validation scores, shape ``(N, k)`` (NaN rows for failures; ``k = 0``
            when the run has no fold scores).
        X: encoded configurations in the unit cube, shape ``(N, d)`` (``None`` if unknown).
        cost: seconds per evaluation including the optimiser, shape ``(N,)``.
        signals: logged per-record signals, each of shape ``(N,)`` (NaN where absent), e.g.
            ``ei_max``, ``pi_max``, ``authors_regret_bound``.
        n_test_over_n_train: the ratio in the statistical-error correction (``1/(k-1)``).
        meta: the run's ``run.json``.
        eval_cost: evaluation seconds only (no optimiser time), shape ``(N,)``.
    """

    val: np.ndarray
    test: np.ndarray
    folds: np.ndarray
    X: np.ndarray | None
    cost: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    n_test_over_n_train: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    eval_cost: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.val)

    def incumbent(self, t: int) -> int | None:
        """Index of the best of the first ``t`` records (earliest on ties), or ``None``."""
        i = int(self.incumbents()[t])
        return None if i < 0 else i

    def incumbents(self) -> np.ndarray:
        """Incumbent index of every prefix ``t = 0 .. N`` (-1 if none), shape ``(N + 1,)``.

        Ties within :data:`autoterm.trajectory.TIE_RTOL` keep the earlier record.
        """
        out = np.full(len(self) + 1, -1, dtype=int)
        best, arg = None, -1
        for i, v in enumerate(self.val):
            out[i] = arg
            if np.isfinite(v) and improves(float(v), best):
                best, arg = float(v), i
        out[len(self)] = arg
        return out


def history_from_records(
    records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any] | None = None
) -> History:
    """Build a :class:`History` from trajectory records (and the run's ``run.json``).

    Args:
        records: trajectory records in order.
        meta: ``run.json`` (gives the search space for ``X`` and the split sizes).
    """
    meta = dict(meta or {})
    n = len(records)
    ok = [r.get("status") == "ok" for r in records]
    val = np.array(
        [
            r["val_score"] if o and r["val_score"] is not None else np.nan
            for r, o in zip(records, ok, strict=True)
        ],
        dtype=float,
    )
    test = np.array(
        [
            r["test_score"] if o and r["test_score"] is not None else np.nan
            for r, o in zip(records, ok, strict=True)
        ],
        dtype=float,
    )
    k = max((len(r.get("fold_scores") or []) for r in records), default=0)
    folds = np.full((n, k), np.nan)
    for i, r in enumerate(records):
        fs = r.get("fold_scores") or []
        if ok[i] and len(fs) == k:
            folds[i] = fs
    cost = np.array(
        [(r.get("eval_seconds") or 0.0) + (r.get("optimizer_seconds") or 0.0) for r in records],
        dtype=float,
    )
    eval_cost = np.array([r.get("eval_seconds") or 0.0 for r in records], dtype=float)
    names = sorted({s for r in records for s in (r.get("signals") or {})})
    signals = {
        s: np.array([_num((r.get("signals") or {}).get(s)) for r in records], dtype=float)
        for s in names
    }
    X = None
    if meta.get("space"):
        from autoterm.space import space_from_list

        space = space_from_list(meta["space"])
        X = space.encode([r["config"] for r in records]) if n else np.zeros((0, space.dim))
    ratio = (meta.get("split") or {}).get("n_test_over_n_train")
    if ratio is None and k >= 2:
        ratio = 1.0 / (k - 1)
    return History(val, test, folds, X, cost, signals, ratio, meta, eval_cost)


def load_history(run_dir: str | Path) -> History:
    """Read a run directory's trajectory and ``run.json`` into a :class:`History`."""
    run_dir = Path(run_dir)
    meta_path = run_dir / RUN_META
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return history_from_records(read_trajectory(run_dir / TRAJECTORY), meta)


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and v is not None else np.nan
