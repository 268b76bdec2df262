"""P2 (issue 6): autoterm's optimiser overhead per iteration against Optuna's GPSampler+Terminator.

What one BO iteration costs besides the evaluation, at ``n`` = 50, 100, 200 evaluated points in
the paper's 9-D XGBoost space (:class:`autoterm.objectives.xgboost.XGBoostObjective`):

* autoterm: :meth:`autoterm.bo.loop.BayesOpt.suggest` (GP fit, LogEI maximisation, the PI
  signal), then the check of every rule ``autoterm run`` logs by default
  (``stopping.log`` of ``experiments/conf/config.yaml``: regret_bound, emmr, conv, ei, pi, iqr,
  plateau) through the runner's ``_Monitor``, exactly as the run loop calls them;
* Optuna: ``study.ask()`` with ``GPSampler`` (its GP fit, warm-started from the previous
  iteration's hyperparameters as in a real study, and its acquisition search) and the nine
  ``suggest_*`` calls, then ``Terminator().should_terminate(study)`` (its default: the regret
  bound of Makarova et al. with the cross-validation error).

Both see the same history: ``n`` configurations of the space with values of a fixed smooth
synthetic function of the encoded configuration (evaluation time ~0, so only the overhead is
timed) and ten synthetic fold scores each. The history imitates a BO run: 20 scrambled-Sobol
points, then points drawn around the function's minimum (Gaussian, sd 0.15 in the unit cube),
snapped to feasible values. At each ``n`` the two are timed ``--repeats`` times, interleaved
(the order alternates), at ``n, n + 1, ...`` points; each side first makes one untimed step at
``n - 1`` points, as in a run (Optuna's sampler caches its GP there, autoterm's EMMR reuses the
loop's previous fit). One thread each (torch, BLAS), like a job of a
multirun. Reported: the medians and their ratio.

Prints a table and ``P2 overhead ratio autoterm/optuna at n=200: <x>``; writes
``bench/results/overhead.json``. Optuna is a benchmark-only extra (``pip install -e .[bench]``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - after the thread limits, which must precede numpy
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

K_FOLDS = 10
N_SOBOL = 20
ROOT = Path(__file__).resolve().parents[1]


class Synthetic:
    """A fixed smooth function on the unit cube with k synthetic fold scores per point.

    ``f(u) = 0.1 + 0.3 * sum_j w_j (u_j - c_j)^2 / sum_j w_j + 0.03 sin(2 pi (a . u + b))``
    with ``w, c, a, b`` drawn once from ``seed``; fold ``i`` of point ``j`` is
    ``f(u_j) + 0.02 z_ij``, ``z`` standard normal keyed by ``(seed, j)``, and the point's value
    is the mean of its folds (as a CV estimate).

    Args:
        dim: ``d``, the number of hyperparameters.
        seed: draws the function.
    """

    def __init__(self, dim: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.w = rng.uniform(0.2, 1.0, dim)
        self.c = rng.uniform(0.2, 0.8, dim)
        self.a = rng.normal(0.0, 0.5, dim)
        self.b = float(rng.uniform())

    def __call__(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values, shape ``(n,)``, and fold scores, shape ``(n, K_FOLDS)``, of ``U`` ``(n, d)``."""
        f = 0.1 + 0.3 * ((U - self.c) ** 2 @ self.w) / self.w.sum()
        f = f + 0.03 * np.sin(2.0 * np.pi * (U @ self.a + self.b))
        z = np.stack(
            [np.random.default_rng([self.seed, j]).normal(size=K_FOLDS) for j in range(len(U))]
        )
        folds = f[:, None] + 0.02 * z
        return folds.mean(axis=1), folds


def bo_like_history(space: Any, n: int, fn: Synthetic, seed: int = 1) -> dict[str, Any]:
    """``n`` feasible configurations like a BO run's, with their synthetic values.

    Args:
        space: the search space.
        n: number of points.
        fn: the objective.
        seed: seeds the Sobol design and the draws around the minimum.

    Returns:
        ``configs`` (native), ``U`` (encoded, shape ``(n, d)``), ``val`` ``(n,)``, ``folds``
        ``(n, k)``.
    """
    rng = np.random.default_rng(seed)
    U = space.sobol(N_SOBOL, seed=seed)
    near = np.clip(fn.c + 0.15 * rng.normal(size=(max(0, n - N_SOBOL), space.dim)), 0.0, 1.0)
    U = np.vstack([U, near])[:n]
    configs = space.decode(U)
    U = space.encode(configs)
    val, folds = fn(U)
    return {"configs": configs, "U": U, "val": val, "folds": folds}


def optuna_distributions(space: Any) -> dict[str, Any]:
    """Optuna distributions of an autoterm search space (ints, floats, log scales)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out = {}
    for p in space.to_list():
        if p["type"] == "int":
            out[p["name"]] = IntDistribution(p["low"], p["high"], log=p["log"])
        elif p["type"] == "float":
            out[p["name"]] = FloatDistribution(p["low"], p["high"], log=p["log"])
        else:
            out[p["name"]] = CategoricalDistribution(p["choices"])
    return out


class OptunaSide:
    """An Optuna study with ``GPSampler`` and a ``Terminator`` fed the fixed history.

    Args:
        space: the search space.
        hist: from :func:`bo_like_history`.
        seed: the sampler's seed.
    """

    def __init__(self, space: Any, hist: dict[str, Any], seed: int = 0):
        import optuna
        from optuna.terminator import Terminator
        from optuna.terminator.erroreval import _CROSS_VALIDATION_SCORES_KEY

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.key = _CROSS_VALIDATION_SCORES_KEY
        self.dists = optuna_distributions(space)
        self.hist = hist
        self.study = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.GPSampler(seed=seed)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the terminator module is deprecated in Optuna 5
            self.terminator = Terminator()
        self.n = 0

    def add_until(self, n: int) -> None:
        """Add the history's points ``self.n .. n - 1`` as completed trials."""
        trials = [
            self.optuna.trial.create_trial(
                params=self.hist["configs"][i],
                distributions=self.dists,
                value=float(self.hist["val"][i]),
                system_attrs={self.key: self.hist["folds"][i].tolist()},
            )
            for i in range(self.n, n)
        ]
        self.study.add_trials(trials)
        self.n = n

    def step(self) -> dict[str, float]:
        """One iteration's overhead: ``ask`` (GP fit + acquisition) and the terminator."""
        t0 = time.perf_counter()
        trial = self.study.ask()
        for name, dist in self.dists.items():
            trial._suggest(name, dist)
        t1 = time.perf_counter()
        self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)  # history unchanged
        t2 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.terminator.should_terminate(self.study)
        t3 = time.perf_counter()
        return {"sample": t1 - t0, "terminator": t3 - t2, "total": (t1 - t0) + (t3 - t2)}


class AutotermSide:
    """autoterm's BO loop and rule monitor on the fixed history (as ``autoterm.runner``).

    Args:
        space: the search space.
        hist: from :func:`bo_like_history`.
        rules: the logged rules.
        seed: the run's seed.
    """

    def __init__(
        self,
        space: Any,
        hist: dict[str, Any],
        rules: list[str],
        seed: int = 0,
        gp_backend: str = "numpy",
    ):
        from autoterm.bo.loop import BayesOpt
        from autoterm.runner import RunSpec, _Monitor
        from autoterm.stopping import make_rule

        self.bo = BayesOpt(space, seed=seed, gp_backend=gp_backend)
        spec = RunSpec(model="xgboost", dataset="synthetic", seed=seed, log_rules=rules)
        meta = {"space": space.to_list(), "split": {"n_test_over_n_train": 1 / (K_FOLDS - 1)}}
        self.monitor = _Monitor(spec, meta)
        self.regret_bound = make_rule("regret_bound")
        self.history = list(zip(hist["configs"], hist["val"].tolist(), strict=True))
        self.records = [
            {
                "iteration": i,
                "status": "ok",
                "config": c,
                "val_score": float(v),
                "test_score": float(v),
                "fold_scores": hist["folds"][i].tolist(),
                "eval_seconds": 0.0,
                "optimizer_seconds": 0.0,
                "signals": {},
            }
            for i, (c, v) in enumerate(self.history)
        ]

    def step(self, n: int) -> dict[str, float]:
        """One iteration's overhead at ``n`` points: ``suggest`` and every rule's check."""
        t0 = time.perf_counter()
        sug = self.bo.suggest(self.history[:n], n)
        t1 = time.perf_counter()
        if sug.fit is not None:  # as the run loop does: the rules may reuse the loop's GP
            self.monitor.offer_fit(*sug.fit)
        checks, _ = self.monitor.check(self.records[:n], n, sug.info)
        t2 = time.perf_counter()
        failed = [k for k, c in checks.items() if c.get("estimate") is None]
        if failed:
            raise RuntimeError(f"rules failed at n={n}: {failed}")
        h = self._history(n)
        t3 = time.perf_counter()
        self.regret_bound.estimate_at(h, n)  # the paper's rule alone: Optuna's Terminator
        t4 = time.perf_counter()
        return {
            "fit": sug.info["fit_seconds"],
            "acq": sug.info["acq_seconds"],
            "suggest": t1 - t0,
            "rules": t2 - t1,
            "total": t2 - t0,
            "regret_bound": t4 - t3,
            "suggest_and_regret_bound": (t1 - t0) + (t4 - t3),
        }

    def _history(self, n: int) -> Any:
        from autoterm.stopping import history_from_records

        return history_from_records(self.records[:n], self.monitor.meta)


def logged_rules() -> list[str]:
    """The rules ``autoterm run`` logs by default (``stopping.log`` of the Hydra config)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(ROOT / "experiments" / "conf" / "config.yaml")
    return list(cfg.stopping.log)


def run(ns: list[int], repeats: int, seed: int = 0, before: bool = True) -> dict[str, Any]:
    """Time both sides at every ``n`` (see the module notes).

    Args:
        ns: history sizes.
        repeats: timed iterations per side and size (at ``n .. n + repeats - 1`` points).
        seed: the samplers' and the function's seed.
        before: also time autoterm with ``bo.gp_backend=botorch`` (BoTorch's
            ``fit_gpytorch_mll`` and GPyTorch's posterior: the loop before the NumPy fit).

    Returns:
        Per ``n``: the timings of every repeat and their medians, and the ratio of medians.
    """
    from autoterm.objectives.xgboost import XGBoostObjective

    space = XGBoostObjective.space
    fn = Synthetic(space.dim, seed)
    rules = logged_rules()
    hist = bo_like_history(space, max(ns) + repeats, fn)
    out: dict[str, Any] = {"rules": rules}
    for n in ns:
        sides: dict[str, Any] = {"autoterm": AutotermSide(space, hist, rules, seed)}
        if before:
            sides["autoterm_botorch_fit"] = AutotermSide(space, hist, rules, seed, "botorch")
        opt = sides["optuna"] = OptunaSide(space, hist, seed)
        opt.add_until(n - 1)
        opt.step()  # untimed: the sampler's GP cache, as after iteration n - 1 of a study
        for name, side in sides.items():  # untimed: iteration n - 1 (EMMR's previous fit)
            if name != "optuna":
                side.step(n - 1)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        for r in range(repeats):
            opt.add_until(n + r)
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for name in order:
                side = sides[name]
                runs[name].append(side.step() if name == "optuna" else side.step(n + r))
        med = {
            name: {k: statistics.median(x[k] for x in runs[name]) for k in runs[name][0]}
            for name in runs
        }
        a, o = med["autoterm"], med["optuna"]
        out[str(n)] = {
            "runs": runs,
            "median": med,
            "ratio": a["total"] / o["total"],
            "ratio_per_repeat_median": statistics.median(
                x["total"] / y["total"]
                for x, y in zip(runs["autoterm"], runs["optuna"], strict=True)
            ),
            # like for like: the BO step and the paper's rule only (Terminator's default)
            "ratio_suggest_and_regret_bound": a["suggest_and_regret_bound"] / o["total"],
            "ratio_suggest_vs_sample": a["suggest"] / o["sample"],
        }
        if before:
            out[str(n)]["ratio_botorch_fit"] = med["autoterm_botorch_fit"]["total"] / o["total"]
    return out


def main() -> None:
    """Run the benchmark, print the table and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ns", default="50,100,200")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--no-before", action="store_true", help="skip autoterm with bo.gp_backend=botorch"
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "overhead.json"))
    args = ap.parse_args()

    import optuna
    import torch

    import autoterm

    torch.set_num_threads(1)
    ns = [int(x) for x in args.ns.split(",") if x]
    res = run(ns, args.repeats, args.seed, before=not args.no_before)
    doc = {
        "summary": {
            **{f"ratio_n{n}": res[str(n)]["ratio"] for n in ns},
            **{
                f"ratio_suggest_and_regret_bound_n{n}": res[str(n)][
                    "ratio_suggest_and_regret_bound"
                ]
                for n in ns
            },
        },
        "results": res,
        "args": vars(args),
        "threads": 1,
        "versions": {
            "optuna": optuna.__version__,
            "torch": torch.__version__,
            "autoterm": getattr(autoterm, "__version__", "dev"),
        },
        "machine": platform.machine(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2))

    lines = [
        f"Optimiser overhead per iteration, 9-D XGBoost space, medians of {args.repeats} "
        f"(seconds, 1 thread); autoterm rules: {', '.join(res['rules'])}",
        f"{'n':>4s} {'autoterm':>9s} {'(fit':>6s} {'acq':>6s} {'rules)':>7s} "
        f"{'optuna':>8s} {'(sample':>8s} {'term.)':>7s} {'ratio':>6s} {'BO+RB':>6s}"
        + ("  before: botorch fit  ratio" if not args.no_before else ""),
    ]
    for n in ns:
        r = res[str(n)]
        a, o = r["median"]["autoterm"], r["median"]["optuna"]
        line = (
            f"{n:>4d} {a['total']:>9.3f} {a['fit']:>6.3f} {a['acq']:>6.3f} {a['rules']:>7.3f} "
            f"{o['total']:>8.3f} {o['sample']:>8.3f} {o['terminator']:>7.3f} "
            f"{r['ratio']:>6.2f} {r['ratio_suggest_and_regret_bound']:>6.2f}"
        )
        if not args.no_before:
            b = r["median"]["autoterm_botorch_fit"]
            line += f"  {b['total']:>19.3f} {r['ratio_botorch_fit']:>6.2f}"
        lines.append(line)
    lines.append(
        "ratio: autoterm (BO step + every logged rule) / Optuna (GPSampler + Terminator); "
        "BO+RB: autoterm's BO step + the regret-bound rule only / Optuna"
    )
    last = max(ns)
    lines.append(f"P2 overhead ratio autoterm/optuna at n={last}: {res[str(last)]['ratio']:.2f}")
    print("\n".join(lines))  # noqa: T201 - the benchmark's report


if __name__ == "__main__":
    main()
