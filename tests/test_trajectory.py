"""Tests of autoterm.trajectory: strict-JSON records, torn lines, repair and atomic writes."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from autoterm.trajectory import (
    DONE_MARKER,
    REQUIRED_KEYS,
    RUN_META,
    TrajectoryError,
    append_record,
    dumps,
    is_complete,
    read_run_meta,
    read_trajectory,
    write_json_atomic,
)


def _strict_loads(text: str):
    """``json.loads`` that refuses NaN / Infinity literals."""

    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _record(i: int, **extra) -> dict:
    rec = {
        "iteration": i,
        "config": {"n_estimators": 10 + i, "min_samples_split": 0.05, "max_depth": 3},
        "fold_scores": [0.1 * i, 0.2, 0.3],
        "val_score": 0.2 + i,
        "test_score": 0.25 + i,
        "train_score": 0.1,
        "eval_seconds": 1.5,
        "optimizer_seconds": 0.25,
        "status": "ok",
        "error": None,
        "source": "sobol",
    }
    rec.update(extra)
    return rec


def _write(path: Path, n: int) -> list[dict]:
    recs = [_record(i) for i in range(n)]
    for r in recs:
        append_record(path, r)
    return recs


# --------------------------------------------------------------------------- round trip


def test_append_and_read_round_trip(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 4)
    assert read_trajectory(path) == recs
    text = path.read_text()
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert len(lines) == 4
    for line, rec in zip(lines, recs, strict=True):
        assert "\n" not in line
        assert _strict_loads(line) == rec


def test_missing_file_is_empty(tmp_path):
    assert read_trajectory(tmp_path / "nope.jsonl") == []
    assert read_trajectory(tmp_path / "nope.jsonl", repair=True) == []
    assert not (tmp_path / "nope.jsonl").exists()


def test_empty_file_is_empty(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"")
    assert read_trajectory(path) == []


def test_non_finite_values_become_null(tmp_path):
    path = tmp_path / "t.jsonl"
    rec = _record(
        0,
        val_score=float("nan"),
        test_score=float("inf"),
        train_score=-math.inf,
        fold_scores=[1.0, float("nan"), np.float64("inf")],
        signals={"ei_max": np.nan, "pi_max": 0.5},
        status="failed",
    )
    append_record(path, rec)
    line = path.read_text().strip()
    assert "NaN" not in line and "Infinity" not in line
    parsed = _strict_loads(line)
    assert parsed["val_score"] is None
    assert parsed["test_score"] is None
    assert parsed["train_score"] is None
    assert parsed["fold_scores"] == [1.0, None, None]
    assert parsed["signals"] == {"ei_max": None, "pi_max": 0.5}
    (back,) = read_trajectory(path)
    assert back == parsed
    # the input record is not modified in place
    assert math.isnan(rec["val_score"])


def test_dumps_is_one_strict_line():
    s = dumps({"a": [float("nan"), 1.5], "b": {"c": float("-inf")}, "t": (1, 2)})
    assert s == '{"a":[null,1.5],"b":{"c":null},"t":[1,2]}'
    assert _strict_loads(s) == {"a": [None, 1.5], "b": {"c": None}, "t": [1, 2]}


def test_numpy_scalars_are_serialised(tmp_path):
    path = tmp_path / "t.jsonl"
    rec = _record(
        np.int64(0),
        val_score=np.float64(0.125),
        test_score=np.float32(0.5),
        train_score=np.float64("nan"),
        eval_seconds=np.float32(2.0),
        config={"n_estimators": np.int64(7), "max_depth": np.int32(3), "flag": np.bool_(True)},
        fold_scores=[np.float64(0.1), np.float64(0.2)],
    )
    append_record(path, rec)
    parsed = _strict_loads(path.read_text())
    assert parsed["iteration"] == 0
    assert parsed["val_score"] == 0.125
    assert parsed["test_score"] == 0.5
    assert parsed["train_score"] is None
    assert parsed["eval_seconds"] == 2.0
    assert parsed["config"] == {"n_estimators": 7, "max_depth": 3, "flag": True}
    assert type(parsed["config"]["n_estimators"]) is int
    assert parsed["config"]["flag"] is True
    assert parsed["fold_scores"] == [0.1, 0.2]


# --------------------------------------------------------------------------- torn last line


def test_torn_last_line_without_newline_is_dropped(tmp_path, caplog):
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 3)
    with open(path, "a") as fh:
        fh.write(dumps(_record(3))[:25])  # crash mid-write
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        got = read_trajectory(path)
    assert got == recs
    assert any("torn" in r.getMessage() and ":4:" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_complete_json_without_newline_is_treated_as_torn(tmp_path, caplog):
    # the newline is the commit marker: a record without it was not fully written
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 2)
    with open(path, "a") as fh:
        fh.write(dumps(_record(2)))
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path) == recs
    assert any("torn" in r.getMessage() for r in caplog.records)


def test_invalid_json_last_line_with_newline_is_dropped(tmp_path, caplog):
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 2)
    with open(path, "a") as fh:
        fh.write('{"iteration": 2, "config": {\n')
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path) == recs
    assert any("torn" in r.getMessage() and ":3:" in r.getMessage() for r in caplog.records)


def test_read_without_repair_leaves_file_untouched(tmp_path, caplog):
    path = tmp_path / "trajectory.jsonl"
    _write(path, 2)
    with open(path, "a") as fh:
        fh.write('{"iteration": 2, "con')
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        read_trajectory(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("torn", ['{"iteration": 2, "con', '{"iteration": 2, "config": {\n'])
def test_repair_truncates_torn_line_so_appends_stay_valid(tmp_path, caplog, torn):
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 2)
    good = path.read_bytes()
    with open(path, "a") as fh:
        fh.write(torn)
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path, repair=True) == recs
    assert path.read_bytes() == good  # exactly the valid prefix is kept
    new = _record(2, source="logei")
    append_record(path, new)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path) == [*recs, new]
    assert not caplog.records  # nothing torn any more
    for line in path.read_text().splitlines():
        _strict_loads(line)


def test_repair_of_a_torn_first_line_empties_file(tmp_path, caplog):
    path = tmp_path / "trajectory.jsonl"
    path.write_text('{"iterat')
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path, repair=True) == []
    assert path.read_bytes() == b""
    append_record(path, _record(0))
    assert read_trajectory(path) == [_record(0)]


def test_torn_last_line_missing_required_keys_is_dropped(tmp_path, caplog):
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 2)
    with open(path, "a") as fh:
        fh.write('{"iteration": 2}\n')
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path) == recs


# --------------------------------------------------------------------------- corruption


def test_corrupt_middle_line_raises_with_file_and_line(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    _write(path, 2)
    with open(path, "a") as fh:
        fh.write("this is not json\n")
    for r in (_record(3), _record(4)):
        append_record(path, r)
    before = path.read_bytes()
    with pytest.raises(TrajectoryError) as err:
        read_trajectory(path, repair=True)
    msg = str(err.value)
    assert f"{path}:3:" in msg
    assert path.read_bytes() == before  # never "repaired" away
    assert isinstance(err.value, ValueError)


def test_corrupt_line_just_before_a_good_last_line_raises(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    _write(path, 1)
    with open(path, "a") as fh:
        fh.write('{"iteration": 1, "config"\n')
    append_record(path, _record(2))
    with pytest.raises(TrajectoryError, match=r":2:"):
        read_trajectory(path)


def test_missing_required_keys_mid_file_raises(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    _write(path, 1)
    bad = _record(1)
    del bad["val_score"]
    append_record(path, bad)
    append_record(path, _record(2))
    with pytest.raises(TrajectoryError, match=r"trajectory\.jsonl:2:.*missing keys"):
        read_trajectory(path)


@pytest.mark.parametrize("line", ["[1, 2, 3]", '"a string"', "42", "null", ""])
def test_non_object_or_blank_mid_file_line_raises(tmp_path, line):
    path = tmp_path / "trajectory.jsonl"
    _write(path, 1)
    with open(path, "a") as fh:
        fh.write(line + "\n")
    append_record(path, _record(2))
    before = path.read_bytes()
    with pytest.raises(TrajectoryError, match=r":2:"):
        read_trajectory(path)
    # in particular a "null" line is not mistaken for a torn end (which would drop, and with
    # repair truncate, the valid records after it)
    with pytest.raises(TrajectoryError, match=r":2:"):
        read_trajectory(path, repair=True)
    assert path.read_bytes() == before


def test_torn_null_last_line_is_dropped(tmp_path, caplog):
    path = tmp_path / "trajectory.jsonl"
    recs = _write(path, 2)
    with open(path, "a") as fh:
        fh.write("null\n")
    with caplog.at_level(logging.WARNING, logger="autoterm.trajectory"):
        assert read_trajectory(path) == recs
    assert any("torn" in r.getMessage() for r in caplog.records)


def test_required_keys_are_the_documented_ones():
    assert set(REQUIRED_KEYS) == {
        "iteration",
        "config",
        "fold_scores",
        "val_score",
        "test_score",
        "train_score",
        "eval_seconds",
        "optimizer_seconds",
        "status",
    }
    assert set(REQUIRED_KEYS) <= set(_record(0))


# --------------------------------------------------------------------------- atomic writes


def test_write_json_atomic_replaces_content_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / RUN_META
    write_json_atomic(path, {"a": 1, "b": [1.0, float("nan")]})
    assert _strict_loads(path.read_text()) == {"a": 1, "b": [1.0, None]}
    write_json_atomic(path, {"c": np.float64(2.5), "d": np.int64(3)})
    assert _strict_loads(path.read_text()) == {"c": 2.5, "d": 3}
    assert path.read_text().endswith("\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [RUN_META]
    assert read_run_meta(tmp_path) == {"c": 2.5, "d": 3}


def test_write_json_atomic_failure_keeps_old_content_and_no_temp(tmp_path):
    path = tmp_path / RUN_META
    write_json_atomic(path, {"old": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert _strict_loads(path.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == [RUN_META]


def test_run_meta_and_completion_marker(tmp_path):
    assert read_run_meta(tmp_path) is None
    assert not is_complete(tmp_path)
    (tmp_path / DONE_MARKER).write_text("done\n")
    assert is_complete(tmp_path)
