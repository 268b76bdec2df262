"""Replay: every stopping rule × knob on stored full-budget runs, with no retraining.

Why it is exact: a rule decides only *when* to stop, never *which* configuration BO proposes, so
a full-budget trajectory holds every prefix an online run with any rule would have seen
(``DESIGN.md`` §1). Knob sweeps re-threshold one estimate array per rule; the estimates of rules
that need GP refits (``uses_gp``) are cached next to the run in ``replay_cache.json`` (keyed by
the rule's parameters), so a second replay does no GP work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autoterm.metrics import measures
from autoterm.stopping import History, StoppingRule, load_history, make_rule, rule_class
from autoterm.trajectory import RUN_META, write_json_atomic

log = logging.getLogger(__name__)

CACHE = "replay_cache.json"


@dataclass
class RuleSpec:
    """One rule to replay: its name, parameters and knob grid, plus labels for the table.

    Attributes:
        rule: registered rule name.
        knobs: knob values (default: the rule's ``default_knobs``).
        params: rule parameters (``warmup`` included).
        label: the ``rule`` column (default: ``rule``).
        paper_methods: for the paper grid, the authors' method name of each knob.
        bound_source: ``authors`` or ``autoterm`` for the paper's rule, else empty.
    """

    rule: str
    knobs: Sequence[float] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    paper_methods: Sequence[str] | None = None
    bound_source: str = ""

    def build(self) -> StoppingRule:
        """The rule instance."""
        return make_rule(self.rule, **self.params)


def default_specs(names: Iterable[str] | None = None) -> list[RuleSpec]:
    """Every registered rule (or ``names``) with its default knobs."""
    from autoterm.stopping import RULES

    out = []
    for n in names or RULES:
        rule_class(n)  # fail early on unknown names
        if n == "regret_bound_authors":
            continue  # needs the authors' logged bound: paper grid only
        out.append(RuleSpec(n))
    return out


def paper_grid_specs() -> list[RuleSpec]:
    """Exactly the authors' method grid (result_identity_cv_top0.5.csv), labelled with their names.

    ``Ours_x`` uses c = x / 0.21 and the frozen threshold of the authors' code, once with their
    logged bound (``bound_source = authors``) and once with autoterm's GP (``autoterm``) in the
    reading that reproduces their bound best (:data:`~autoterm.stopping.regret_bound.AUTHORS_LIKE`:
    noise in sigma, ``beta_t / 2``).
    """
    from autoterm.stopping.regret_bound import AUTHORS_LIKE

    ours = (0.21, 0.5, 1.0)
    cs = [x / 0.21 for x in ours]
    names = [f"Ours_{x}" for x in ours]
    return [
        RuleSpec(
            "conv", (10, 30, 50, 70, 90), paper_methods=[f"Conv_{k}" for k in (10, 30, 50, 70, 90)]
        ),
        RuleSpec("ei", (1e-8, 1e-12, 1e-16), paper_methods=["EI_1e-08", "EI_1e-12", "EI_1e-16"]),
        RuleSpec("pi", (1e-4, 1e-8, 1e-12), paper_methods=["PI_0.0001", "PI_1e-08", "PI_1e-12"]),
        RuleSpec(
            "regret_bound_authors",
            cs,
            {"frozen_threshold": True},
            label="regret_bound",
            paper_methods=names,
            bound_source="authors",
        ),
        RuleSpec(
            "regret_bound",
            cs,
            {"frozen_threshold": True, **AUTHORS_LIKE},
            paper_methods=names,
            bound_source="autoterm",
        ),
    ]


THRESHOLD_ONLY = frozenset({"frozen_threshold", "constant_threshold"})
"""Parameters that change a rule's thresholds or checks, never its estimates (not cache keys)."""


def _params_key(spec: RuleSpec, version: int = 1) -> str:
    params = {k: v for k, v in spec.params.items() if k not in THRESHOLD_ONLY}
    blob = {"rule": spec.rule, "params": params}
    if version != 1:  # version-1 keys are those written before versions existed
        blob["version"] = version
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _data_key(h: History) -> str:
    """A fingerprint of what an estimate reads: values, fold scores, configurations."""
    sha = hashlib.sha256()
    for a in (h.val, h.folds, h.X if h.X is not None else np.zeros(0)):
        sha.update(np.ascontiguousarray(a, dtype=float).tobytes())
    return sha.hexdigest()[:16]


def _cached_estimates(run_dir: Path, spec: RuleSpec, rule: StoppingRule, h: History) -> np.ndarray:
    path = run_dir / CACHE
    key = _params_key(spec, rule.estimate_version)
    data = _data_key(h)
    cache: dict[str, Any] = {}
    if path.exists():
        try:
            cache = json.loads(path.read_text())
        except ValueError:
            log.warning("%s: unreadable cache, recomputing", path)
    entry = cache.get(key)
    if entry and entry.get("n") == len(h) and entry.get("data", data) == data:
        return np.array([np.nan if v is None else v for v in entry["estimates"]], dtype=float)
    est = rule.estimates(h)
    cache[key] = {
        "rule": spec.rule,
        "params": spec.params,
        "version": rule.estimate_version,
        "n": len(h),
        "data": data,
        "estimates": [None if not math.isfinite(v) else float(v) for v in est],
    }
    try:
        write_json_atomic(path, cache)
    except OSError as exc:  # a read-only run directory (e.g. shared data): no cache
        log.debug("cannot write %s: %s", path, exc)
    return est


def replay_run(
    run_dir: str | Path, specs: Sequence[RuleSpec], *, convention: str = "autoterm"
) -> list[dict[str, Any]]:
    """All rows (rule × knob) of one run.

    Args:
        run_dir: a run directory (``run.json`` + ``trajectory.jsonl``).
        specs: the rules to replay.
        convention: ``"autoterm"`` (stop checks up to ``N``) or ``"paper"`` (the authors'
            horizon ``N − 1`` and time window, see :mod:`autoterm.metrics`).

    Returns:
        One dict per rule × knob.
    """
    run_dir = Path(run_dir)
    h = load_history(run_dir)
    meta = h.meta
    horizon = len(h) - 1 if convention == "paper" else len(h)
    base = {
        "run": str(run_dir),
        "model": meta.get("model"),
        "dataset": meta.get("dataset_slug") or meta.get("dataset"),
        "seed": meta.get("seed"),
        "n_records": len(h),
    }
    rows = []
    for spec in specs:
        rule = spec.build()
        if rule.uses_gp:
            est = _cached_estimates(run_dir, spec, rule, h)
        else:
            est = rule.estimates(h)
        knobs = list(spec.knobs if spec.knobs is not None else rule.default_knobs)
        for i, knob in enumerate(knobs):
            d = rule.stop(h, knob, horizon=horizon, estimates=est)
            m = measures(h, d.stop_iter, T=horizon, convention=convention, warmup=rule.warmup)
            row = {
                **base,
                "rule": spec.label or spec.rule,
                "knob": knob,
                "stop_iter": d.stop_iter,
                "fired": d.fired,
                **{
                    k: m[k]
                    for k in (
                        "rtc_iter",
                        "rtc_time",
                        "ryc",
                        "rel_val",
                        "total_iter",
                        "total_time",
                        "test_at_stop",
                        "test_final",
                    )
                },
                "estimate": d.estimate,
                "threshold": d.threshold,
                "paper_method": spec.paper_methods[i] if spec.paper_methods else "",
                "bound_source": spec.bound_source,
            }
            rows.append(row)
    return rows


def find_runs(patterns: Iterable[str | Path]) -> list[Path]:
    """Run directories under each path or glob (a directory holding ``run.json`` at any depth).

    Raises:
        FileNotFoundError: a pattern matched no run.
    """
    import glob

    found: list[Path] = []
    for pat in patterns:
        hits = [Path(p) for p in glob.glob(str(pat))] or []
        runs = []
        for p in hits:
            if (p / RUN_META).exists():
                runs.append(p)
            elif p.is_dir():
                runs.extend(sorted(q.parent for q in p.rglob(RUN_META)))
        if not runs:
            raise FileNotFoundError(f"no run directory (with run.json) under {pat!s}")
        found.extend(runs)
    return sorted(dict.fromkeys(found))


def replay(
    run_dirs: Sequence[str | Path],
    specs: Sequence[RuleSpec],
    *,
    convention: str = "autoterm",
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Replay ``specs`` on every run, in parallel processes (joblib).

    Args:
        run_dirs: run directories.
        specs: the rules.
        convention: see :func:`replay_run`.
        n_jobs: worker processes (default: cores).
        progress: called with ``(done, total)`` after each run.

    Returns:
        All rows, ordered by run then rule.
    """
    from joblib import Parallel, delayed

    n_jobs = n_jobs or max(1, len(os.sched_getaffinity(0)))
    n = len(run_dirs)
    out: list[dict[str, Any]] = []
    if n_jobs == 1 or n <= 1:
        for i, r in enumerate(run_dirs):
            out.extend(replay_run(r, specs, convention=convention))
            if progress:
                progress(i + 1, n)
        return out
    par = Parallel(n_jobs=n_jobs, return_as="generator")
    results = par(delayed(replay_run)(r, specs, convention=convention) for r in run_dirs)
    for i, rows in enumerate(results):
        out.extend(rows)
        if progress:
            progress(i + 1, n)
    return out
