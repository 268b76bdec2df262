"""Tests of the summary tables (autoterm.report) and `autoterm report`."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from autoterm.paper_runs import import_paper_runs
from autoterm.replay import RuleSpec, replay
from autoterm.report import (
    IncompleteWarning,
    ReportError,
    build_report,
    load_replay,
    to_latex,
    to_markdown,
    write_report,
)
from cli.main import cli

PAPER = Path(__file__).resolve().parents[1].parent / "shared" / "paper-runs"
SUBSET = {
    (f"{ds}_{algo}_cross_validation_nf10", rep)
    for ds in ("aa-openml503_dpp3", "nyc-openml14_dpp0")
    for algo in ("RandomForest", "XGB")
    for rep in ("000", "001")
}


def _row(model, dataset, seed, rule, knob, stop, fired, rtc_iter, rtc_time, ryc, **kw):
    return {
        "run": f"runs/{model}/{dataset}/seed={seed}",
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "n_records": 100,
        "rule": rule,
        "knob": knob,
        "stop_iter": stop,
        "fired": fired,
        "rtc_iter": rtc_iter,
        "rtc_time": rtc_time,
        "ryc": ryc,
        "total_iter": 100,
        "paper_method": kw.get("paper_method", ""),
        "bound_source": kw.get("bound_source", ""),
    }


@pytest.fixture
def synthetic() -> pd.DataFrame:
    """xgboost on datasets A, B × seeds 0, 1; conv k=10 and regret_bound c=1; rf on A × 0, 1."""
    rows = [
        # conv k=10: rtc_iter 0.5 0.6 0.7 0.8, rtc_time 0.4 0.4 0.8 0.8, ryc 0 -0.1 -0.2 0.1
        _row("xgboost", "A", 0, "conv", 10, 50, True, 0.5, 0.4, 0.0),
        _row("xgboost", "A", 1, "conv", 10, 40, True, 0.6, 0.4, -0.1),
        _row("xgboost", "B", 0, "conv", 10, 30, True, 0.7, 0.8, -0.2),
        _row("xgboost", "B", 1, "conv", 10, 20, True, 0.8, 0.8, 0.1),
        # regret_bound c=1: fired 3 of 4; rtc_iter 0.0 0.2 0.4 0.6, ryc 0 0 0 -0.4
        _row("xgboost", "A", 0, "regret_bound", 1.0, 100, False, 0.0, 0.0, 0.0),
        _row("xgboost", "A", 1, "regret_bound", 1.0, 80, True, 0.2, 0.3, 0.0),
        _row("xgboost", "B", 0, "regret_bound", 1.0, 60, True, 0.4, 0.5, 0.0),
        _row("xgboost", "B", 1, "regret_bound", 1.0, 40, True, 0.6, 0.7, -0.4),
        # random_forest: one dataset, conv only
        _row("random_forest", "A", 0, "conv", 10, 90, True, 0.1, 0.2, 0.05),
        _row("random_forest", "A", 1, "conv", 10, 70, True, 0.3, 0.2, -0.05),
    ]
    return pd.DataFrame(rows)


def test_summary_matches_hand_computed_table(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # complete: no warning
        rep = build_report(synthetic)
    s = rep.summary.set_index(["model", "rule", "knob"])
    # hand-computed: mean, sample std (ddof = 1)
    expected = {
        ("xgboost", "conv", 10.0): {
            "n_runs": 4,
            "n_datasets": 2,
            "n_seeds": 2,
            "fired": 1.0,
            "stop_iter_mean": 35.0,
            "rtc_iter_mean": 0.65,
            "rtc_iter_std": math.sqrt(0.05 / 3),
            "rtc_time_mean": 0.6,
            "rtc_time_std": math.sqrt(0.16 / 3),
            "ryc_mean": -0.05,
            "ryc_std": math.sqrt(0.05 / 3),
        },
        ("xgboost", "regret_bound", 1.0): {
            "n_runs": 4,
            "fired": 0.75,
            "stop_iter_mean": 70.0,
            "rtc_iter_mean": 0.3,
            "rtc_iter_std": math.sqrt(0.2 / 3),
            "rtc_time_mean": 0.375,
            "rtc_time_std": math.sqrt(0.2675 / 3),
            "ryc_mean": -0.1,
            "ryc_std": math.sqrt(0.12 / 3),
        },
        ("random_forest", "conv", 10.0): {
            "n_runs": 2,
            "n_datasets": 1,
            "fired": 1.0,
            "stop_iter_mean": 80.0,
            "rtc_iter_mean": 0.2,
            "rtc_iter_std": math.sqrt(0.02),
            "rtc_time_mean": 0.2,
            "rtc_time_std": 0.0,
            "ryc_mean": 0.0,
            "ryc_std": math.sqrt(0.005),
        },
    }
    assert len(s) == len(expected)
    for key, cols in expected.items():
        for col, want in cols.items():
            assert s.loc[key, col] == pytest.approx(want, abs=1e-12), (key, col)
    # table order: models, then rules, as they first appear in the replay
    assert list(rep.summary["model"]) == ["xgboost", "xgboost", "random_forest"]
    assert list(rep.summary["rule"]) == ["conv", "regret_bound", "conv"]


def test_by_dataset_breakdown_is_over_seeds_only(synthetic):
    rep = build_report(synthetic)
    d = rep.by_dataset.set_index(["model", "dataset", "rule", "knob"])
    assert len(d) == 5
    a = d.loc[("xgboost", "A", "conv", 10.0)]
    assert a["n_runs"] == 2
    assert a["rtc_iter_mean"] == pytest.approx(0.55)
    assert a["rtc_iter_std"] == pytest.approx(math.sqrt(0.005))
    b = d.loc[("xgboost", "B", "regret_bound", 1.0)]
    assert b["ryc_mean"] == pytest.approx(-0.2)
    assert b["fired"] == 1.0
    assert b["stop_iter_mean"] == 50.0


def test_single_run_cell_has_nan_std_and_shows_mean_only(synthetic):
    one = synthetic[(synthetic["model"] == "xgboost") & (synthetic["seed"] == 0)]
    one = one[one["dataset"] == "A"]
    rep = build_report(one)
    assert rep.summary["rtc_iter_std"].isna().all()
    md = to_markdown(rep.summary)
    assert "| 0.500 |" in md and "±" not in md


def test_paper_method_and_bound_source_keep_cells_apart(synthetic):
    paper = synthetic[synthetic["rule"] == "regret_bound"].copy()
    paper["bound_source"] = "authors"
    paper["paper_method"] = "Ours_0.21"
    paper["ryc"] = 0.0
    df = pd.concat([synthetic, paper], ignore_index=True)
    rep = build_report(df)
    rb = rep.summary[(rep.summary["model"] == "xgboost") & (rep.summary["rule"] == "regret_bound")]
    assert sorted(rb["bound_source"]) == ["", "authors"]
    assert rb.set_index("bound_source").loc["authors", "ryc_mean"] == 0.0
    md = to_markdown(rep.summary)
    assert "| paper method |" in md and "Ours_0.21" in md


def test_missing_seed_warns_with_what_is_missing(synthetic):
    df = synthetic.drop(index=3)  # xgboost B seed 1, conv
    with pytest.warns(IncompleteWarning) as rec:
        rep = build_report(df)
    msg = str(rec[0].message)
    assert "xgboost" in msg and "conv 10" in msg and "B seed(s) 1" in msg
    assert "regret_bound" not in msg  # that cell is complete
    assert len(rep.gaps) == 1 and rep.gaps[0].missing == (("B", 1),)
    with pytest.raises(ReportError, match=r"B seed\(s\) 1"):
        build_report(df, strict=True)


def test_dataset_with_fewer_seeds_is_incomplete(synthetic):
    df = synthetic[~((synthetic["dataset"] == "B") & (synthetic["seed"] == 1))]
    with pytest.warns(IncompleteWarning, match=r"conv 10, regret_bound 1 missing B seed\(s\) 1"):
        rep = build_report(df)
    assert {g.rule for g in rep.gaps} == {"conv", "regret_bound"}
    with pytest.raises(ReportError, match="incomplete"):
        build_report(df, strict=True)


def test_duplicate_rows_warn_or_fail(synthetic):
    df = pd.concat([synthetic, synthetic.iloc[[0]]], ignore_index=True)
    with pytest.warns(IncompleteWarning, match="duplicate"):
        rep = build_report(df)
    assert rep.summary["n_runs"].sum() == len(synthetic)
    with pytest.raises(ReportError, match="duplicate"):
        build_report(df, strict=True)


def test_markdown_table_format(synthetic):
    md = to_markdown(build_report(synthetic).summary)
    lines = md.strip().split("\n")
    assert len(lines) == 2 + 3
    assert lines[0] == (
        "| model | rule | knob | runs | fired | stop iter | RTC (iter) | RTC (time) | RYC |"
    )
    assert re.fullmatch(r"\|(-{3}:?\|)+", lines[1].replace("---:", "---"))
    assert all(ln.startswith("| ") and ln.endswith(" |") for ln in lines[:1] + lines[2:])
    assert all(ln.count("|") == lines[0].count("|") for ln in lines)
    assert lines[2] == (
        "| xgboost | conv | 10 | 4 | 1.00 | 35.0 | 0.650 ± 0.129 | 0.600 ± 0.231 | -0.050 ± 0.129 |"
    )


def test_latex_table_is_booktabs_only(synthetic):
    tex = to_latex(build_report(synthetic).summary)
    lines = tex.strip().split("\n")
    assert lines[0] == r"\begin{tabular}{llrrrrrrr}"
    assert lines[1] == r"\toprule" and lines[3] == r"\midrule"
    assert lines[-2:] == [r"\bottomrule", r"\end{tabular}"]
    assert "\\usepackage" not in tex and "\\hline" not in tex
    body = [ln for ln in lines[4:-2] if ln != r"\midrule"]
    assert len(body) == 3
    assert all(ln.endswith(r" \\") and ln.count("&") == 8 for ln in body)
    assert r"regret\_bound" in tex and "regret_bound" not in tex
    assert r"$0.650 \pm 0.129$" in tex and r"$-0.050 \pm 0.129$" in tex
    assert lines[4:].count(r"\midrule") == 1  # between the two models


def test_write_report_writes_all_files_atomically(synthetic, tmp_path):
    rep = build_report(synthetic)
    files = write_report(rep, tmp_path / "out")
    names = sorted(p.name for p in files)
    assert names == sorted(
        f"{s}.{e}" for s in ("summary", "summary_by_dataset") for e in ("csv", "md", "tex")
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names  # no temporary left
    back = pd.read_csv(tmp_path / "out" / "summary.csv", keep_default_na=False)
    assert back["rtc_iter_mean"].astype(float).tolist() == pytest.approx([0.65, 0.3, 0.2])
    assert len(write_report(rep, tmp_path / "only", by_dataset=False)) == 3


def test_load_replay_rejects_bad_input(tmp_path, synthetic):
    with pytest.raises(ReportError, match="no such file"):
        load_replay([tmp_path / "nope.csv"])
    bad = tmp_path / "bad.csv"
    synthetic.drop(columns=["ryc", "fired"]).to_csv(bad, index=False)
    with pytest.raises(
        ReportError, match=r"bad\.csv: not a replay table: missing column\(s\) fired, ryc"
    ):
        load_replay([bad])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ReportError, match="empty.csv"):
        load_replay([empty])


# ------------------------------------------------------------------ real rows: authors' runs


@pytest.fixture(scope="module")
def real_csv(tmp_path_factory) -> Path:
    """A replay of 8 imported authors' runs (2 models × 2 datasets × 2 seeds), cheap rules."""
    if not (PAPER / "bo_runs_cv").is_dir():
        pytest.skip(f"{PAPER} not found")
    root = tmp_path_factory.mktemp("report_real")
    runs = import_paper_runs(PAPER, root / "runs", select=lambda n, r: (n, r) in SUBSET)
    specs = [
        RuleSpec("conv", (10, 30)),
        RuleSpec("ei", (1e-8,)),
        RuleSpec(
            "regret_bound_authors",
            (1.0, 4.76),
            {"frozen_threshold": True},
            label="regret_bound",
            bound_source="authors",
        ),
    ]
    rows = replay(runs, specs, convention="paper", n_jobs=1)
    path = root / "replay.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_real_replay_summary_agrees_with_its_rows(real_csv):
    rows = pd.read_csv(real_csv)
    rep = build_report([real_csv])
    assert len(rep.summary) == 2 * 5 and not rep.gaps
    assert (rep.summary["n_runs"] == 4).all() and (rep.summary["n_datasets"] == 2).all()
    for _, cell in rep.summary.iterrows():
        sel = rows[
            (rows["model"] == cell["model"])
            & (rows["rule"] == cell["rule"])
            & (rows["knob"] == cell["knob"])
        ]
        assert cell["rtc_iter_mean"] == pytest.approx(sel["rtc_iter"].mean())
        assert cell["ryc_std"] == pytest.approx(sel["ryc"].std(ddof=1))
        assert cell["fired"] == pytest.approx(sel["fired"].mean())
    assert len(rep.by_dataset) == 2 * 2 * 5


def test_cli_report_writes_tables(real_csv, tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(cli, ["report", str(real_csv), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {
        f"{s}.{e}" for s in ("summary", "summary_by_dataset") for e in ("csv", "md", "tex")
    }
    md = (out / "summary.md").read_text()
    assert "regret_bound" in md and "authors" in md and " ± " in md
    res = CliRunner().invoke(
        cli, ["report", str(real_csv), "-o", str(tmp_path / "r2"), "--no-by-dataset"]
    )
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "r2" / "summary_by_dataset.csv").exists()


def test_cli_report_incomplete_warns_and_strict_fails(real_csv, tmp_path):
    rows = pd.read_csv(real_csv)
    cut = tmp_path / "cut.csv"
    rows[~((rows["rule"] == "conv") & (rows["seed"] == 1))].to_csv(cut, index=False)
    res = CliRunner().invoke(cli, ["report", str(cut), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "warning: incomplete cells" in res.output and "seed(s) 1" in res.output
    res = CliRunner().invoke(cli, ["report", str(cut), "--out", str(tmp_path / "b"), "--strict"])
    assert res.exit_code != 0
    assert "incomplete" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("what", ["missing", "columns"])
def test_cli_report_bad_input_is_one_line(tmp_path, what):
    path = tmp_path / "x.csv"
    if what == "columns":
        path.write_text("run,model\na,b\n")
    res = CliRunner().invoke(cli, ["report", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert ("no such file" if what == "missing" else "missing column(s)") in lines[0]
