"""Dataset sources: scikit-learn bundled sets, local data dirs, ``openml:<id>`` and ``file:<path>``.

Name resolution (:func:`load_dataset`, :func:`check_dataset`):

1. ``breast_cancer``, ``digits``, ``wine``, ``iris``, ``diabetes``: the scikit-learn bundled
   copies (``sklearn.datasets.load_*``, no network).
2. ``openml:<id>``: a ``catalog.json`` entry with that ``openml_id`` in any data dir, then a cache
   file ``openml-<id>.csv.gz`` in any data dir, else ``sklearn.datasets.fetch_openml`` and the
   result is cached as ``openml-<id>.csv.gz`` in the first writable data dir.
3. a plain name: a ``catalog.json`` entry of that name, or a file ``<name>.csv.gz``,
   ``<name>.csv`` or ``<name>.parquet`` in a data dir (dirs searched in order).
4. ``file:<path>``: a ``.csv``, ``.csv.gz`` or ``.parquet`` file.

Data dirs come from :func:`resolve_data_dirs`. Every file follows the contract of
``../shared/datasets/README.md``: one header row, the label in a column named ``target`` (the
``target`` argument), categorical features as plain strings, missing values as empty fields.

The task is detected from the target (see :func:`load_dataset`), the features are normalised
(strings become ``category`` columns, booleans integers, NaN kept) and a content fingerprint is
computed so that runs can record exactly which data they used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import autoterm

logger = logging.getLogger(__name__)

TASKS = ("binary", "multiclass", "regression")
"""Task names a :class:`Dataset` can carry."""

MAX_CLASSES_INTEGER_TARGET = 20
"""An integer-valued numeric target with at most this many distinct values is a class label."""

MIN_ROWS = 10
"""Fewest rows (with a target) a dataset may have."""

ENV_DATA_DIRS = "AUTOTERM_DATA_DIRS"
FILE_SUFFIXES = (".csv.gz", ".csv", ".parquet")

# name -> (loader function in sklearn.datasets, task, n_rows, n_features)
_BUNDLED: dict[str, tuple[str, str, int, int]] = {
    "breast_cancer": ("load_breast_cancer", "binary", 569, 30),
    "digits": ("load_digits", "multiclass", 1797, 64),
    "wine": ("load_wine", "multiclass", 178, 13),
    "iris": ("load_iris", "multiclass", 150, 4),
    "diabetes": ("load_diabetes", "regression", 442, 10),
}
_OPENML_RE = re.compile(r"^\s*openml\s*:\s*(\S+)\s*$", re.IGNORECASE)
_CACHE_RE = re.compile(r"^openml-(\d+)\.csv\.gz$")


class DatasetError(ValueError):
    """A dataset cannot be found, read or used; the message names the problem and the fix."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded tabular dataset, ready to be split and preprocessed.

    Attributes:
        name: canonical name: ``"breast_cancer"``, ``"openml:1590"``, ``"adult"`` or
            ``"file:/abs/x.csv"``.
        slug: filesystem-safe name (``"openml-1590"``, ``"x"`` for a file).
        X: features, ``(n, p)``; categorical columns have ``category`` dtype with the categories
            observed in the whole dataset (sorted strings), numeric columns are int or float,
            missing values are NaN.
        y: target, shape ``(n,)``: int64 class codes ``0..C-1`` for classification, float64 for
            regression.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        classes: original labels in code order (``classes[y[i]]`` is row i's label), ``None`` for
            regression.
        categorical: names of the categorical columns of ``X``.
        source: ``"sklearn"``, the path of the file read, or ``"openml download"``.
        fingerprint: sha256 hex digest of a canonical serialisation of ``X``, ``y`` and
            ``classes`` (identical across calls, processes and platforms for the same data).
    """

    name: str
    slug: str
    X: pd.DataFrame
    y: np.ndarray
    task: str
    classes: list | None
    categorical: list[str]
    source: str
    fingerprint: str

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of classes, ``None`` for regression."""
        return None if self.classes is None else len(self.classes)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, n_rows={self.n_rows}, "
            f"n_features={self.n_features}, n_categorical={len(self.categorical)}, "
            f"fingerprint={self.fingerprint[:12]!r})"
        )


# --------------------------------------------------------------------------------------------
# data dirs and catalogs


def project_data_dir() -> Path:
    """The project's own ``datasets/`` folder (next to the ``autoterm`` package), last data dir."""
    return Path(autoterm.__file__).resolve().parents[1] / "datasets"


def resolve_data_dirs(extra: Sequence[str | Path] | None = None) -> list[Path]:
    """The ordered list of data dirs searched for local datasets.

    Order: ``extra`` (e.g. a Hydra option), then the ``AUTOTERM_DATA_DIRS`` environment variable
    (``os.pathsep``-separated), then always last the project's ``datasets/`` folder. Paths are made
    absolute (relative ones against the current directory) and deduplicated; dirs that do not
    exist are kept (they are skipped when searching).

    Args:
        extra: dirs to search first.

    Returns:
        Absolute paths, first match wins.
    """
    raw: list[str | Path] = list(extra or [])
    raw += [p for p in os.environ.get(ENV_DATA_DIRS, "").split(os.pathsep) if p.strip()]
    raw.append(project_data_dir())
    dirs: list[Path] = []
    for entry in raw:
        path = Path(os.path.expanduser(str(entry).strip())).resolve()
        if path not in dirs:
            dirs.append(path)
    return dirs


def _dirs(data_dirs: Sequence[str | Path] | None) -> list[Path]:
    if data_dirs is None:
        return resolve_data_dirs()
    return [Path(os.path.expanduser(str(d))).resolve() for d in data_dirs]


def _read_catalog(directory: Path) -> list[dict[str, Any]]:
    """Entries of ``directory/catalog.json`` (empty if absent; a broken file is logged)."""
    path = directory / "catalog.json"
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable catalog %s: %s", path, exc)
        return []
    if not isinstance(entries, list):
        logger.warning("ignoring catalog %s: expected a JSON list of datasets", path)
        return []
    return [e for e in entries if isinstance(e, dict) and "name" in e and "file" in e]


def _local_files(directory: Path) -> dict[str, Path]:
    """Data files in ``directory`` by name (file name minus its suffix)."""
    found: dict[str, Path] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        for suffix in FILE_SUFFIXES:
            if path.name.endswith(suffix) and path.is_file():
                found.setdefault(path.name[: -len(suffix)], path)
                break
    return found


@dataclass(frozen=True)
class _Located:
    """Where a name resolved to."""

    kind: str  # "bundled" | "file" | "download"
    name: str
    slug: str
    path: Path | None = None
    entry: dict[str, Any] | None = None
    openml_id: int | None = None


def _slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug or "dataset"


def _strip_suffix(path: Path) -> str:
    for suffix in FILE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def _parse_openml_id(name: str) -> int | None:
    match = _OPENML_RE.match(name)
    if match is None:
        return None
    text = match.group(1)
    if not text.isdigit() or int(text) <= 0:
        raise DatasetError(
            f"invalid OpenML id in {name!r}; write openml:<positive integer>, e.g. openml:1590"
        )
    return int(text)


def _locate(name: str, dirs: list[Path]) -> _Located:
    """Resolve ``name`` without reading any data (raises :class:`DatasetError` if unknown)."""
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(f"empty dataset name {name!r}; {_valid_names_hint(dirs)}")
    name = name.strip()
    if name in _BUNDLED:
        return _Located("bundled", name, name)

    if name.lower().startswith("file:"):
        path = Path(os.path.expanduser(name[5:].strip())).resolve()
        if not any(path.name.endswith(s) for s in FILE_SUFFIXES):
            raise DatasetError(
                f"unsupported file type for {name!r}; use a .csv, .csv.gz or .parquet file"
            )
        if not path.is_file():
            raise DatasetError(f"file not found: {path}; check the path after 'file:'")
        return _Located("file", f"file:{path}", _slugify(_strip_suffix(path)), path=path)

    openml_id = _parse_openml_id(name)
    if openml_id is not None:
        canonical, slug = f"openml:{openml_id}", f"openml-{openml_id}"
        for directory in dirs:
            for entry in _read_catalog(directory):
                if entry.get("openml_id") == openml_id:
                    path = directory / str(entry["file"])
                    if path.is_file():
                        logger.info(
                            "%s: using local copy %s (catalog entry %r; it may differ from "
                            "OpenML, see the catalog's README)",
                            canonical,
                            path,
                            entry["name"],
                        )
                        return _Located("file", canonical, slug, path, entry, openml_id)
                    logger.warning(
                        "catalog entry %r points to missing file %s", entry["name"], path
                    )
        for directory in dirs:
            path = directory / f"{slug}.csv.gz"
            if path.is_file():
                return _Located("file", canonical, slug, path, None, openml_id)
        return _Located("download", canonical, slug, None, None, openml_id)

    for directory in dirs:
        for entry in _read_catalog(directory):
            if entry["name"] == name:
                path = directory / str(entry["file"])
                if path.is_file():
                    oid = entry.get("openml_id")
                    return _Located("file", name, _slugify(name), path, entry, oid)
                logger.warning("catalog entry %r points to missing file %s", name, path)
        path = _local_files(directory).get(name)
        if path is not None:
            return _Located("file", name, _slugify(name), path)

    hint = ""
    if "/" in name or os.sep in name or any(name.endswith(s) for s in FILE_SUFFIXES):
        hint = f" (for a file path write 'file:{name}')"
    raise DatasetError(f"unknown dataset {name!r}{hint}; {_valid_names_hint(dirs)}")


def _valid_names_hint(dirs: list[Path]) -> str:
    names = [d["name"] for d in list_datasets(dirs)]
    searched = ", ".join(str(d) for d in dirs)
    return (
        f"valid names: {', '.join(names)}, openml:<id> or file:<path> "
        f"(data dirs searched: {searched}; add dirs with {ENV_DATA_DIRS})"
    )


def list_datasets(data_dirs: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """Every dataset name that resolves offline, without reading any data.

    Args:
        data_dirs: dirs to search (default :func:`resolve_data_dirs`).

    Returns:
        One dict per name (first occurrence wins) with keys ``name``, ``source`` (``"bundled"``,
        the data dir, or ``"cache"`` for a downloaded ``openml-<id>.csv.gz``), ``task``,
        ``n_rows``, ``n_features``, ``n_categorical`` and ``openml_id``; figures not known
        without reading a loose file are ``None``.
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(row: dict[str, Any]) -> None:
        if row["name"] not in seen:
            seen.add(row["name"])
            rows.append(row)

    for name, (_, task, n_rows, n_features) in _BUNDLED.items():
        add(
            dict(
                name=name,
                source="bundled",
                task=task,
                n_rows=n_rows,
                n_features=n_features,
                n_categorical=0,
                openml_id=None,
            )
        )
    for directory in _dirs(data_dirs):
        catalogued: set[str] = set()
        for entry in _read_catalog(directory):
            catalogued.add(str(entry["file"]))
            add(
                dict(
                    name=str(entry["name"]),
                    source=str(directory),
                    task=entry.get("task"),
                    n_rows=entry.get("n_rows"),
                    n_features=entry.get("n_features"),
                    n_categorical=entry.get("n_categorical"),
                    openml_id=entry.get("openml_id"),
                )
            )
        for stem, path in _local_files(directory).items():
            if path.name in catalogued:
                continue
            match = _CACHE_RE.match(path.name)
            if match:
                add(
                    dict(
                        name=f"openml:{int(match.group(1))}",
                        source="cache",
                        task=None,
                        n_rows=None,
                        n_features=None,
                        n_categorical=None,
                        openml_id=int(match.group(1)),
                    )
                )
            else:
                add(
                    dict(
                        name=stem,
                        source=str(directory),
                        task=None,
                        n_rows=None,
                        n_features=None,
                        n_categorical=None,
                        openml_id=None,
                    )
                )
    return rows


# --------------------------------------------------------------------------------------------
# reading


def _check_text(path: Path) -> None:
    """Refuse a ``.csv``/``.csv.gz`` whose first bytes are binary (pandas would parse garbage)."""
    if path.name.endswith(".parquet"):
        return
    try:
        if path.name.endswith(".gz"):
            import gzip

            with gzip.open(path, "rb") as fh:
                head = fh.read(1 << 16)
        else:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
    except (OSError, EOFError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise DatasetError(
            f"could not read {path} ({type(exc).__name__}: {msg}); check that the file is "
            "readable and a valid csv/csv.gz/parquet file"
        ) from exc
    if b"\0" in head:
        raise DatasetError(
            f"{path} is not a text CSV file (it holds binary data); check the path, or convert "
            "the data to csv/csv.gz/parquet"
        )


def _read_table(path: Path) -> pd.DataFrame:
    _check_text(path)
    try:
        if path.name.endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many types
        msg = " ".join(str(exc).split())[:200]
        raise DatasetError(
            f"could not read {path} ({type(exc).__name__}: {msg}); check that it is a valid "
            "csv/csv.gz/parquet file with one header row"
        ) from exc


def _read_columns(path: Path) -> list[str]:
    """Column names of a data file, reading only its header/schema."""
    _check_text(path)
    try:
        if path.name.endswith(".parquet"):
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(path).names if c != "__index_level_0__"]
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except Exception as exc:
        msg = " ".join(str(exc).split())[:200]
        raise DatasetError(f"could not read the header of {path} ({msg}); check the file") from exc


def _verify_sha256(path: Path, entry: dict[str, Any] | None) -> None:
    expected = (entry or {}).get("sha256")
    if not expected:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        logger.warning(
            "sha256 of %s is %s but its catalog says %s; the file changed since it was "
            "catalogued (results may not be comparable)",
            path,
            digest,
            expected,
        )


def _split_target(frame: pd.DataFrame, target: str, where: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = frame.rename(columns=lambda c: str(c))
    if target not in frame.columns:
        cols = ", ".join(map(str, frame.columns[:30])) + (" ..." if frame.shape[1] > 30 else "")
        raise DatasetError(
            f"target column {target!r} not found in {where}; pass dataset.target=<one of: {cols}>"
        )
    return frame.drop(columns=[target]), frame[target]


def _load_bundled(name: str) -> tuple[pd.DataFrame, pd.Series, list | None]:
    from sklearn import datasets as skd

    bunch = getattr(skd, _BUNDLED[name][0])(as_frame=True)
    X = bunch.data.copy()
    y = pd.Series(bunch.target, name="target")
    names = getattr(bunch, "target_names", None)
    class_names = [str(c) for c in names] if _BUNDLED[name][1] != "regression" else None
    return X, y, class_names


# --------------------------------------------------------------------------------------------
# OpenML download and cache


def _writable_dir(dirs: list[Path]) -> Path:
    """First existing writable data dir, else the project's ``datasets/`` (created)."""
    for directory in dirs:
        if directory.is_dir() and os.access(directory, os.W_OK | os.X_OK):
            return directory
    fallback = project_data_dir()
    try:
        fallback.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"no writable data dir to cache a download ({exc}); add one to {ENV_DATA_DIRS}"
        ) from exc
    return fallback


def _frame_for_file(X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """``X`` plus a last ``target`` column, categoricals as plain strings (the file contract)."""
    X = X.rename(columns=lambda c: str(c)).copy()
    if "target" in X.columns:
        logger.warning("renaming feature column 'target' to 'target_feature'")
        X = X.rename(columns={"target": "target_feature"})
    empty = [c for c in X.columns if X[c].isna().all()]
    if empty:
        logger.warning("dropping all-missing column(s) %s from the download", empty)
        X = X.drop(columns=empty)
    for col in X.columns:
        s = X[col]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            X[col] = s.astype(object).map(str, na_action="ignore")
    if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        y = y.astype(object).map(str, na_action="ignore")
    X["target"] = y.to_numpy()
    return X


def _write_csv_gz_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as gzip CSV (no gzip timestamp) via a temp file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.to_csv(
            tmp, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0}
        )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download_openml(openml_id: int, dirs: list[Path]) -> Path:
    """Fetch OpenML dataset ``openml_id`` and cache it as ``openml-<id>.csv.gz``.

    Uses ``sklearn.datasets.fetch_openml(data_id=..., as_frame=True)`` with the dataset's default
    target (https://scikit-learn.org/stable/modules/generated/sklearn.datasets.fetch_openml.html).
    """
    from sklearn import datasets as skd

    directory = _writable_dir(dirs)
    logger.info("downloading openml:%d into %s", openml_id, directory)
    try:
        bunch = skd.fetch_openml(
            data_id=openml_id, as_frame=True, data_home=str(directory / ".openml_cache")
        )
    except Exception as exc:  # URLError, HTTPError, OpenMLError, ...
        msg = " ".join(str(exc).split())[:200]
        raise DatasetError(
            f"could not download openml:{openml_id} ({type(exc).__name__}: {msg}); put a copy "
            f"in a data dir ({ENV_DATA_DIRS}) as openml-{openml_id}.csv.gz or list it in its "
            "catalog.json, or use file:<path>"
        ) from exc
    y = bunch.target
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DatasetError(
                f"openml:{openml_id} has {y.shape[1]} target columns; save one as a file with a "
                "'target' column and load it with file:<path>"
            )
        y = y.iloc[:, 0]
    if y is None:
        raise DatasetError(
            f"openml:{openml_id} has no default target; save it as a file with a 'target' "
            "column and load it with file:<path>"
        )
    frame = _frame_for_file(pd.DataFrame(bunch.data), pd.Series(y))
    path = directory / f"openml-{openml_id}.csv.gz"
    try:
        _write_csv_gz_atomic(frame, path)
    except OSError as exc:
        raise DatasetError(
            f"could not write the cache file {path} ({exc}); make a data dir writable"
        ) from exc
    logger.info("cached openml:%d as %s (%d rows)", openml_id, path, len(frame))
    return path


# --------------------------------------------------------------------------------------------
# normalisation, task detection, fingerprint


def _is_categorical_like(dtype: Any) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype)


def _infer_task(y: pd.Series) -> str:
    """``"classification"`` or ``"regression"`` from the target's type and values."""
    if pd.api.types.is_bool_dtype(y.dtype) or _is_categorical_like(y.dtype):
        return "classification"
    values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    integral = bool(np.all(np.isfinite(values)) and np.all(np.mod(values, 1.0) == 0.0))
    if integral and np.unique(values).size <= MAX_CLASSES_INTEGER_TARGET:
        return "classification"
    return "regression"


def _check_task(task: str | None, y: pd.Series, target: str) -> str:
    """The requested or detected task kind.

    Returns ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"classification"`` (binary vs
    multiclass is decided from the number of classes after encoding).
    """
    if task is None:
        return _infer_task(y)
    if task not in (*TASKS, "classification"):
        raise DatasetError(
            f"unknown task {task!r}; use one of {', '.join(TASKS)}, classification, "
            "or omit task to detect it from the target"
        )
    if task == "regression":
        if _is_categorical_like(y.dtype):
            example = y.dropna().iloc[0] if y.notna().any() else None
            raise DatasetError(
                f"target {target!r} is not numeric (dtype {y.dtype}, e.g. {example!r}) so it "
                "cannot be a regression target; use task='binary'/'multiclass' or omit task"
            )
    return task


def _encode_target(y: pd.Series, class_names: list | None) -> tuple[np.ndarray, list]:
    """Class codes ``(n,)`` int64 and the labels in code order."""
    if isinstance(y.dtype, pd.CategoricalDtype):
        y = y.cat.remove_unused_categories()
        codes = y.cat.codes.to_numpy().astype(np.int64)
        labels = list(y.cat.categories)
    else:
        values = y.to_numpy()
        if pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype):
            values = values.astype(np.float64)
            uniq, codes = np.unique(values, return_inverse=True)
            labels = [int(u) if float(u).is_integer() else float(u) for u in uniq]
        elif pd.api.types.is_bool_dtype(y.dtype):
            uniq, codes = np.unique(values.astype(bool), return_inverse=True)
            labels = [bool(u) for u in uniq]
        else:
            strs = np.asarray([str(v) for v in values], dtype=object)
            uniq, codes = np.unique(strs, return_inverse=True)
            labels = [str(u) for u in uniq]
    if class_names is not None and labels == list(range(len(class_names))):
        labels = list(class_names)
    labels = [v.item() if isinstance(v, np.generic) else v for v in labels]
    return np.asarray(codes, dtype=np.int64).reshape(-1), labels


def _normalise_features(X: pd.DataFrame, where: str) -> tuple[pd.DataFrame, list[str]]:
    """Strings/objects -> ``category`` (sorted string categories), bool -> int, NaN kept."""
    if X.shape[1] == 0:
        raise DatasetError(f"{where} has no feature columns; add features besides the target")
    X = X.rename(columns=lambda c: str(c))
    if X.columns.duplicated().any():
        dup = sorted(set(X.columns[X.columns.duplicated()]))
        raise DatasetError(f"duplicate column names {dup} in {where}; rename them")
    out: dict[str, pd.Series] = {}
    categorical: list[str] = []
    for col in X.columns:
        s = X[col]
        dtype = s.dtype
        if s.isna().all():
            raise DatasetError(
                f"feature column {col!r} of {where} is entirely missing; drop it from the data"
            )
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise DatasetError(
                f"feature column {col!r} of {where} has dtype {dtype}; convert it to numbers "
                "or strings in the data"
            )
        if pd.api.types.is_bool_dtype(dtype):
            arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
            out[col] = pd.Series(
                arr if np.isnan(arr).any() else arr.astype(np.int64), index=s.index
            )
        elif _is_categorical_like(dtype):
            out[col] = s.astype(object).map(str, na_action="ignore").astype("category")
            categorical.append(col)
        elif pd.api.types.is_extension_array_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
            if pd.api.types.is_complex_dtype(dtype):
                raise DatasetError(f"feature column {col!r} of {where} is complex; use reals")
            arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
            integral = pd.api.types.is_integer_dtype(dtype) and not np.isnan(arr).any()
            out[col] = pd.Series(arr.astype(np.int64) if integral else arr, index=s.index)
        else:
            out[col] = s
    frame = pd.DataFrame(out, index=X.index)
    return frame, categorical


def dataset_fingerprint(X: pd.DataFrame, y: np.ndarray, classes: list | None = None) -> str:
    """sha256 hex digest of a canonical serialisation of the data.

    Each column contributes its name and kind; a categorical column its categories (as strings,
    JSON) and int32 little-endian codes (-1 for missing); a numeric column its float64
    little-endian values with every NaN written as the same bit pattern. The target contributes
    its dtype kind, its little-endian values and ``classes``. Independent of the row index,
    pandas version and process.

    Args:
        X: features, ``(n, p)``.
        y: target, ``(n,)``.
        classes: class labels in code order, or ``None``.
    """
    h = hashlib.sha256()
    h.update(json.dumps({"shape": list(X.shape), "columns": list(map(str, X.columns))}).encode())
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            h.update(b"C" + json.dumps([str(c) for c in s.cat.categories]).encode())
            h.update(s.cat.codes.to_numpy().astype("<i4").tobytes())
        else:
            arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
            arr = np.where(np.isnan(arr), np.nan, arr).astype("<f8")
            h.update(b"N" + arr.tobytes())
    y = np.asarray(y)
    if y.dtype.kind == "f":
        h.update(b"Yf" + np.ascontiguousarray(y, dtype="<f8").tobytes())
    else:
        h.update(b"Yi" + np.ascontiguousarray(y, dtype="<i8").tobytes())
    h.update(json.dumps(None if classes is None else [str(c) for c in classes]).encode())
    return h.hexdigest()


def _subsample(n: int, labels: np.ndarray | None, max_rows: int, seed: int) -> np.ndarray:
    """Sorted positions ``(max_rows,)`` of a deterministic subsample (stratified if ``labels``)."""
    if labels is not None:
        from sklearn.model_selection import train_test_split

        try:
            keep, _ = train_test_split(
                np.arange(n), train_size=max_rows, stratify=labels, random_state=seed
            )
            return np.sort(keep)
        except ValueError as exc:
            logger.warning("stratified subsample impossible (%s); drawing it at random", exc)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def _build(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    located: _Located,
    source: str,
    target: str,
    task: str | None,
    max_rows: int | None,
    seed: int,
    class_names: list | None = None,
) -> Dataset:
    where = located.name
    X = X.reset_index(drop=True)
    y = pd.Series(y).reset_index(drop=True)
    missing = y.isna().to_numpy()
    if missing.all():
        raise DatasetError(f"target {target!r} of {where} is entirely missing; fix the target")
    if missing.any():
        logger.warning("%s: dropping %d rows with a missing target", where, int(missing.sum()))
        X, y = X.loc[~missing].reset_index(drop=True), y.loc[~missing].reset_index(drop=True)
    if task is None and located.entry is not None and located.entry.get("task") in TASKS:
        task = str(located.entry["task"])
    kind = _check_task(task, y, target)

    if max_rows is not None:
        if int(max_rows) < MIN_ROWS:
            raise DatasetError(f"max_rows={max_rows} is too small; use at least {MIN_ROWS}")
        if len(y) > max_rows:
            labels = None
            if kind != "regression":
                labels = pd.factorize(y.astype(object).map(str), sort=True)[0]
            keep = _subsample(len(y), labels, int(max_rows), seed)
            X, y = X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
    if len(y) < MIN_ROWS:
        raise DatasetError(
            f"{where} has only {len(y)} rows with a target; at least {MIN_ROWS} are needed"
        )

    Xn, categorical = _normalise_features(X, where)
    if kind == "regression":
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isfinite(values)):
            raise DatasetError(f"target {target!r} of {where} has infinite values; fix the target")
        y_arr, classes, final = values, None, "regression"
    else:
        y_arr, classes = _encode_target(y, class_names)
        n_classes = len(classes)
        if n_classes < 2:
            raise DatasetError(
                f"target {target!r} of {where} has a single class {classes[0]!r}; a classifier "
                "needs at least 2 (check the target column, or raise max_rows)"
            )
        auto = "binary" if n_classes == 2 else "multiclass"
        if kind in ("binary", "multiclass") and kind != auto:
            raise DatasetError(
                f"task={kind!r} but target {target!r} of {where} has {n_classes} classes; "
                f"use task={auto!r} or omit task"
            )
        final = auto
    return Dataset(
        name=located.name,
        slug=located.slug,
        X=Xn,
        y=y_arr,
        task=final,
        classes=classes,
        categorical=categorical,
        source=source,
        fingerprint=dataset_fingerprint(Xn, y_arr, classes),
    )


# --------------------------------------------------------------------------------------------
# public API


def load_dataset(
    name: str,
    *,
    data_dirs: Sequence[str | Path] | None = None,
    target: str = "target",
    task: str | None = None,
    max_rows: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load a dataset by name (see the module docstring for how names resolve).

    Task detection (unless ``task`` is given, or a catalog entry states it): a string, boolean or
    categorical target is a class label; a numeric target whose values are all integers with at
    most 20 distinct values is a class label; any other numeric target is regression. Two
    classes make ``"binary"``, more ``"multiclass"``. Rows with a missing target are dropped.

    Args:
        name: ``"breast_cancer"``, ``"openml:1590"``, ``"adult"``, ``"file:/path/x.csv"``, ...
        data_dirs: dirs to search, in order (default :func:`resolve_data_dirs`); a download is
            cached in the first writable one.
        target: name of the target column in a data file.
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"classification"`` (binary or
            multiclass from the number of classes) to override detection.
        max_rows: keep at most this many rows: a deterministic subsample, stratified by class for
            classification (``train_test_split(train_size=max_rows, stratify=y)``), in the
            original row order.
        seed: seed of the subsample.

    Returns:
        The dataset.

    Raises:
        DatasetError: the name does not resolve, the file cannot be read, the download fails, or
            the data cannot be used (see the message for the fix).
    """
    dirs = _dirs(data_dirs)
    located = _locate(name, dirs)
    kwargs = dict(located=located, target=target, task=task, max_rows=max_rows, seed=seed)
    if located.kind == "bundled":
        X, y, class_names = _load_bundled(located.name)
        return _build(X, y, source="sklearn", class_names=class_names, **kwargs)
    source = None
    if located.kind == "download":
        path = _download_openml(int(located.openml_id), dirs)  # type: ignore[arg-type]
        source = "openml download"
    else:
        path = located.path
        assert path is not None
        _verify_sha256(path, located.entry)
    frame = _read_table(path)
    X, y = _split_target(frame, target, str(path))
    return _build(X, y, source=source or str(path), **kwargs)


def check_dataset(
    name: str, *, data_dirs: Sequence[str | Path] | None = None, target: str = "target"
) -> None:
    """Check quickly that ``name`` resolves, without loading or downloading data.

    Reads only a local file's header to check that ``target`` is a column. An ``openml:<id>``
    without a local copy is accepted (loading will try a download).

    Args:
        name: dataset name as for :func:`load_dataset`.
        data_dirs: dirs to search (default :func:`resolve_data_dirs`).
        target: name of the target column in a data file.

    Raises:
        DatasetError: with the list of valid names when ``name`` does not resolve, or the
            available columns when ``target`` is not one of them.
    """
    dirs = _dirs(data_dirs)
    located = _locate(name, dirs)
    if located.kind == "file" and located.path is not None:
        columns = _read_columns(located.path)
        if target not in columns:
            cols = ", ".join(columns[:30]) + (" ..." if len(columns) > 30 else "")
            raise DatasetError(
                f"target column {target!r} not found in {located.path}; "
                f"pass dataset.target=<one of: {cols}>"
            )
