"""Tests of autoterm.data: sources, task detection, splits and preprocessing."""

from __future__ import annotations

import gzip
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoterm.data import (
    Dataset,
    DatasetError,
    PreparedData,
    check_dataset,
    list_datasets,
    load_dataset,
    make_splits,
    prepare,
    resolve_data_dirs,
)
from autoterm.data.sources import project_data_dir

BUNDLED = {
    "breast_cancer": ("binary", 2),
    "digits": ("multiclass", 10),
    "wine": ("multiclass", 3),
    "iris": ("multiclass", 3),
    "diabetes": ("regression", None),
}


def _shared_dir() -> Path | None:
    """The offline dataset cache: ../shared/datasets, else an AUTOTERM_DATA_DIRS entry."""
    candidates = [Path(__file__).resolve().parents[1].parent / "shared" / "datasets"]
    env = os.environ.get("AUTOTERM_DATA_DIRS", "")
    candidates += [Path(p).resolve() for p in env.split(os.pathsep) if p.strip()]
    for path in candidates:
        if (path / "catalog.json").is_file() and (path / "adult.csv.gz").is_file():
            return path
    return None


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _shared_dir()
    if path is None:
        pytest.skip("shared dataset cache not found (set AUTOTERM_DATA_DIRS=../shared/datasets)")
    monkeypatch.setenv("AUTOTERM_DATA_DIRS", str(path))
    return path


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any OpenML download attempt fail loudly."""
    import sklearn.datasets

    def forbidden(*args, **kwargs):
        raise AssertionError("fetch_openml must not be called")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", forbidden)


def _toy_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    num = rng.normal(size=n)
    num[::7] = np.nan
    color = rng.choice(["red", "green", "blue"], size=n).astype(object)
    color[::11] = None
    return pd.DataFrame(
        {
            "num": num,
            "count": rng.integers(0, 100, size=n),
            "color": color,
            "flag": rng.random(n) < 0.5,
            "label": rng.choice(["yes", "no"], size=n),
            "amount": rng.normal(100, 10, size=n),
        }
    )


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ----------------------------------------------------------------------------------------------
# sources


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_datasets(name: str, no_download: None) -> None:
    task, n_classes = BUNDLED[name]
    ds = load_dataset(name, data_dirs=[])
    again = load_dataset(name, data_dirs=[])
    assert isinstance(ds, Dataset)
    assert (ds.name, ds.slug, ds.task, ds.source) == (name, name, task, "sklearn")
    assert ds.fingerprint == again.fingerprint and len(ds.fingerprint) == 64
    assert ds.y.shape == (ds.X.shape[0],)
    if n_classes is None:
        assert ds.y.dtype == np.float64 and ds.classes is None
    else:
        assert ds.y.dtype == np.int64 and len(ds.classes) == n_classes
        assert set(np.unique(ds.y)) == set(range(n_classes))


def test_resolve_data_dirs_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "missing"
    a.mkdir()
    b.mkdir()
    monkeypatch.setenv("AUTOTERM_DATA_DIRS", os.pathsep.join([str(b), str(c), str(a)]))
    dirs = resolve_data_dirs([a])
    assert dirs == [a.resolve(), b.resolve(), c.resolve(), project_data_dir()]
    assert project_data_dir() == Path(__file__).resolve().parents[1] / "datasets"
    monkeypatch.delenv("AUTOTERM_DATA_DIRS")
    assert resolve_data_dirs() == [project_data_dir()]


def test_shared_adult_by_id_and_name(shared: Path, no_download: None) -> None:
    by_id = load_dataset("openml:1590")
    by_name = load_dataset("adult")
    assert (by_id.name, by_id.slug) == ("openml:1590", "openml-1590")
    assert (by_name.name, by_name.slug) == ("adult", "adult")
    assert by_id.fingerprint == by_name.fingerprint
    assert by_id.source == by_name.source == str(shared / "adult.csv.gz")
    assert by_id.task == "binary" and by_id.classes == ["<=50K", ">50K"]
    assert by_id.X.shape == (32561, 13) and len(by_id.categorical) == 8
    assert all(isinstance(by_id.X[c].dtype, pd.CategoricalDtype) for c in by_id.categorical)
    assert by_id.X["workclass"].isna().any()
    check_dataset("adult")
    check_dataset("openml:1590")


def test_shared_pendigits_by_id_and_name(shared: Path, no_download: None) -> None:
    by_id = load_dataset("openml:32")
    by_name = load_dataset("pendigits")
    assert by_id.fingerprint == by_name.fingerprint
    assert by_id.task == by_name.task == "multiclass"
    assert by_id.classes == list(range(10)) and not by_id.categorical


def test_list_datasets(shared: Path, tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0], "target": [0, 1]}).to_csv(tmp_path / "mine.csv", index=False)
    rows = list_datasets([tmp_path, shared])
    by_name = {r["name"]: r for r in rows}
    assert by_name["breast_cancer"]["source"] == "bundled"
    assert by_name["adult"]["source"] == str(shared) and by_name["adult"]["openml_id"] == 1590
    assert by_name["adult"]["n_categorical"] == 8
    assert by_name["mine"]["source"] == str(tmp_path.resolve())
    assert {"name", "source", "task", "n_rows", "n_features", "n_categorical", "openml_id"} <= set(
        rows[0]
    )


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_file_with_custom_target(tmp_path: Path, suffix: str) -> None:
    frame = _toy_frame()
    path = tmp_path / f"toy{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    ds = load_dataset(f"file:{path}", target="label")
    assert ds.name == f"file:{path.resolve()}" and ds.slug == "toy"
    assert ds.source == str(path.resolve())
    assert ds.task == "binary" and ds.classes == ["no", "yes"]
    assert ds.categorical == ["color"]
    assert isinstance(ds.X["color"].dtype, pd.CategoricalDtype)
    assert list(ds.X["color"].cat.categories) == ["blue", "green", "red"]
    assert ds.X["color"].isna().sum() == frame["color"].isna().sum()
    assert ds.X["num"].isna().sum() == frame["num"].isna().sum()
    assert pd.api.types.is_integer_dtype(ds.X["flag"].dtype)
    assert list(ds.X.columns) == ["num", "count", "color", "flag", "amount"]
    reg = load_dataset(f"file:{path}", target="amount")
    assert reg.task == "regression" and reg.y.dtype == np.float64
    assert np.allclose(reg.y, frame["amount"].to_numpy())
    multi = load_dataset(f"file:{path}", target="count", task="multiclass", max_rows=None)
    assert multi.task == "multiclass"
    check_dataset(f"file:{path}", target="label")


def test_task_detection_from_values(tmp_path: Path) -> None:
    n = 40
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "few": rng.integers(0, 3, n), "many": np.arange(n)}
    )
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    assert load_dataset(f"file:{path}", target="few").task == "multiclass"
    assert load_dataset(f"file:{path}", target="many").task == "regression"  # > 20 integer values
    assert load_dataset(f"file:{path}", target="x").task == "regression"
    assert load_dataset(f"file:{path}", target="few", task="regression").task == "regression"


def test_file_errors(tmp_path: Path) -> None:
    frame = _toy_frame()
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{path}")
    assert "'target' not found" in _one_line(err) and "label" in str(err.value)
    with pytest.raises(DatasetError) as err:
        check_dataset(f"file:{path}")
    assert "label" in _one_line(err)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{tmp_path / 'nope.csv'}")
    assert "file not found" in _one_line(err)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{path}", target="label", task="ranking")
    assert "unknown task" in _one_line(err)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{path}", target="label", task="regression")
    assert "not numeric" in _one_line(err)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{path}", target="label", task="multiclass")
    assert "task='binary'" in _one_line(err)

    single = frame.assign(label="yes")
    single.to_csv(tmp_path / "single.csv", index=False)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{tmp_path / 'single.csv'}", target="label")
    assert "single class" in _one_line(err)

    empty_col = frame.assign(blank=np.nan)
    empty_col.to_csv(tmp_path / "blank.csv", index=False)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{tmp_path / 'blank.csv'}", target="label")
    assert "'blank'" in _one_line(err) and "entirely missing" in str(err.value)

    frame.head(5).to_csv(tmp_path / "tiny.csv", index=False)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"file:{tmp_path / 'tiny.csv'}", target="label")
    assert "rows" in _one_line(err)


def test_unknown_name_lists_valid_names(tmp_path: Path, no_download: None) -> None:
    pd.DataFrame({"x": range(20), "target": [0, 1] * 10}).to_csv(tmp_path / "mine.csv.gz")
    for call in (load_dataset, check_dataset):
        with pytest.raises(DatasetError) as err:
            call("no_such_data", data_dirs=[tmp_path])
        msg = _one_line(err)
        assert "no_such_data" in msg and "breast_cancer" in msg and "mine" in msg
        assert "openml:<id>" in msg
    check_dataset("mine", data_dirs=[tmp_path])
    assert load_dataset("mine", data_dirs=[tmp_path]).name == "mine"
    check_dataset("openml:987654", data_dirs=[tmp_path])  # not local: accepted, nothing fetched
    with pytest.raises(DatasetError):
        check_dataset("openml:abc", data_dirs=[tmp_path])


def test_catalog_lookup_and_sha_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, no_download: None
) -> None:
    frame = _toy_frame().rename(columns={"label": "target"})
    frame.to_csv(tmp_path / "toy.csv.gz", index=False)
    catalog = [
        {
            "name": "toyset",
            "file": "toy.csv.gz",
            "task": "binary",
            "openml_id": 77,
            "sha256": "0" * 64,
        }
    ]
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    with caplog.at_level(logging.WARNING, logger="autoterm.data.sources"):
        a = load_dataset("toyset", data_dirs=[tmp_path])
    assert any("sha256" in r.getMessage() for r in caplog.records)
    b = load_dataset("openml:77", data_dirs=[tmp_path])
    assert a.fingerprint == b.fingerprint and b.task == "binary"
    assert {r["name"] for r in list_datasets([tmp_path])} >= {"toyset"}


def test_max_rows_stratified_deterministic(shared: Path) -> None:
    full = load_dataset("adult")
    a = load_dataset("adult", max_rows=2000, seed=3)
    b = load_dataset("adult", max_rows=2000, seed=3)
    c = load_dataset("adult", max_rows=2000, seed=4)
    assert a.X.shape[0] == 2000 and a.fingerprint == b.fingerprint != c.fingerprint
    assert abs(a.y.mean() - full.y.mean()) < 0.002
    assert a.fingerprint != full.fingerprint


# ----------------------------------------------------------------------------------------------
# OpenML download (fetch_openml replaced by a fake; no network)


def _fake_bunch():
    from sklearn.utils import Bunch

    rng = np.random.default_rng(0)
    n = 50
    data = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
            "empty": np.full(n, np.nan),
        }
    )
    data.loc[3, "size"] = np.nan
    target = pd.Series(pd.Categorical(rng.choice(["neg", "pos"], size=n)), name="class")
    return Bunch(data=data, target=target, frame=None)


def test_openml_download_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn.datasets

    calls = []

    def fake_fetch(*, data_id, as_frame, data_home, **kwargs):
        calls.append((data_id, as_frame, data_home))
        return _fake_bunch()

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fake_fetch)
    first = load_dataset("openml:4242", data_dirs=[tmp_path])
    cache = tmp_path / "openml-4242.csv.gz"
    assert calls == [(4242, True, str(tmp_path / ".openml_cache"))]
    assert cache.is_file() and first.source == "openml download"
    assert not list(tmp_path.glob("*.tmp"))
    with gzip.open(cache, "rt") as fh:
        assert fh.readline().strip() == "size,kind,target"  # all-missing column dropped
    assert (first.name, first.slug, first.task) == ("openml:4242", "openml-4242", "binary")
    assert first.categorical == ["kind"] and first.X["size"].isna().sum() == 1

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", lambda **kw: pytest.fail("refetched"))
    second = load_dataset("openml:4242", data_dirs=[tmp_path])
    assert second.source == str(cache) and second.fingerprint == first.fingerprint
    rows = {r["name"]: r for r in list_datasets([tmp_path])}
    assert rows["openml:4242"]["source"] == "cache" and rows["openml:4242"]["openml_id"] == 4242


def test_openml_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    import sklearn.datasets

    def offline(**kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(DatasetError) as err:
        load_dataset("openml:31", data_dirs=[tmp_path])
    msg = _one_line(err)
    assert "could not download openml:31" in msg and "AUTOTERM_DATA_DIRS" in msg
    assert not list(tmp_path.glob("openml-31*"))


# ----------------------------------------------------------------------------------------------
# splits


def test_splits_classification() -> None:
    y = np.repeat([0, 1, 2], [100, 50, 25])
    a = make_splits(y, "multiclass", test_size=0.2, n_folds=5, seed=1)
    b = make_splits(y, "multiclass", test_size=0.2, n_folds=5, seed=1)
    c = make_splits(y, "multiclass", test_size=0.2, n_folds=5, seed=2)
    assert np.array_equal(a.train_idx, b.train_idx) and np.array_equal(a.test_idx, b.test_idx)
    assert all(
        np.array_equal(x[0], z[0]) and np.array_equal(x[1], z[1])
        for x, z in zip(a.folds, b.folds, strict=True)
    )
    assert not np.array_equal(a.test_idx, c.test_idx)
    assert (a.n_train, a.n_test, a.n_folds) == (140, 35, 5)
    assert np.intersect1d(a.train_idx, a.test_idx).size == 0
    assert np.array_equal(np.sort(np.concatenate([a.train_idx, a.test_idx])), np.arange(175))
    assert np.array_equal(np.bincount(y[a.test_idx]), [20, 10, 5])  # stratified
    valid = np.concatenate([va for _, va in a.folds])
    assert np.array_equal(np.sort(valid), np.arange(a.n_train))  # each position once
    y_train = y[a.train_idx]
    for tr, va in a.folds:
        assert np.intersect1d(tr, va).size == 0 and tr.size + va.size == a.n_train
        assert np.array_equal(np.bincount(y_train[va]), [16, 8, 4])


def test_splits_regression_and_errors() -> None:
    y = np.linspace(0, 1, 53)
    s = make_splits(y, "regression", n_folds=4, seed=0)
    assert s.n_test == 11 and s.n_train == 42 and not s.stratified
    assert np.array_equal(np.sort(np.concatenate([va for _, va in s.folds])), np.arange(42))
    with pytest.raises(DatasetError) as err:
        make_splits(y, "regression", n_folds=1)
    assert "n_folds" in _one_line(err)
    y_cls = np.array([0] * 100 + [1] * 10)
    with pytest.raises(DatasetError) as err:
        make_splits(y_cls, "binary", n_folds=10)
    assert "n_folds<=8" in _one_line(err)
    with pytest.raises(DatasetError):
        make_splits(y_cls, "ranking")


# ----------------------------------------------------------------------------------------------
# prepare


def _toy_dataset(tmp_path: Path) -> Dataset:
    frame = _toy_frame(n=120).rename(columns={"num": "num[0]", "count": "count<5"})
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    return load_dataset(f"file:{path}", target="label")


def test_prepare_onehot_and_standardized(tmp_path: Path) -> None:
    ds = _toy_dataset(tmp_path)
    splits = make_splits(ds.y, ds.task, n_folds=3, seed=0)
    for kind in ("onehot", "standardized"):
        data = prepare(ds, splits, kind)
        assert isinstance(data, PreparedData)
        assert (data.task, data.n_classes, data.preprocessing) == ("binary", 2, kind)
        p = len(data.feature_names)
        # 4 numeric + 1 missing indicator + 3 colours + missing colour
        assert p == 9 and "missingindicator_num(0)" in data.feature_names
        assert "color_nan" in data.feature_names and "countlt5" in data.feature_names
        assert not any(ch in n for n in data.feature_names for ch in "[]<")
        assert data.X_train.shape == (splits.n_train, p) and data.X_test.shape == (splits.n_test, p)
        assert data.X_train.dtype == np.float32
        assert np.array_equal(data.y_test, ds.y[splits.test_idx])
        for fold, (tr, va) in zip(data.folds, splits.folds, strict=True):
            assert fold.X_train.shape == (tr.size, p) and fold.X_valid.shape == (va.size, p)
            assert not np.isnan(fold.X_train).any() and not np.isnan(fold.X_valid).any()
            assert np.array_equal(fold.y_valid, ds.y[splits.train_idx[va]])
            numeric = fold.X_train[:, :4]
            if kind == "standardized":
                assert np.allclose(numeric.mean(axis=0), 0.0, atol=1e-5)
                assert np.allclose(numeric.std(axis=0), 1.0, atol=1e-4)
            else:
                assert not np.allclose(numeric.mean(axis=0), 0.0, atol=1e-3)


def test_prepare_native(tmp_path: Path) -> None:
    ds = _toy_dataset(tmp_path)
    splits = make_splits(ds.y, ds.task, n_folds=3, seed=0)
    data = prepare(ds, splits, "native")
    assert data.feature_names == ["num(0)", "countlt5", "color", "flag", "amount"]
    for block in [data.X_train, data.X_test, *(f.X_valid for f in data.folds)]:
        assert isinstance(block, pd.DataFrame) and list(block.columns) == data.feature_names
        assert isinstance(block["color"].dtype, pd.CategoricalDtype)
        assert list(block["color"].cat.categories) == ["blue", "green", "red"]
        assert block["num(0)"].dtype == np.float32
    assert data.X_train["num(0)"].isna().any()


def test_prepare_regression_keeps_units() -> None:
    ds = load_dataset("diabetes", data_dirs=[])
    splits = make_splits(ds.y, ds.task, n_folds=3, seed=0)
    data = prepare(ds, splits, "standardized")
    assert data.n_classes is None and np.array_equal(data.y_train, ds.y[splits.train_idx])
    with pytest.raises(DatasetError) as err:
        prepare(ds, splits, "pca")
    assert "native" in _one_line(err)


def test_prepare_adult_all_kinds(shared: Path) -> None:
    ds = load_dataset("adult")
    splits = make_splits(ds.y, ds.task, n_folds=10, seed=0)
    native = prepare(ds, splits, "native")
    assert native.X_train.shape == (splits.n_train, 13)
    assert isinstance(native.folds[0].X_train["workclass"].dtype, pd.CategoricalDtype)
    widths = set()
    for kind in ("onehot", "standardized"):
        data = prepare(ds, splits, kind)
        assert len(data.folds) == 10 and not np.isnan(data.X_test).any()
        assert data.X_train.shape[1] == len(data.feature_names) <= 5 + 8 * 32
        assert "workclass_nan" in data.feature_names
        widths.add(data.X_train.shape[1])
    assert len(widths) == 1
