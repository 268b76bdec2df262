"""Tests of the figures (autoterm.plotting) and `autoterm plot`, rendered with Agg."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from autoterm.paper_runs import import_paper_runs  # noqa: E402
from autoterm.plotting import (  # noqa: E402
    RULE_STYLES,
    bound_trace,
    calibration_figure,
    calibration_points,
    collect_calibration,
    coverage,
    plot_bound_trace,
    plot_calibration,
    plot_coverage,
    plot_error_trace,
    plot_stop_distribution,
    plot_tradeoff,
    rule_style,
    save_figure,
    stops_figure,
    trace_figure,
    tradeoff_figure,
)
from autoterm.plotting.trace import BoundTrace, pick_runs  # noqa: E402
from autoterm.replay import RuleSpec, replay  # noqa: E402
from autoterm.report import build_report  # noqa: E402
from autoterm.stopping import RULES, History, load_history  # noqa: E402
from cli.main import cli  # noqa: E402

PAPER = Path(__file__).resolve().parents[1].parent / "shared" / "paper-runs"
SUBSET = {
    (f"{ds}_{algo}_cross_validation_nf10", rep)
    for ds in ("aa-openml503_dpp3", "nyc-openml14_dpp0")
    for algo in ("RandomForest", "XGB")
    for rep in ("000", "001")
}
SPECS = [
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


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """8 imported authors' runs (2 models × 2 datasets × 2 seeds), their replay and summary."""
    if not (PAPER / "bo_runs_cv").is_dir():
        pytest.skip(f"{PAPER} not found")
    root = tmp_path_factory.mktemp("plot_real")
    runs = import_paper_runs(PAPER, root / "runs", select=lambda n, r: (n, r) in SUBSET)
    csv = root / "replay.csv"
    pd.DataFrame(replay(runs, SPECS, convention="paper", n_jobs=1)).to_csv(csv, index=False)
    rep = build_report([csv])
    return {"runs": runs, "csv": csv, "rows": rep.rows, "summary": rep.summary}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def _rc_untouched():
    """No figure function may change the global rcParams."""
    before = dict(matplotlib.rcParams)
    yield
    assert dict(matplotlib.rcParams) == before


def _vlines(ax) -> set[float]:
    """x of the vertical lines (axvline) of the axes."""
    out = set()
    for ln in ax.get_lines():
        x = np.asarray(ln.get_xdata(), dtype=float)
        y = np.asarray(ln.get_ydata(), dtype=float)
        if len(x) == 2 and x[0] == x[1] and tuple(y) == (0.0, 1.0):
            out.add(float(x[0]))
    return out


# ---------------------------------------------------------------------------------- palette


def test_palette_one_style_per_rule_paper_rule_distinct():
    for r in RULES:
        assert r in RULE_STYLES
    colors = [s.color for s in RULE_STYLES.values()]
    assert len(set(colors)) == len(colors)
    assert rule_style("regret_bound", "authors") == rule_style("regret_bound_authors")
    assert rule_style("regret_bound").marker == "*"
    assert rule_style("regret_bound_authors").marker == "*"
    assert all(s.marker != "*" for k, s in RULE_STYLES.items() if not k.startswith("regret"))
    assert rule_style("mystery") == rule_style("mystery")  # stable fallback


# --------------------------------------------------------------------------------- trade-off


def test_tradeoff_panel_has_one_errorbar_per_rule_knob(real):
    s = real["summary"]
    ax = plot_tradeoff(s, model="xgboost")
    conts = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    cells = s[s["model"] == "xgboost"].reset_index(drop=True)
    assert len(conts) == len(cells) == 5
    for c, (_, cell) in zip(conts, cells.iterrows(), strict=True):
        st = rule_style(cell["rule"], cell["bound_source"])
        marker_line = c.lines[0]
        assert marker_line.get_marker() == st.marker
        assert matplotlib.colors.same_color(marker_line.get_color(), st.color)
        (x0, y0), (x1, y1) = c.lines[2][0].get_segments()[0]  # the x error bar: mean ± std
        assert x0 == pytest.approx(cell["rtc_iter_mean"] - cell["rtc_iter_std"])
        assert x1 == pytest.approx(cell["rtc_iter_mean"] + cell["rtc_iter_std"])
        assert y0 == y1 == pytest.approx(cell["ryc_mean"])
        (_, ylo), (_, yhi) = c.lines[2][1].get_segments()[0]
        assert yhi - ylo == pytest.approx(2 * cell["ryc_std"])
    assert ax.get_xlabel() == "RTC (iterations)" and ax.get_ylabel() == "RYC"
    assert ax.get_title() == "xgboost"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Conv", "EI", "Regret bound (authors' log)"]
    ax2 = plot_tradeoff(s, model="random_forest", x="rtc_time", legend=False)
    assert ax2.get_xlabel() == "RTC (time)" and ax2.get_legend() is None


def test_tradeoff_accepts_given_axes_and_raw_rows(real):
    fig, ax = plt.subplots()
    out = plot_tradeoff(real["rows"], model="random_forest", ax=ax)
    assert out is ax
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 5


def test_tradeoff_rejects_bad_arguments(real):
    with pytest.raises(ValueError, match="several models"):
        plot_tradeoff(real["summary"])
    with pytest.raises(ValueError, match="x must be"):
        plot_tradeoff(real["summary"], model="xgboost", x="ryc")


def test_tradeoff_figure_one_panel_per_model_and_saved(real, tmp_path):
    fig = tradeoff_figure(real["summary"])
    axes = fig.get_axes()
    assert [a.get_title() for a in axes] == ["random forest", "xgboost"]
    assert len(fig.legends) == 1
    assert fig.get_size_inches()[0] == pytest.approx(2 * 3.3)
    files = save_figure(fig, tmp_path / "figs" / "tradeoff")
    assert [f.name for f in files] == ["tradeoff.pdf", "tradeoff.png"]
    assert files[0].read_bytes()[:5] == b"%PDF-"
    assert files[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [f.name for f in files]


def test_paper_knob_labels_do_not_overlap_when_markers_crowd():
    """Five paper-rule markers within 0.02 of each other (XGBoost near (0, 0)): every knob gets
    a label and no two labels' rendered boxes overlap, nor cover another rule's marker."""
    from matplotlib.text import Text

    from autoterm.plotting.labels import PointLabel, place_labels

    fig, ax = plt.subplots(figsize=(3.3, 2.4))
    pts = [(0.0, 0.0), (0.01, 0.001), (0.02, 0.0), (0.015, -0.002), (0.005, 0.002)]
    ax.plot(*zip(*pts, strict=True), "*")
    ax.plot([0.03], [0.0], "o")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.15, 0.06)
    fig.draw_without_rendering()
    texts = ["c=1", "c=2.38", "0.21", "0.5", "1.0"]
    anns = place_labels(
        ax,
        [PointLabel(x, y, t, "red") for (x, y), t in zip(pts, texts, strict=True)],
        fontsize=6.0,
        obstacles=[(0.03, 0.0)],
    )
    assert [a.get_text() for a in anns] == texts
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(a, r) for a in anns]  # the text, not its leader line
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    other = ax.transData.transform((0.03, 0.0))
    assert not any(b.contains(*other) for b in boxes)


def test_figure_rows_draw_a_rule_the_paper_grid_repeats_once():
    from autoterm.report import figure_rows, prepare

    base = {"model": "xgboost", "dataset": "d", "seed": 0, "stop_iter": 30, "fired": True}
    base |= {"rtc_iter": 0.5, "rtc_time": 0.5, "ryc": 0.0}
    rows = prepare(
        pd.DataFrame(
            [
                base | {"run": "r0", "rule": "conv", "knob": 30, "paper_method": "Conv_30"},
                base | {"run": "r0", "rule": "conv", "knob": 30},  # the same decision, unnamed
                base | {"run": "r0", "rule": "conv", "knob": 10},  # not in the grid: kept
                base | {"run": "r1", "rule": "conv", "knob": 30},  # another run: kept
                base
                | {
                    "run": "r0",
                    "rule": "regret_bound",
                    "knob": 1.0,
                    "paper_method": "Ours_1.0",
                    "bound_source": "authors",
                },
                base | {"run": "r0", "rule": "regret_bound", "knob": 1.0},  # our GP: kept
            ]
        )
    )
    kept = figure_rows(rows)
    assert list(kept.index) == [0, 2, 3, 4, 5]
    assert figure_rows(rows[rows["paper_method"] == ""]).equals(rows[rows["paper_method"] == ""])


# ------------------------------------------------------------------------------------ traces


def test_bound_trace_reads_the_authors_bound(real):
    run = real["runs"][0]
    h = load_history(run)
    b = bound_trace(h, run, knobs=(1.0, 4.76))
    assert b is not None and b.source == "authors" and b.rule == "regret_bound_authors"
    assert b.estimates.shape == (len(h) + 1,)
    assert np.isnan(b.estimates[:20]).all() and np.isfinite(b.estimates[20:200]).all()
    np.testing.assert_allclose(b.estimates[20:200], h.signals["authors_regret_bound"][20:200])
    std20 = h.signals["authors_incumbent_std"][20]
    np.testing.assert_allclose(b.thresholds[4.76][20:], 4.76 * std20)  # frozen at t = 20
    h.signals = {}
    assert bound_trace(h, None) is None


def test_bound_trace_prefers_autoterms_logged_or_cached_bound(real, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(real["runs"][0], run)
    h = load_history(run)
    est = np.linspace(1.0, 0.01, len(h) + 1)
    cache = {"k": {"rule": "regret_bound", "params": {}, "n": len(h), "estimates": list(est)}}
    (run / "replay_cache.json").write_text(json.dumps(cache))
    b = bound_trace(h, run)
    assert b.source == "autoterm" and b.rule == "regret_bound"
    np.testing.assert_allclose(b.estimates[20:], est[20:])
    assert sorted(b.thresholds) == [1.0, 2.38, 4.76]
    assert bound_trace(h, run, source="authors").source == "authors"
    h.signals["regret_bound"] = np.full(len(h), 0.5)
    assert np.nanmax(bound_trace(h, None).estimates) == 0.5


def test_trace_figure_bound_thresholds_errors_and_stops(real):
    rows = real["rows"]
    run = str(real["runs"][0])
    h = load_history(run)
    stops = rows[rows["run"] == run]
    b = bound_trace(h, run, knobs=(1.0, 4.76))
    fig = trace_figure(h, stops, b)
    top, bottom = fig.get_axes()
    assert top.get_yscale() == "log" and top.get_ylabel() == "regret bound"
    assert [ln.get_gid() for ln in top.get_lines() if ln.get_gid()] == [
        "bound",
        "threshold",
        "threshold",
    ]
    fired = {float(s) for s in stops.loc[stops["fired"], "stop_iter"]}
    assert fired and _vlines(top) == fired and _vlines(bottom) == fired
    labels = [ln.get_label() for ln in bottom.get_lines() if not ln.get_label().startswith("_")]
    assert "validation (CV)" in labels and "test" in labels
    assert bottom.get_ylabel() == "incumbent rmse" and bottom.get_xlabel() == "iteration"
    assert "aa-openml503" in top.get_title() and "seed 0" in top.get_title()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "regret bound" and any(t.startswith("stop: Conv") for t in legend)


def test_trace_axes_functions_without_bound(real):
    h = load_history(real["runs"][1])
    ax = plot_bound_trace(h, None)
    assert ax.get_yscale() == "log"
    assert any("no stored regret bound" in t.get_text() for t in ax.texts)
    ax2 = plot_error_trace(h)
    assert len(ax2.get_lines()) == 2 and ax2.get_ylabel().startswith("incumbent")


def test_pick_runs_spreads_over_models_and_datasets(real):
    picked = pick_runs(real["rows"], 4)
    meta = [load_history(r).meta for r in picked]
    assert len({(m["model"], m["dataset"]) for m in meta}) == 4
    assert pick_runs(real["rows"], 0) == []


# ------------------------------------------------------------------------------------- stops


def test_stop_distribution_one_box_per_rule_knob(real):
    rows = real["rows"]
    ax = plot_stop_distribution(rows, model="xgboost")
    assert len(ax.patches) == 5  # boxes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [
        "Conv k=10",
        "Conv k=30",
        "EI τ=1e-08",
        "Regret bound c=1",
        "Regret bound c=4.76",
    ]
    colors = [t.get_color() for t in ax.get_yticklabels()]
    assert matplotlib.colors.same_color(colors[-1], rule_style("regret_bound_authors").color)
    pts = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(pts) == 5 and all(len(c.get_offsets()) == 4 for c in pts)  # 4 xgboost runs
    first = np.sort(pts[0].get_offsets()[:, 0])
    want = np.sort(rows.loc[(rows["model"] == "xgboost") & (rows["knob"] == 10), "stop_iter"])
    np.testing.assert_allclose(first, want)
    assert ax.get_xlabel() == "stop iteration"
    assert _vlines(ax) == {199.0}  # the horizon T (paper convention: N - 1)


def test_stops_figure_panels_share_rows(real):
    fig = stops_figure(real["rows"])
    a, b = fig.get_axes()
    assert [t.get_text() for t in b.get_yticklabels()] == [""] * 5
    assert len(a.patches) == len(b.patches) == 5


# ------------------------------------------------------------------------------- calibration


def test_calibration_points_hand_computed():
    h = History(
        val=np.array([3.0, 2.0, 4.0, 1.0]),
        test=np.array([3.5, 2.5, 1.0, 1.5]),
        folds=np.zeros((4, 0)),
        X=None,
        cost=np.ones(4),
    )
    b = BoundTrace(np.array([np.nan, 3.0, 1.0, 2.0, 0.1]), {}, "autoterm", warmup=1)
    p = calibration_points(h, b, run="r")
    assert p["t"].tolist() == [1, 2, 3, 4]
    # incumbents after t evaluations: 0, 1, 1, 3; test 3.5, 2.5, 2.5, 1.5; best test 1.0
    assert p["regret"].tolist() == pytest.approx([2.5, 1.5, 1.5, 0.5])
    assert coverage(p) == 0.5  # 3 >= 2.5 and 2 >= 1.5 hold; 1 < 1.5 and 0.1 < 0.5 do not
    ax = plot_calibration(p)
    assert any("50%" in t.get_text() and "4 checks" in t.get_text() for t in ax.texts)


def test_calibration_figure_on_real_runs(real, tmp_path):
    pts = collect_calibration(real["runs"])
    assert pts["run"].nunique() == 8 and (pts["regret"] >= 0).all()
    assert set(pts["t"]) == set(range(20, 200))
    frac = coverage(pts)
    assert 0 < frac <= 1
    fig = calibration_figure(pts)
    top, bottom = fig.get_axes()
    assert top.get_xscale() == "symlog" and top.get_yscale() == "log"
    assert top.get_ylabel() == "regret bound" and top.get_xlabel().startswith("true regret")
    assert any(f"{frac:.0%}" in t.get_text() for t in top.texts)
    assert len([c for c in top.collections if isinstance(c, PathCollection)]) == 1
    (line,) = [ln for ln in bottom.get_lines()]
    assert len(line.get_xdata()) == 180 and bottom.get_ylim()[1] > 1
    files = save_figure(fig, tmp_path / "calibration")
    assert all(f.stat().st_size > 1000 for f in files)
    ax = plot_coverage(pts)
    assert ax.get_xlabel() == "iteration"


# --------------------------------------------------------------------------------------- CLI


def test_cli_plot_writes_the_four_figures(real, tmp_path):
    out = tmp_path / "figs"
    res = CliRunner().invoke(
        cli, ["plot", str(real["csv"]), "--out", str(out), "--max-traces", "2"]
    )
    assert res.exit_code == 0, res.output
    names = {p.name for p in out.iterdir()}
    stems = {"tradeoff", "stop_iterations", "calibration"}
    assert {f"{s}.{e}" for s in stems for e in ("pdf", "png")} <= names
    traces = sorted(n for n in names if n.startswith("trace_") and n.endswith(".png"))
    assert len(traces) == 2 and traces[0].startswith("trace_random_forest_")
    assert len(names) == 2 * (3 + 2)


def test_cli_plot_without_runs_skips_traces(real, tmp_path):
    rows = pd.read_csv(real["csv"])
    rows["run"] = "/nonexistent/" + rows["run"].str.replace("/", "_")
    csv = tmp_path / "moved.csv"
    rows.to_csv(csv, index=False)
    out = tmp_path / "figs"
    res = CliRunner().invoke(cli, ["plot", str(csv), "--out", str(out), "--rtc", "time"])
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output
    assert {p.stem for p in out.iterdir()} == {"tradeoff", "stop_iterations"}
    runs_glob = str(real["runs"][0].parent / "seed=*")  # one model and dataset, 2 seeds
    res = CliRunner().invoke(cli, ["plot", str(csv), "-o", str(out), "--runs", runs_glob])
    assert res.exit_code == 0, res.output
    traces = sorted(p for p in out.iterdir() if p.name.startswith("trace_"))
    assert len(traces) == 2 * 2
    assert (out / "calibration.png").exists()
    # the moved table's rows still mark the stops: matched by model, dataset and seed
    assert "trace_random_forest_aa-openml503_seed0.pdf" in {p.name for p in traces}


@pytest.mark.parametrize("args", [["nope.csv"], ["bad.csv"], ["ok.csv", "--runs", "/nonexistent"]])
def test_cli_plot_bad_input_is_one_line(real, tmp_path, args):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    shutil.copy(real["csv"], tmp_path / "ok.csv")
    args = [str(tmp_path / args[0]), *args[1:]]
    res = CliRunner().invoke(cli, ["plot", *args, "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    assert not (tmp_path / "o").exists()  # nothing drawn before the input is checked
