"""Tests of the importer of the authors' BO runs (autoterm.paper_runs)."""

from __future__ import annotations

import ast
import csv
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoterm.objectives.random_forest import RandomForestObjective
from autoterm.objectives.xgboost import XGBoostObjective
from autoterm.paper_runs import import_paper_runs, parse_literal
from autoterm.space import space_from_list
from autoterm.stopping.history import load_history
from autoterm.trajectory import DONE_MARKER, REQUIRED_KEYS, RUN_META, TRAJECTORY, read_trajectory

PAPER = Path(__file__).resolve().parents[1].parent / "shared" / "paper-runs"
FACTOR = math.sqrt(1 / 10 + 1 / 9)
FEW = {
    ("op100-9952_dpp1_XGB_cross_validation_nf10", "000"),
    ("aa-openml503_dpp3_RandomForest_cross_validation_nf10", "001"),
    ("aa-openml558_dpp4_XGB_cross_validation_nf10", "002"),
    ("nyc-openml14_dpp0_RandomForest_cross_validation_nf10", "009"),
}


@pytest.fixture(scope="module")
def paper() -> Path:
    if not (PAPER / "bo_runs_cv").is_dir():
        pytest.skip(f"{PAPER} not found")
    return PAPER


@pytest.fixture(scope="module")
def few(paper: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("paper_few")
    return import_paper_runs(paper, out, select=lambda name, rep: (name, rep) in FEW)


def _authors_incumbents(val: np.ndarray) -> np.ndarray:
    """``inc[t]``: best of rows ``0..t-1``, ties within round-off to the earliest (README)."""
    out, best = np.full(len(val) + 1, -1), -1
    for i, v in enumerate(val):
        out[i] = best
        if best < 0 or v < val[best] - 1e-12 * abs(val[best]):
            best = i
    out[len(val)] = best
    return out


def _authors_file(run_dir: Path) -> Path:
    return Path(json.loads((run_dir / RUN_META).read_text())["source"]["path"])


def _unit(stored: float, p) -> float:
    lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
    return (stored - lo) / (hi - lo)


def test_few_runs_layout_and_records(few: list[Path]) -> None:
    assert len(few) == 4
    names = {d.relative_to(d.parents[2]).as_posix() for d in few}
    assert names == {
        "xgboost/op100-9952/seed=0",
        "random_forest/aa-openml503/seed=1",
        "xgboost/aa-openml558/seed=2",
        "random_forest/nyc-openml14/seed=9",
    }
    for d in few:
        assert (d / DONE_MARKER).exists()
        assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temp files left
        meta = json.loads((d / RUN_META).read_text())
        recs = read_trajectory(d / TRAJECTORY)
        assert len(recs) == 200 == meta["budget"]
        assert meta["direction"] == "minimize"
        assert meta["split"]["folds"] == 10
        assert meta["split"]["n_test_over_n_train"] == pytest.approx(1 / 9)
        cls = XGBoostObjective if meta["model"] == "xgboost" else RandomForestObjective
        assert meta["space"] == cls.space.to_list()
        assert meta["source"]["choice"] == meta["authors_name"]
        reg = "aa-" in meta["dataset"]
        assert (meta["metric"], meta["task"]) == (
            ("rmse", "regression") if reg else ("error", "classification")
        )
        elapsed = 0.0
        inc = _authors_incumbents(np.array([r["val_score"] for r in recs]))
        for i, r in enumerate(recs):
            assert all(k in r for k in REQUIRED_KEYS)
            assert r["iteration"] == i and r["status"] == "ok"
            assert r["source"] == ("sobol" if i < 5 else "authors_bo")
            assert len(r["fold_scores"]) == 10
            assert r["val_score"] == pytest.approx(np.mean(r["fold_scores"]), abs=1e-12)
            sig = r["signals"]
            if i < 5:
                assert sig["ei_max"] is None and sig["pi_max"] is None
            else:
                assert isinstance(sig["ei_max"], float) and isinstance(sig["pi_max"], float)
            has_regret = {"authors_regret_bound", "authors_incumbent_std"} <= set(sig)
            assert has_regret == (i >= 20)
            elapsed += r["eval_seconds"] + r["optimizer_seconds"]
            assert r["elapsed_seconds"] == pytest.approx(elapsed, rel=1e-12)
            j = int(inc[i + 1])  # best of rows 0..i
            assert r["incumbent_iteration"] == j
            assert r["incumbent_val"] == recs[j]["val_score"]
            assert r["incumbent_test"] == recs[j]["test_score"]


def test_config_round_trip_to_authors_unit_cube(few: list[Path]) -> None:
    for d in few:
        meta = json.loads((d / RUN_META).read_text())
        space = space_from_list(meta["space"])
        df = pd.read_csv(_authors_file(d))
        stored = [ast.literal_eval(s) for s in df["parameters"]]
        expect = np.array([[_unit(c[p.name], p) for p in space.params] for c in stored])
        recs = read_trajectory(d / TRAJECTORY)
        X = space.encode([r["config"] for r in recs])
        np.testing.assert_allclose(X, expect, atol=1e-12, rtol=0)
        assert X.min() >= 0.0 and X.max() <= 1.0
        for r, c in zip(recs, stored, strict=True):
            for p in space.params:  # native units: exp of ln-stored, linear as is, no rounding
                want = math.exp(c[p.name]) if p.log else c[p.name]
                assert r["config"][p.name] == pytest.approx(want, rel=1e-12)
        # authors' other columns carried over unchanged
        sig = [ast.literal_eval(s) for s in df["additional_signals"]]
        assert [r["test_score"] for r in recs] == [s["test_value"] for s in sig]
        assert [r["train_score"] for r in recs] == [s["train_value"] for s in sig]
        assert [r["signals"]["ei_max"] for r in recs[5:]] == [s["ei"] for s in sig[5:]]


def test_authors_incumbent_std_matches_history(few: list[Path]) -> None:
    for d in few:
        h = load_history(d)
        std = h.signals["authors_incumbent_std"]
        recs = read_trajectory(d / TRAJECTORY)
        assert np.isnan(std[:20]).all()
        incs = _authors_incumbents(h.val)
        for t in (20, 21, 57, 120, 199):
            inc = incs[t]  # best of rows 0..t-1
            assert std[t] == pytest.approx(FACTOR * np.std(h.folds[inc]), rel=1e-9, abs=1e-15)
            want = sum(r["eval_seconds"] for r in recs[20 : t + 1])  # rows 20..t inclusive
            assert h.signals["authors_total_train_time"][t] == pytest.approx(want, rel=1e-9)


def test_load_history_on_imported_dir(few: list[Path]) -> None:
    for d in few:
        h = load_history(d)
        d_space = len(h.meta["space"])
        assert len(h) == 200
        assert h.X is not None and h.X.shape == (200, d_space)
        assert h.X.min() >= 0.0 and h.X.max() <= 1.0
        assert h.folds.shape == (200, 10)
        assert h.n_test_over_n_train == pytest.approx(1 / 9)
        assert {"ei_max", "pi_max", "authors_regret_bound", "authors_incumbent_std"} <= set(
            h.signals
        )
        assert np.isnan(h.signals["ei_max"][:5]).all()
        assert np.isfinite(h.signals["ei_max"][5:]).all()
        assert np.isfinite(h.signals["authors_regret_bound"][20:]).all()


def test_second_import_is_noop_and_overwrite_redoes(paper: Path, tmp_path: Path) -> None:
    def sel(name: str, rep: str) -> bool:
        return name.startswith("aa-openml503_dpp3_RandomForest") and rep == "004"

    first = import_paper_runs(paper, tmp_path, select=sel)
    (d,) = first
    stamps = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    text = (d / TRAJECTORY).read_text()
    assert import_paper_runs(paper, tmp_path, select=sel) == first
    assert {p.name: p.stat().st_mtime_ns for p in d.iterdir()} == stamps
    (d / TRAJECTORY).write_text("")  # a no-op import does not even read it
    assert import_paper_runs(paper, tmp_path, select=sel) == first
    assert (d / TRAJECTORY).read_text() == ""
    assert import_paper_runs(paper, tmp_path, select=sel, overwrite=True) == first
    assert (d / TRAJECTORY).read_text() == text


def test_import_all_80_matches_result_file(paper: Path, tmp_path: Path) -> None:
    dirs = import_paper_runs(paper, tmp_path)
    assert len(dirs) == 80
    res = pd.read_csv(paper / "result_identity_cv_top0.5.subset.csv")
    algo = {"RF": "random_forest", "XGB": "xgboost"}
    want = {(algo[a], ds, int(s)) for a, ds, s in zip(res.algo, res.dataset, res.seed, strict=True)}
    got = set()
    lo: dict[tuple[str, str], float] = {}
    hi: dict[tuple[str, str], float] = {}
    for d in dirs:
        h = load_history(d)
        got.add((h.meta["model"], h.meta["dataset"], h.meta["seed"]))
        assert d.name == f"seed={h.meta['seed']}"
        assert len(h) == 200 and np.isfinite(h.val).all()
        np.testing.assert_allclose(h.val, h.folds.mean(axis=1), atol=1e-12, rtol=0)
        inc = _authors_incumbents(h.val)
        t = np.arange(20, 200)
        np.testing.assert_allclose(
            h.signals["authors_incumbent_std"][t],
            FACTOR * h.folds[inc[t]].std(axis=1),
            rtol=1e-9,
            atol=1e-15,
        )
        # our incumbent after t-1 is the authors' incumbent of their check at t
        reg = pd.read_csv(Path(h.meta["source"]["regrets_path"]))
        recs = read_trajectory(d / TRAJECTORY)
        assert [recs[t - 1]["incumbent_val"] for t in reg.iteration] == pytest.approx(
            reg.incumbent_val_metric.tolist(), rel=1e-12
        )
        assert [recs[t - 1]["incumbent_test"] for t in reg.iteration] == pytest.approx(
            reg.incumbent_test_metric.tolist(), rel=1e-12
        )
        for j, name in enumerate(space_from_list(h.meta["space"]).names):
            key = (h.meta["model"], name)
            lo[key] = min(lo.get(key, np.inf), h.X[:, j].min())
            hi[key] = max(hi.get(key, -np.inf), h.X[:, j].max())
    assert got == want
    # the stored extremes are the bounds of our spaces: exactly 0 and 1 in the unit cube
    assert set(lo.values()) == {0.0} and set(hi.values()) == {1.0}


def _untuple(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _untuple(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_untuple(v) for v in obj]
    return obj


def test_parse_literal_equals_literal_eval(paper: Path) -> None:
    f = sorted((paper / "bo_runs_cv").glob("*XGB*/000.csv*"))[0]
    df = pd.read_csv(f)
    for s in list(df["additional_signals"][:20]) + list(df["parameters"][:20]):
        assert parse_literal(s) == _untuple(ast.literal_eval(s))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "{'a': (1, 2.5e-07), 'b': False, 'c': None, 'd': True}",
            {"a": [1, 2.5e-07], "b": False, "c": None, "d": True},
        ),
        ("{'x(y)': 'False'}", {"x(y)": "False"}),  # not translatable: literal_eval
        ('{"it\'s": 1}', {"it's": 1}),
        ("{1: (2,)}", {1: [2]}),
        ("[-0.0, 1e+300, ()]", [-0.0, 1e300, []]),
    ],
)
def test_parse_literal_cases(text: str, value: object) -> None:
    assert parse_literal(text) == value


@pytest.mark.parametrize("text", ["{'a': nan}", "{'a': NaN}", "{'a': Infinity}", "{'a': f(1)}"])
def test_parse_literal_rejects_non_literals(text: str) -> None:
    with pytest.raises(ValueError, match="not a Python literal"):
        parse_literal(text)


# --- a tiny synthetic source ----------------------------------------------------------------------

NAME = "toy-7_dpp2_RandomForest_cross_validation_nf3"


def _make_src(root: Path, *, rows: int = 2, params: dict | None = None, gz: bool = True) -> Path:
    """``root/bo_runs_cv/<NAME>/000.csv[.gz]`` of ``rows`` RF rows (rmse, 3 folds) + regrets."""
    bo = root / "bo_runs_cv" / NAME
    bo.mkdir(parents=True)
    header = [
        "value",
        "best",
        "iteration",
        "evaluation_time",
        "optimizer_time",
        "parameters",
        "additional_signals",
    ]
    lines = []
    for i in range(rows):
        folds = [1.0 + i, 2.0 + i, 4.0 - i]
        p = params or {
            "n_estimators": math.log(1 + 7 * i),
            "min_samples_split": math.log(0.5),
            "max_depth": 1 + i,
        }
        sig = {
            "choice": NAME,
            "tuning_metric": "rmse",
            "num_fold": 3,
            "validation_metrics": [{"rmse": f, "1-r2": 0.5} for f in folds],
            "test_value": 3.0 - i,
            "train_value": 0.5,
            "ei": 0.0,
            "pi": 0.0,
            "all_test_metrics_splits": ({"rmse": 1.0}, {"rmse": 2.0}),
            "reshuffling": False,
        }
        lines.append([sum(folds) / 3, 0, 2, 1.5, 0.25, repr(p), repr(sig)])
    path = bo / ("000.csv.gz" if gz else "000.csv")
    with gzip.open(path, "wt", newline="") if gz else open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(lines)
    reg = root / "regrets_identity_cv_top0.5" / NAME
    reg.mkdir(parents=True)
    (reg / "000.csv").write_text(
        "iteration,regret_bound,incumbent_std,incumbent_val_metric,incumbent_test_metric,"
        "total_train_time\n1,0.5,0.25,2.3,3.0,1.5\n"
    )
    return root


def test_synthetic_two_rows(tmp_path: Path) -> None:
    src = _make_src(tmp_path / "src")
    (d,) = import_paper_runs(src, tmp_path / "out")
    assert d == tmp_path / "out" / "random_forest" / "toy-7" / "seed=0"
    meta = json.loads((d / RUN_META).read_text())
    assert meta["budget"] == 2 and meta["metric"] == "rmse" and meta["task"] == "regression"
    assert meta["split"] == {
        "n_train": None,
        "n_test": None,
        "folds": 3,
        "n_test_over_n_train": 0.5,
    }
    assert meta["authors_name"] == NAME and meta["dataset"] == "toy-7"
    r0, r1 = read_trajectory(d / TRAJECTORY)
    assert r0["config"] == {"n_estimators": 1.0, "min_samples_split": 0.5, "max_depth": 1}
    assert r1["config"]["n_estimators"] == pytest.approx(8.0)  # not rounded
    assert r1["fold_scores"] == [2.0, 3.0, 3.0] and r1["test_score"] == 2.0
    assert r0["signals"] == {"ei_max": None, "pi_max": None}
    assert r1["signals"] == {
        "ei_max": None,
        "pi_max": None,
        "authors_regret_bound": 0.5,
        "authors_incumbent_std": 0.25,
        "authors_total_train_time": 1.5,
    }
    assert (r1["incumbent_iteration"], r1["incumbent_val"]) == (0, pytest.approx(7 / 3))
    assert r1["elapsed_seconds"] == 3.5
    h = load_history(d)
    assert h.X.shape == (2, 3) and h.X[0].tolist() == [0.0, 1.0, 0.0]


def test_bad_src_is_one_line_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no bo_runs_cv") as exc:
        import_paper_runs(tmp_path, tmp_path / "out")
    assert "\n" not in str(exc.value)
    (tmp_path / "bo_runs_cv").mkdir()
    with pytest.raises(ValueError, match="holds no runs"):
        import_paper_runs(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_malformed_files_name_the_file(tmp_path: Path) -> None:
    src = _make_src(tmp_path / "a", gz=False)
    f = src / "bo_runs_cv" / NAME / "000.csv"
    f.write_text("value,parameters\n1.0,{}\n")
    with pytest.raises(ValueError, match="000.csv: no rows or missing columns"):
        import_paper_runs(src, tmp_path / "out")
    src = _make_src(
        tmp_path / "b", params={"n_estimators": 0.0, "min_samples_split": 0.0, "max_depth": 1}
    )
    with pytest.raises(ValueError, match="min_samples_split=1.0 is outside"):
        import_paper_runs(src, tmp_path / "out")
    assert not (tmp_path / "out" / "random_forest" / "toy-7" / "seed=0" / DONE_MARKER).exists()


def test_existing_dir_of_another_run_is_refused(tmp_path: Path) -> None:
    src = _make_src(tmp_path / "src")
    (d,) = import_paper_runs(src, tmp_path / "out")
    meta = json.loads((d / RUN_META).read_text())
    meta["identity"]["authors_name"] = "someone-else"
    (d / RUN_META).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="holds a different run"):
        import_paper_runs(src, tmp_path / "out", overwrite=True)
