"""P4 (issue 6): the MLP's k fold models trained as one batched model against a fold loop.

One evaluation of the MLP objective trains ``k + 1`` networks (k folds and the test refit). This
benchmark times :meth:`autoterm.objectives.base.Objective.evaluate` with the MLP option
``batched_folds=True`` (the default: stacked weights, ``baddbmm``, one Adam step for all; see
:mod:`autoterm.objectives.mlp`) and ``False`` (one network after another), same configuration,
epochs, folds and seeds, interleaved in one process (the order alternates between repeats).

Configurations: the centre of the space (``mid``, the one ``bench/foundation.py`` times) with
``--repeats`` repeats, which gives the headline speedup, and ``--sobol`` scrambled-Sobol
configurations with one run each, which show how the speedup depends on the network's size
(small networks and batches are dominated by per-step overhead, which batching removes; wide
layers are dominated by arithmetic, which it cannot remove).

Prints a table and the line ``P4 mlp batched-fold speedup: <x>``; writes
``bench/results/mlp_folds.json``. Needs the dataset in a data directory
(``AUTOTERM_DATA_DIRS=../shared/datasets``; ``make bench`` sets it).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


def _run(obj: Any, config: dict[str, Any], iteration: int) -> dict[str, Any]:
    """One timed evaluation: wall seconds, mean fold error, fold errors, test error."""
    t0 = time.perf_counter()
    res = obj.evaluate(config, iteration=iteration)
    seconds = time.perf_counter() - t0
    if res.status != "ok":
        raise RuntimeError(f"evaluation failed: {res.error}")
    return {
        "seconds": seconds,
        "val_score": res.val_score,
        "fold_scores": res.fold_scores,
        "test_score": res.test_score,
    }


def bench_config(
    data: Any, config: dict[str, Any], *, repeats: int, epochs: int, threads: int
) -> dict[str, Any]:
    """Time both modes on one configuration, interleaved; repeat ``r`` uses iteration ``r``.

    Args:
        data: the prepared folds (:class:`autoterm.data.PreparedData`).
        config: native MLP hyperparameters.
        repeats: evaluations per mode (seeds differ between repeats, not between modes).
        epochs: the epoch budget of both modes.
        threads: torch threads.

    Returns:
        Per mode the runs and the median seconds, the speedup (median sequential / median
        batched) and the mean fold errors of both modes.
    """
    from autoterm.objectives.mlp import MLPObjective

    objs = {
        mode: MLPObjective(data, threads=threads, seed=0, epochs=epochs, batched_folds=batched)
        for mode, batched in (("batched", True), ("sequential", False))
    }
    runs: dict[str, list[dict[str, Any]]] = {"batched": [], "sequential": []}
    for r in range(repeats):
        modes = ["batched", "sequential"] if r % 2 == 0 else ["sequential", "batched"]
        for mode in modes:
            runs[mode].append(_run(objs[mode], config, iteration=r))
    out: dict[str, Any] = {"config": config, "runs": runs}
    for mode in runs:
        out[f"{mode}_median_seconds"] = statistics.median(x["seconds"] for x in runs[mode])
        out[f"{mode}_mean_val"] = float(np.mean([x["val_score"] for x in runs[mode]]))
    out["speedup"] = out["sequential_median_seconds"] / out["batched_median_seconds"]
    # noise of one mean fold error: the spread of the k fold errors / sqrt(k), averaged
    folds = [x["fold_scores"] for mode in runs for x in runs[mode]]
    out["fold_noise"] = float(np.mean([np.std(f, ddof=1) / np.sqrt(len(f)) for f in folds]))
    out["val_diff"] = out["batched_mean_val"] - out["sequential_mean_val"]
    return out


def main() -> None:
    """Run the benchmark, print the table and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="pendigits", help="10,992 rows, 16 features, 10 classes")
    ap.add_argument("--max-rows", type=int, default=None, help="subsample, e.g. adult to 10000")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=20, help="the MLP's default budget")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the mid configuration")
    ap.add_argument("--sobol", type=int, default=4, help="extra Sobol configurations, 1 run each")
    ap.add_argument("--threads", type=int, default=1, help="one core per job, as in a multirun")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "mlp_folds.json"))
    args = ap.parse_args()

    import torch

    from autoterm.data import load_dataset, make_splits, prepare
    from autoterm.objectives.mlp import MLPObjective

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset, max_rows=args.max_rows, seed=0)
    splits = make_splits(ds.y, ds.task, n_folds=args.folds, seed=0)
    data = prepare(ds, splits, MLPObjective.preprocessing)
    space = MLPObjective.space
    mid = space.decode(np.full((1, space.dim), 0.5))[0]
    configs = [("mid", mid, args.repeats)]
    if args.sobol:
        for i, cfg in enumerate(space.decode(space.sobol(args.sobol, seed=1))):
            configs.append((f"sobol{i}", cfg, 1))

    results = {}
    for name, cfg, repeats in configs:
        results[name] = bench_config(
            data, cfg, repeats=repeats, epochs=args.epochs, threads=args.threads
        )
    head = results["mid"]
    sobol_speedups = [r["speedup"] for n, r in results.items() if n != "mid"]
    summary = {
        "speedup": head["speedup"],
        "batched_median_seconds": head["batched_median_seconds"],
        "sequential_median_seconds": head["sequential_median_seconds"],
        "batched_mean_val": head["batched_mean_val"],
        "sequential_mean_val": head["sequential_mean_val"],
        "val_diff": head["val_diff"],
        "fold_noise": head["fold_noise"],
        "sobol_speedup_median": statistics.median(sobol_speedups) if sobol_speedups else None,
        "sobol_speedup_min": min(sobol_speedups) if sobol_speedups else None,
        "sobol_speedup_max": max(sobol_speedups) if sobol_speedups else None,
    }
    doc = {
        "summary": summary,
        "configs": results,
        "data": {
            "dataset": args.dataset,
            "n_rows": int(len(ds.y)),
            "n_train": int(len(splits.train_idx)),
            "n_encoded_features": len(data.feature_names),
            "task": ds.task,
        },
        "args": vars(args),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2))

    lines = [
        f"MLP k-fold evaluation on {args.dataset} ({len(ds.y)} rows), k={args.folds}, "
        f"{args.epochs} epochs, {args.threads} thread(s); batched vs sequential, interleaved",
        f"{'config':8s} {'units':>9s} {'batch':>5s} {'runs':>4s} {'batched s':>10s} "
        f"{'seq. s':>8s} {'speedup':>7s} {'val batched':>11s} {'val seq.':>9s} {'fold noise':>10s}",
    ]
    for name, r in results.items():
        c = r["config"]
        lines.append(
            f"{name:8s} {c['n_units_1']:>4d}/{c['n_units_2']:<4d} {c['batch_size']:>5d} "
            f"{len(r['runs']['batched']):>4d} {r['batched_median_seconds']:>10.2f} "
            f"{r['sequential_median_seconds']:>8.2f} {r['speedup']:>6.2f}x "
            f"{r['batched_mean_val']:>11.4f} {r['sequential_mean_val']:>9.4f} "
            f"{r['fold_noise']:>10.4f}"
        )
    lines.append(f"P4 mlp batched-fold speedup: {summary['speedup']:.2f}")
    print("\n".join(lines))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
