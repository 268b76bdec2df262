"""Foundation timings: one 10-fold evaluation per model on adult, and the BO optimiser step.

Prints a table and writes ``bench/results/foundation.json``. Needs adult in a data directory
(``AUTOTERM_DATA_DIRS=../shared/datasets``). Medians over ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def eval_times(
    dataset: str, folds: int, repeats: int, threads: int, models: list[str]
) -> dict[str, dict]:
    """Median wall time of one k-fold + test evaluation of each model's mid-space config."""
    from autoterm.data import load_dataset, make_splits, prepare
    from autoterm.objectives import MODELS, get_objective

    ds = load_dataset(dataset)
    splits = make_splits(ds.y, ds.task, n_folds=folds, seed=0)
    out = {}
    for name in models or MODELS:
        cls = get_objective(name)
        t0 = time.perf_counter()
        data = prepare(ds, splits, cls.preprocessing)
        prep = time.perf_counter() - t0
        obj = cls(data, threads=threads, seed=0)
        cfg = cls.space.decode(np.full((1, cls.space.dim), 0.5))[0]
        secs, res = [], None
        for r in range(repeats):
            res = obj.evaluate(cfg, iteration=r)
            secs.append(res.eval_seconds)
        out[name] = {
            "config": cfg,
            "prepare_seconds": prep,
            "eval_seconds": secs,
            "median_eval_seconds": statistics.median(secs),
            "val_score": res.val_score,
            "status": res.status,
        }
    return out


def optimizer_times(ns: list[int], repeats: int) -> dict[int, dict]:
    """Median wall time of one BO suggestion (GP fit + LogEI + PI signal) in the XGBoost space."""
    from autoterm.bo.loop import BayesOpt
    from autoterm.objectives.xgboost import XGBoostObjective

    space = XGBoostObjective.space
    out = {}
    for n in ns:
        X = space.sobol(n, seed=1)
        y = np.sum((X - 0.3) ** 2, axis=1) + 0.01 * np.random.default_rng(0).normal(size=n)
        hist = list(zip(space.decode(X), y.tolist(), strict=True))
        bo = BayesOpt(space, seed=0)
        runs = [bo.suggest(hist, n + r) for r in range(repeats)]
        out[n] = {
            "optimizer_seconds": [s.optimizer_seconds for s in runs],
            "median_optimizer_seconds": statistics.median(s.optimizer_seconds for s in runs),
            "median_fit_seconds": statistics.median(s.info["fit_seconds"] for s in runs),
            "median_acq_seconds": statistics.median(s.info["acq_seconds"] for s in runs),
        }
    return out


def main() -> None:
    """Run the benchmark and print/write its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="adult")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="xgboost,random_forest,mlp")
    ap.add_argument("--no-optimizer", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "foundation.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    models = [m for m in args.models.split(",") if m]
    res = {
        "evaluation": eval_times(args.dataset, args.folds, args.repeats, args.threads, models),
        "optimizer": {} if args.no_optimizer else optimizer_times([15, 100], args.repeats),
        "args": vars(args),
    }
    Path(args.out).write_text(json.dumps(res, indent=2, default=str))
    lines = [f"{'model':15s} {'eval s (median)':>16s} {'val':>8s}"]
    for m, r in res["evaluation"].items():
        lines.append(f"{m:15s} {r['median_eval_seconds']:16.2f} {r['val_score']:8.4f}")
    for n, r in res["optimizer"].items():
        lines.append(
            f"BO step at n={n:<4d} {r['median_optimizer_seconds']:.2f} s "
            f"(fit {r['median_fit_seconds']:.2f} s, acq {r['median_acq_seconds']:.2f} s)"
        )
    print("\n".join(lines))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
