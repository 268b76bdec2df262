"""Datasets: sources (bundled, local data dirs, OpenML with a cache, files), splits, preprocessing.

Typical use::

    ds = load_dataset("openml:1590")                 # local copy if any data dir has one
    splits = make_splits(ds.y, ds.task, n_folds=10, seed=0)
    data = prepare(ds, splits, "onehot")              # -> PreparedData for an objective
"""

from autoterm.data.prepare import PREPROCESSINGS, Fold, PreparedData, prepare
from autoterm.data.sources import (
    Dataset,
    DatasetError,
    check_dataset,
    list_datasets,
    load_dataset,
    resolve_data_dirs,
)
from autoterm.data.splits import Splits, make_splits

__all__ = [
    "PREPROCESSINGS",
    "Dataset",
    "DatasetError",
    "Fold",
    "PreparedData",
    "Splits",
    "check_dataset",
    "list_datasets",
    "load_dataset",
    "make_splits",
    "prepare",
    "resolve_data_dirs",
]
