"""Fidelity of autoterm's regret bound to the authors' logged bound, and its cost per check.

The authors' regrets files (``../shared/paper-runs/regrets_identity_cv_top0.5``; Makarova et al.,
AutoML 2022) log their GP regret bound at every check ``t = 20 .. 199`` (fitted on bo rows
``0 .. t-1``). For a selection of their runs this script recomputes the bound with
:func:`autoterm.stopping.regret_bound.regret_bound` (the configuration ``paper``: latent sigma,
``beta_t`` of the paper, L-BFGS refinement of the lcb minimum) and, from the **same** GP fit,
variants of what the paper leaves open: sigma with the learned noise (``noise``), half of
``beta_t`` (``beta/2``), both (``noise,beta/2``), and the lcb minimum over the candidates only, as
the authors' random search did (``no-refine``). It reports, per variant:

* the median ratio ours / authors and the correlation of the log bounds (all checks pooled);
* the Ours stop iterations with the authors' frozen threshold (``eps`` of the first check),
  ``c = 1, 2.38, 4.76`` (Ours_0.21 / 0.5 / 1.0), against the authors' stops on the same checks,
  as the fraction of run × c within ±5 iterations;

and the time of one check (GP fit + lcb search, one thread), median and mean, with the fraction
of checks whose GP fit was reused (same best points as the previous check).

Usage::

    python bench/regret_fidelity.py                 # 8 runs, every check
    python bench/regret_fidelity.py --runs 16 --every 5
    python bench/regret_fidelity.py --runs op100-9952_dpp1_XGB_cross_validation_nf10:000

Writes ``bench/results/regret_fidelity.json`` (summary) and ``regret_fidelity_checks.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT.parent / "shared" / "paper-runs"
REGRETS = "regrets_identity_cv_top0.5"
CS = (1.0, 0.5 / 0.21, 1.0 / 0.21)
HORIZON = 199  # the authors' last check
VARIANTS = {  # name: (observation_noise, beta multiplier, refine)
    "paper": (False, 1.0, True),
    "noise": (True, 1.0, True),
    "beta/2": (False, 0.5, True),
    "noise,beta/2": (True, 0.5, True),
    "no-refine": (False, 1.0, False),
    "noise,beta/2,no-refine": (True, 0.5, False),
}


def select_runs(spec: str) -> list[tuple[str, str]]:
    """The runs to compare, as ``(authors_name, replicate)`` pairs.

    Args:
        spec: an int K (K runs spread over the folders and seeds) or ``name:NNN[,name:NNN]``.
    """
    if not spec.isdigit():
        return [tuple(s.split(":")) for s in spec.split(",")]  # type: ignore[misc]
    folders = sorted(p.name for p in (PAPER / REGRETS).iterdir() if p.is_dir())
    k = min(int(spec), 10 * len(folders))
    out = []
    for i in range(k):  # folder f, round r: replicate (3f + 5r + r // 2) mod 10, all distinct
        f, r = i % len(folders), i // len(folders)
        out.append((folders[f], f"{(3 * f + 5 * r + r // 2) % 10:03d}"))
    return out


def run_one(run_dir: Path, every: int, n_sobol: int, num_restarts: int) -> dict:
    """Every variant's bound at the checks ``20, 20 + every, ...``, and the authors' bound."""
    from autoterm.stopping import load_history
    from autoterm.stopping.regret_bound import (
        AUTHORS_BOUND,
        beta_t,
        bound_from_model,
        check_seed,
        fingerprint,
        regret_bound,
        select_top,
    )

    h = load_history(run_dir)
    checks = list(range(20, HORIZON + 1, every))
    authors = h.signals[AUTHORS_BOUND]
    rows, cache, secs, reused = [], {}, [], 0
    for t in checks:
        ok = np.isfinite(h.val[:t])
        X, y = h.X[:t][ok], h.val[:t][ok]
        before = len(cache)
        t0 = time.perf_counter()
        res = regret_bound(X, y, n_sobol=n_sobol, num_restarts=num_restarts, check=t, cache=cache)
        secs.append(time.perf_counter() - t0)
        reused += len(cache) == before
        while len(cache) > 2:  # keep the current fit and the previous one
            cache.pop(next(iter(cache)))
        row = {
            "t": t,
            "authors": float(authors[t]),
            "paper": res.bound,
            "gp_ok": res.gp_ok,
            "seconds": secs[-1],
            "n_fit": res.n_fit,
        }
        idx = select_top(y)
        model = cache.get((fingerprint(X[idx], y[idx]), 0)) if res.gp_ok else None
        for name, (noise, mult, refine) in VARIANTS.items():
            if name == "paper":
                continue
            if model is None:
                row[name] = math.nan
                continue
            beta = beta_t(X.shape[1], len(idx)) * mult
            ucb, lcb = bound_from_model(
                model,
                X[idx],
                beta,
                n_sobol=n_sobol,
                num_restarts=num_restarts if refine else 0,
                observation_noise=noise,
                seed=check_seed(0, t),
            )
            row[name] = ucb - lcb
        rows.append(row)
    return {"rows": rows, "history": h, "reused": reused, "n_checks": len(checks)}


def stops(h, bounds: np.ndarray, checks: list[int], authors: bool) -> dict[float, int]:
    """Stop iteration per ``c`` with the frozen threshold, on the given checks only."""
    from autoterm.stopping.regret_bound import AuthorsRegretBound, RegretBound

    est = np.full(len(h) + 1, np.nan)
    est[checks] = bounds
    rule = (AuthorsRegretBound if authors else RegretBound)(frozen_threshold=True)
    return {c: rule.stop(h, c, horizon=HORIZON, estimates=est).stop_iter for c in CS}


def main() -> None:
    """Parse arguments, compute, print the report, write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="8", help="K runs, or name:NNN[,name:NNN...]")
    ap.add_argument("--every", type=int, default=1, help="compute every N-th check")
    ap.add_argument("--n-sobol", type=int, default=2048)
    ap.add_argument("--num-restarts", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--workdir", type=Path, default=None, help="imported runs (default: temp)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    import pandas as pd
    import torch

    from autoterm.paper_runs import import_paper_runs

    torch.set_num_threads(args.threads)
    wanted = set(select_runs(args.runs))
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory()
        args.workdir = Path(tmp.name)
    dirs = import_paper_runs(PAPER, args.workdir, select=lambda n, r: (n, r) in wanted)
    all_rows, stop_rows, reused, n_checks = [], [], 0, 0
    for run_dir in dirs:
        t0 = time.perf_counter()
        out = run_one(run_dir, args.every, args.n_sobol, args.num_restarts)
        h, rows = out["history"], out["rows"]
        name = h.meta.get("identity", {}).get("authors_name", str(run_dir))
        rep = h.meta.get("identity", {}).get("replicate", "")
        reused += out["reused"]
        n_checks += out["n_checks"]
        checks = [r["t"] for r in rows]
        for r in rows:
            all_rows.append({"run": f"{name}:{rep}", **r})
        theirs = stops(h, np.array([r["authors"] for r in rows]), checks, authors=True)
        for v in VARIANTS:
            ours = stops(h, np.array([r[v] for r in rows]), checks, authors=False)
            for c in CS:
                stop_rows.append(
                    {
                        "run": f"{name}:{rep}",
                        "variant": v,
                        "c": round(c, 2),
                        "ours": ours[c],
                        "authors": theirs[c],
                    }
                )
        print(f"{name}:{rep}: {len(rows)} checks in {time.perf_counter() - t0:.0f} s", flush=True)
    if tmp is not None:
        tmp.cleanup()

    df, st = pd.DataFrame(all_rows), pd.DataFrame(stop_rows)
    st["diff"] = st.ours - st.authors
    summary: dict = {
        "runs": sorted({r["run"] for r in all_rows}),
        "every": args.every,
        "n_sobol": args.n_sobol,
        "num_restarts": args.num_restarts,
        "variants": {},
    }
    print(f"\n{len(summary['runs'])} runs, every {args.every} check(s), {len(df)} checks")
    print(
        f"{'variant':22s} {'median ratio':>12s} {'IQR ratio':>15s} {'corr log':>8s} "
        f"{'within ±5: c=1 / 2.38 / 4.76, all, when either stops':>54s} {'median diff':>11s}"
    )
    for v in VARIANTS:
        ok = np.isfinite(df[v]) & (df[v] > 0) & (df.authors > 0)
        ratio = df[v][ok] / df.authors[ok]
        corr = float(np.corrcoef(np.log(df[v][ok]), np.log(df.authors[ok]))[0, 1])
        sv = st[st.variant == v]
        within = {c: float((sv[sv.c == round(c, 2)]["diff"].abs() <= 5).mean()) for c in CS}
        allw = float((sv["diff"].abs() <= 5).mean())
        informative = sv[(sv.ours < HORIZON) | (sv.authors < HORIZON)]  # either one stops
        infw = float((informative["diff"].abs() <= 5).mean()) if len(informative) else math.nan
        summary["variants"][v] = {
            "median_ratio": float(ratio.median()),
            "ratio_q25_q75": [float(ratio.quantile(0.25)), float(ratio.quantile(0.75))],
            "corr_log": corr,
            "within5": {str(round(c, 2)): w for c, w in within.items()},
            "within5_all": allw,
            "within5_when_either_stops": infw,
            "n_either_stops": len(informative),
            "median_stop_diff": float(sv["diff"].median()),
            "exact_stop": float((sv["diff"] == 0).mean()),
        }
        q1, q3 = ratio.quantile(0.25), ratio.quantile(0.75)
        print(
            f"{v:22s} {ratio.median():12.3f} {q1:7.3f}-{q3:<7.3f} {corr:8.3f}"
            f" {' / '.join(f'{w:.2f}' for w in within.values()):>26s}  {allw:.2f}"
            f"  {infw:.2f} (n={len(informative)}) {sv['diff'].median():11.1f}"
        )
    secs = df.seconds.to_numpy()
    summary["seconds_per_check"] = {
        "median": float(np.median(secs)),
        "mean": float(secs.mean()),
        "fit_reused": reused / max(n_checks, 1),
    }
    summary["gp_failures"] = int((~df.gp_ok).sum())
    print(
        f"\nper check (GP fit + lcb search, {args.threads} thread): median "
        f"{np.median(secs) * 1e3:.0f} ms, mean {secs.mean() * 1e3:.0f} ms; fit reused on "
        f"{reused / max(n_checks, 1):.0%} of checks; GP failures: {summary['gp_failures']}"
    )
    print(f"projected 80 runs x 180 checks on 2 cores: {secs.mean() * 80 * 180 / 2 / 60:.0f} min")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "regret_fidelity.json").write_text(json.dumps(summary, indent=2) + "\n")
    df.to_csv(args.out / "regret_fidelity_checks.csv", index=False)
    st.to_csv(args.out / "regret_fidelity_stops.csv", index=False)


if __name__ == "__main__":
    main()
