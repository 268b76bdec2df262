"""Import the authors' released BO runs as autoterm run directories.

Makarova et al. (2022), "Automatic Termination for Hyperparameter Optimization" (AutoML 2022),
released their raw results at GitHub ``amazon-research/bo-early-stopping`` (Apache-2.0). A copy
of part of them, and a description of the format, is in ``../shared/paper-runs/README.md``:

* ``bo_runs_cv/<name>/NNN.csv[.gz]``: one BO run, one row per evaluation in order, where
  ``<name>`` is ``<dataset>_dppN_<RandomForest|XGB>_cross_validation_nf<k>`` and ``NNN`` the
  replicate (the ``seed`` of the authors' result file);
* ``regrets_identity_cv_top0.5/<name>/NNN.csv[.gz]`` (optional): the authors' monitoring trace,
  one row per check ``iteration`` ``t`` (20 … 199), computed from bo rows ``0 .. t-1``.

:func:`import_paper_runs` turns each run into ``out/<model>/<dataset>/seed=<NNN>/`` holding the
usual ``run.json``, ``trajectory.jsonl`` and ``COMPLETED`` (:mod:`autoterm.trajectory`), so that
the stopping rules replay the authors' runs exactly as they replay ours. Record ``i`` is bo row
``i`` (0-based; the authors' ``iteration`` column is not a row index), and the regrets row whose
``iteration`` is ``i`` adds ``authors_regret_bound``, ``authors_incumbent_std`` and
``authors_total_train_time`` to ``signals`` of record ``i``: the same convention as our own
``ei_max`` of record ``t``, computed from the first ``t`` records (see
:mod:`autoterm.stopping.history`).

Configurations are stored in native units: ``exp`` of the parameters the authors store as natural
logarithms, the linear ones as they are. Integer parameters on a log scale are **not rounded**:
the authors store them unrounded in log space and do not record the integer the model used, so
the float kept here is the value the authors' GP actually saw, and our unit-cube encoding of it
equals the authors' stored value mapped to the cube (values within an ulp outside a bound, from
``exp(log(bound))``, are clamped to it).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from autoterm.objectives.random_forest import RandomForestObjective
from autoterm.objectives.xgboost import XGBoostObjective
from autoterm.runner import dataset_slug
from autoterm.space import Int, SearchSpace
from autoterm.trajectory import (
    DONE_MARKER,
    RUN_META,
    TRAJECTORY,
    dumps,
    improves,
    write_json_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

BO_DIR = "bo_runs_cv"
REGRETS_DIR = "regrets_identity_cv_top0.5"
N_INIT = 5  # the authors' initial design: the first five rows (``ei``/``pi`` not computed)

MODELS: dict[str, tuple[str, SearchSpace]] = {
    "XGB": ("xgboost", XGBoostObjective.space),
    "RandomForest": ("random_forest", RandomForestObjective.space),
}
_NAME = re.compile(r"^(?P<name>.+)_(?P<est>RandomForest|XGB)_cross_validation_nf(?P<k>\d+)$")
_FILE = re.compile(r"^(?P<rep>\d+)\.csv(?:\.gz)?$")
_BO_COLUMNS = ("value", "evaluation_time", "optimizer_time", "parameters", "additional_signals")
_REGRET_COLUMNS = ("iteration", "regret_bound", "incumbent_std", "total_train_time")
_BOUND_RTOL = 1e-9  # round-off allowed outside a bound before a stored value is an error


class PaperRunsError(ValueError):
    """A source folder or file that cannot be imported (one line naming it and the problem)."""


def import_paper_runs(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    select: Callable[[str, str], bool] | None = None,
) -> list[Path]:
    """Convert the authors' BO runs under ``src`` into autoterm run directories under ``out``.

    Each ``src/bo_runs_cv/<name>/NNN.csv[.gz]`` becomes ``out/<model>/<dataset>/seed=<int(NNN)>``
    with ``model`` ``xgboost`` (``XGB``) or ``random_forest`` (``RandomForest``) and ``dataset``
    the authors' dataset name without its ``_dppN`` suffix (e.g. ``op100-9952``), as in the
    ``dataset`` column of their result file. A run already imported (``COMPLETED`` present) is
    left alone unless ``overwrite``. Files are written atomically: ``run.json`` and the trajectory
    through a temporary file and a rename, then ``COMPLETED``.

    Records follow :mod:`autoterm.trajectory`; configurations are in native units with log-scaled
    integers kept **unrounded** (the float the authors' GP saw; the integer the model used is not
    recorded). ``signals`` holds ``ei_max``/``pi_max`` (``None`` on the five initial rows, where
    the authors' ``0.0`` means "not computed") and, from the regrets file when present,
    ``authors_regret_bound``, ``authors_incumbent_std`` and ``authors_total_train_time``.

    Args:
        src: a folder laid out like ``../shared/paper-runs`` (holding ``bo_runs_cv``).
        out: root of the run directories to write.
        overwrite: re-import runs that are already complete.
        select: keep only the runs for which ``select(authors_name, replicate)`` is true, e.g.
            ``("op100-9952_dpp1_XGB_cross_validation_nf10", "000")``; ``None`` keeps all.

    Returns:
        The run directories of the selected runs (imported or already present), sorted.

    Raises:
        PaperRunsError: (a ``ValueError``) ``src`` has no ``bo_runs_cv`` folder or no runs, two
            runs map to the same directory, an existing directory holds a different run, or a file
            is malformed.
    """
    src, out = Path(src), Path(out)
    runs = _discover(src)
    if select is not None:
        runs = [r for r in runs if select(r["authors_name"], r["replicate"])]
    done: list[Path] = []
    for r in runs:
        run_dir = out / r["model"] / dataset_slug(r["dataset"]) / f"seed={r['seed']}"
        ident = _identity(r)
        meta_path = run_dir / RUN_META
        if meta_path.exists():
            old = json.loads(meta_path.read_text()).get("identity")
            if old != ident:
                raise PaperRunsError(
                    f"{run_dir} holds a different run (its run.json identity differs from "
                    f"{r['authors_name']}/{r['replicate']}); choose another --out or delete it"
                )
        if (run_dir / DONE_MARKER).exists() and not overwrite:
            log.info("%s: already imported; skipping (pass overwrite to redo)", run_dir)
        else:
            _import_one(r, run_dir, ident)
            log.info("%s: imported from %s", run_dir, r["path"])
        done.append(run_dir)
    return sorted(done)


def parse_literal(text: str) -> Any:
    """Parse a Python literal as :func:`ast.literal_eval` does, with tuples returned as lists.

    The authors' dict columns are Python literals (single quotes, ``False``, tuples). When the
    text has no double quote or backslash, its strings hold no ``(``, ``)``, ``True``, ``False`` or
    ``None``, and it contains no ``NaN``/``Infinity``, a character translation to JSON is exact
    and ~10x faster than ``ast.literal_eval`` (which otherwise dominates the import); anything
    else, or JSON that does not parse, goes through ``ast.literal_eval``.

    Args:
        text: the literal.

    Returns:
        The value, with tuples as lists.

    Raises:
        ValueError: not a Python literal.
    """
    if not any(c in text for c in ('"', "\\", "NaN", "Infinity")):
        strings = "".join(re.findall(r"'[^']*'", text))
        if not any(c in strings for c in ("(", ")", "True", "False", "None")):
            js = text.translate(_TO_JSON)
            js = js.replace("True", "true").replace("False", "false").replace("None", "null")
            try:
                return json.loads(js)
            except ValueError:
                pass
    try:
        return _untuple(ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not a Python literal: {text[:60]!r}...") from exc


_TO_JSON = str.maketrans({"'": '"', "(": "[", ")": "]"})


def _untuple(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _untuple(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_untuple(v) for v in obj]
    return obj


def _discover(src: Path) -> list[dict[str, Any]]:
    """All runs under ``src/bo_runs_cv`` with their target identity, by name and replicate."""
    bo = src / BO_DIR
    if not bo.is_dir():
        raise PaperRunsError(
            f"{src} is not a paper-runs folder: no {BO_DIR}/ inside "
            "(expected bo_runs_cv/<name>/NNN.csv[.gz], as in ../shared/paper-runs)"
        )
    runs: list[dict[str, Any]] = []
    targets: dict[tuple[str, str, int], str] = {}
    for d in sorted(p for p in bo.iterdir() if p.is_dir()):
        m = _NAME.match(d.name)
        if m is None:
            log.warning("%s: not <dataset>_<RandomForest|XGB>_cross_validation_nfK; skipped", d)
            continue
        model, space = MODELS[m["est"]]
        dataset = re.sub(r"_dpp\d+$", "", m["name"])
        files: dict[str, Path] = {}
        for f in sorted(d.iterdir()):
            fm = _FILE.match(f.name)
            if fm is None:
                continue
            if fm["rep"] in files:
                raise PaperRunsError(f"{d}: replicate {fm['rep']} is there twice ({f.name})")
            files[fm["rep"]] = f
        for rep, path in files.items():
            key = (model, dataset, int(rep))
            if key in targets:
                raise PaperRunsError(
                    f"{path} and {targets[key]} both map to {model}/{dataset}/seed={int(rep)}; "
                    "import them into different --out folders"
                )
            targets[key] = str(path)
            regrets = [src / REGRETS_DIR / d.name / (rep + s) for s in (".csv", ".csv.gz")]
            runs.append(
                {
                    "authors_name": d.name,
                    "authors_dataset": m["name"],
                    "replicate": rep,
                    "seed": int(rep),
                    "model": model,
                    "space": space,
                    "dataset": dataset,
                    "folds": int(m["k"]),
                    "path": path,
                    "regrets": next((p for p in regrets if p.exists()), None),
                }
            )
    if not runs:
        raise PaperRunsError(f"{bo} holds no runs (expected <name>/NNN.csv[.gz])")
    return runs


def _identity(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "paper-runs",
        "authors_name": r["authors_name"],
        "replicate": r["replicate"],
        "model": r["model"],
        "dataset": r["dataset"],
        "seed": r["seed"],
    }


def _read_csv(path: Path, columns: tuple[str, ...]) -> Any:
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, EOFError) as exc:
        raise PaperRunsError(f"{path}: cannot read as CSV ({exc})") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing or df.empty:
        raise PaperRunsError(f"{path}: no rows or missing columns {missing} (expected {columns})")
    return df


def _config(stored: Mapping[str, Any], space: SearchSpace, where: str) -> dict[str, Any]:
    """Native configuration from the authors' stored parameters (``ln`` for log-scaled ones)."""
    if set(stored) != set(space.names):
        raise PaperRunsError(f"{where}: parameters {sorted(stored)} are not {sorted(space.names)}")
    cfg: dict[str, Any] = {}
    for p in space.params:
        s = stored[p.name]
        v: Any = math.exp(s) if p.log else s
        lo, hi = p.low, p.high
        if not lo - _BOUND_RTOL * abs(lo) <= v <= hi + _BOUND_RTOL * abs(hi):
            raise PaperRunsError(f"{where}: {p.name}={v!r} is outside [{lo}, {hi}]")
        if p.log or not isinstance(p, Int):
            v = min(max(float(v), lo), hi)
        cfg[p.name] = v
    return cfg


def _import_one(r: Mapping[str, Any], run_dir: Path, ident: dict[str, Any]) -> None:
    path: Path = r["path"]
    df = _read_csv(path, _BO_COLUMNS)
    n = len(df)
    try:
        params = [parse_literal(s) for s in df["parameters"]]
        signals = [parse_literal(s) for s in df["additional_signals"]]
    except ValueError as exc:
        raise PaperRunsError(f"{path}: {exc}") from exc
    metric = signals[0].get("tuning_metric")
    if metric not in ("error", "rmse"):
        raise PaperRunsError(f"{path}: tuning_metric {metric!r} is neither 'error' nor 'rmse'")
    val = df["value"].to_numpy(float)
    ev = df["evaluation_time"].to_numpy(float)
    opt = df["optimizer_time"].to_numpy(float)
    elapsed = np.cumsum(ev + opt)
    inc = _incumbents(val)
    extra = _regret_signals(r["regrets"], n)

    records = []
    for i in range(n):
        sig = signals[i]
        where = f"{path} row {i}"
        try:
            folds = [float(f[metric]) for f in sig["validation_metrics"]]
            test, train = float(sig["test_value"]), float(sig["train_value"])
            ei, pi = float(sig["ei"]), float(sig["pi"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PaperRunsError(f"{where}: additional_signals lacks {exc}") from exc
        if len(folds) != r["folds"]:
            raise PaperRunsError(f"{where}: {len(folds)} fold scores, expected {r['folds']}")
        j = int(inc[i])
        records.append(
            {
                "iteration": i,
                "config": _config(params[i], r["space"], where),
                "fold_scores": folds,
                "val_score": float(val[i]),
                "test_score": test,
                "train_score": train,
                "eval_seconds": float(ev[i]),
                "optimizer_seconds": float(opt[i]),
                "status": "ok",
                "error": None,
                "source": "sobol" if i < N_INIT else "authors_bo",
                "signals": {
                    "ei_max": None if i < N_INIT else ei,
                    "pi_max": None if i < N_INIT else pi,
                    **extra.get(i, {}),
                },
                "gp": None,
                "incumbent_iteration": j,
                "incumbent_val": float(val[j]),
                "incumbent_test": None,  # filled below
                "elapsed_seconds": float(elapsed[i]),
            }
        )
    for rec in records:
        rec["incumbent_test"] = records[rec["incumbent_iteration"]]["test_score"]

    k = r["folds"]
    meta = {
        "identity": ident,
        "model": r["model"],
        "dataset": r["dataset"],
        "dataset_slug": dataset_slug(r["dataset"]),
        "seed": r["seed"],
        "budget": n,
        "task": "regression" if metric == "rmse" else "classification",
        "n_classes": None,
        "metric": metric,
        "direction": "minimize",
        "split": {
            "n_train": None,
            "n_test": None,
            "folds": k,
            # Nadeau & Bengio (2003) ratio of the authors' sqrt(1/k + 1/(k-1)) factor
            "n_test_over_n_train": 1.0 / (k - 1),
        },
        "space": r["space"].to_list(),
        "source": {
            "kind": "paper-runs",
            "path": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "regrets_path": str(r["regrets"]) if r["regrets"] else None,
            "choice": signals[0].get("choice"),
            "upstream": "amazon-research/bo-early-stopping (Makarova et al., 2022)",
        },
        "authors_name": r["authors_name"],
        "authors_dataset": r["authors_dataset"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / DONE_MARKER).unlink(missing_ok=True)
    write_json_atomic(run_dir / RUN_META, meta)
    write_text_atomic(run_dir / TRAJECTORY, "".join(_dumps(rec) + "\n" for rec in records))
    (run_dir / DONE_MARKER).write_text(meta["created"] + "\n")


def _incumbents(val: np.ndarray) -> np.ndarray:
    """``inc[i]``: the best of rows ``0..i``, shape ``(n,)``, as in the authors' regrets files.

    Ties within float round-off (:func:`autoterm.trajectory.improves`) go to the earliest row:
    the authors' files do so (README "Checks"), e.g. on a run whose rows 5 and 35 differ by 1e-17.
    """
    inc = np.zeros(len(val), dtype=int)
    for i in range(1, len(val)):
        inc[i] = i if improves(float(val[i]), float(val[inc[i - 1]])) else inc[i - 1]
    return inc


def _regret_signals(path: Path | None, n: int) -> dict[int, dict[str, float]]:
    """``{bo row t: authors' signals}`` from a regrets file (empty when there is none)."""
    if path is None:
        return {}
    df = _read_csv(path, _REGRET_COLUMNS)
    it = df["iteration"].to_numpy()
    if not (np.all(it == np.round(it)) and it.min() >= 0 and it.max() < n):
        raise PaperRunsError(f"{path}: iterations must be row positions 0..{n - 1}")
    cols = {
        "authors_regret_bound": df["regret_bound"].to_numpy(float),
        "authors_incumbent_std": df["incumbent_std"].to_numpy(float),
        "authors_total_train_time": df["total_train_time"].to_numpy(float),
    }
    return {int(t): {k: float(v[row]) for k, v in cols.items()} for row, t in enumerate(it)}


def _dumps(rec: Mapping[str, Any]) -> str:
    """:func:`autoterm.trajectory.dumps` of a record of plain Python values (fast path)."""
    try:
        return json.dumps(rec, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError):  # a NaN/inf (stored as null) or a numpy scalar
        return dumps(rec)
