"""Model-ready arrays for one run: per-fold train/valid blocks and the train/test blocks.

:func:`prepare` fits the feature preprocessing on each fold's training rows only and applies it
to the fold's valid rows, then fits it once on the whole training part for the train/test
blocks, so no statistic of held-out rows leaks into a model's inputs. The encoders are
scikit-learn's ``ColumnTransformer``, ``SimpleImputer``, ``MissingIndicator``, ``OneHotEncoder``
and ``StandardScaler`` (https://scikit-learn.org/stable/modules/preprocessing.html,
https://scikit-learn.org/stable/modules/impute.html).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoterm.data.sources import DatasetError

if TYPE_CHECKING:
    from autoterm.data.sources import Dataset
    from autoterm.data.splits import Splits

logger = logging.getLogger(__name__)

PREPROCESSINGS = ("native", "onehot", "standardized")
"""Feature encodings :func:`prepare` knows (an objective's ``preprocessing`` attribute)."""

MAX_CATEGORIES = 32
"""Cap on one-hot columns per categorical feature; rarer categories share one column."""


@dataclass
class Fold:
    """One CV fold, already preprocessed (preprocessing fit on ``X_train`` only).

    Attributes:
        X_train: features of the fold's training rows (``np.ndarray`` float32 of shape
            ``(n_tr, p)``, or a ``pandas.DataFrame`` with ``category`` columns for
            ``preprocessing="native"``).
        y_train: targets, shape ``(n_tr,)`` (int class codes ``0..C-1`` or float).
        X_valid: features of the held-out fold, ``(n_va, p)``.
        y_valid: targets, shape ``(n_va,)``.
    """

    X_train: Any
    y_train: np.ndarray
    X_valid: Any
    y_valid: np.ndarray


@dataclass
class PreparedData:
    """Everything an objective needs for one run.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        n_classes: number of classes (``None`` for regression).
        folds: the k folds.
        X_train, y_train: the whole training part (all folds), preprocessed on itself.
        X_test, y_test: the held-out test split, preprocessed with the training part's fit.
        feature_names: names of the encoded columns (of ``X_train``/``X_test``; the folds
            have the same columns).
        preprocessing: the encoding used (one of :data:`PREPROCESSINGS`).
        classes: original class labels in code order (``None`` for regression).
    """

    task: str
    n_classes: int | None
    folds: list[Fold]
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    feature_names: list[str]
    preprocessing: str = ""
    classes: list | None = None


def sanitize_feature_names(names: list[str]) -> list[str]:
    """Column names XGBoost accepts: ``[``, ``]`` -> ``(``, ``)``, ``<`` -> ``lt``; unique.

    Args:
        names: original names.

    Returns:
        New names, same length and order, deduplicated with ``_1``, ``_2``, ... suffixes.
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        clean = re.sub(r"<", "lt", str(name).replace("[", "(").replace("]", ")"))
        candidate, k = clean, 0
        while candidate in seen:
            k += 1
            candidate = f"{clean}_{k}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _native_frame(X: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as float32, categoricals unchanged (categories of the whole dataset)."""
    cols = {}
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cols[col] = s
        else:
            cols[col] = s.to_numpy(dtype=np.float32, na_value=np.nan)
    frame = pd.DataFrame(cols, index=X.index)
    frame.columns = sanitize_feature_names(list(frame.columns))
    return frame


class _Encoder:
    """Fold-wise dense encoder for ``"onehot"``/``"standardized"``.

    Numeric columns are median-imputed (and standardised for ``"standardized"``); a 0/1
    missing-indicator column is added for each numeric column that has a NaN anywhere in the
    dataset (decided once so that all folds have the same columns; indicator values need no
    fitting); categoricals are one-hot encoded with missing as its own category, at most
    :data:`MAX_CATEGORIES` columns per feature (the rarest grouped into one "infrequent"
    column), and categories unseen in the fit rows go to the infrequent column if there is one,
    else to all zeros. For speed the one-hot encoder sees the categorical columns as integer
    codes of the dataset-wide categories (``-1`` = missing); the output names use the labels.

    Args:
        dataset: the data; ``X`` is converted once to the encoder's input frame.
        standardize: standardise the numeric columns.
    """

    def __init__(self, dataset: Dataset, standardize: bool):
        X = dataset.X
        cats = set(dataset.categorical)
        self.num_cols = [c for c in X.columns if c not in cats]
        self.cat_cols = [c for c in X.columns if c in cats]
        self.nan_cols = [c for c in self.num_cols if X[c].isna().any()]
        self.standardize = standardize
        # encoder input: numeric columns then categorical codes, one float64 block (n, p)
        blocks = [X[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in self.num_cols]
        blocks += [X[c].cat.codes.to_numpy().astype(np.float64) for c in self.cat_cols]
        self.matrix = np.column_stack(blocks) if blocks else np.zeros((len(X), 0))
        self.cat_labels = [list(map(str, X[c].cat.categories)) for c in self.cat_cols]

    def build(self) -> Any:
        """A fresh unfitted ``ColumnTransformer`` over the columns of ``self.matrix``."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import MissingIndicator, SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        n_num = len(self.num_cols)
        transformers = []
        if self.num_cols:
            imputer = SimpleImputer(strategy="median", keep_empty_features=True)
            num = make_pipeline(imputer, StandardScaler()) if self.standardize else imputer
            transformers.append(("num", num, list(range(n_num))))
        if self.nan_cols:
            idx = [self.num_cols.index(c) for c in self.nan_cols]
            transformers.append(("nan", MissingIndicator(features="all"), idx))
        if self.cat_cols:
            onehot = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=MAX_CATEGORIES,
                sparse_output=False,
                dtype=np.float32,
            )
            transformers.append(("cat", onehot, list(range(n_num, n_num + len(self.cat_cols)))))
        return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)

    def _names(self, enc: Any, width: int) -> list[str]:
        """Output column names of a fitted encoder (labels, not codes, for one-hot columns)."""
        names = list(self.num_cols) + [f"missingindicator_{c}" for c in self.nan_cols]
        if self.cat_cols:
            onehot = enc.named_transformers_["cat"]
            infrequent = getattr(onehot, "infrequent_categories_", [None] * len(self.cat_cols))
            for col, labels, cats, rare in zip(
                self.cat_cols, self.cat_labels, onehot.categories_, infrequent, strict=True
            ):
                rare_set = set() if rare is None else {float(r) for r in rare}
                for code in cats:
                    if float(code) not in rare_set:
                        label = "nan" if code < 0 else labels[int(code)]
                        names.append(f"{col}_{label}")
                if rare_set:
                    names.append(f"{col}_infrequent")
        if len(names) != width:  # defensive: never mislabel columns
            logger.warning("could not name the encoded columns; using f0..f%d", width - 1)
            names = [f"f{i}" for i in range(width)]
        return sanitize_feature_names(names)

    def fit_apply(
        self, train_rows: np.ndarray, other_rows: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
        """Fit on the rows ``train_rows`` of the dataset and transform them and ``other_rows``.

        Args:
            train_rows: dataset row indices to fit on, shape ``(n_fit,)``.
            other_rows: further row index arrays to transform.

        Returns:
            float32 arrays ``(n_fit, q)`` and ``(n_i, q)`` per ``other_rows``, and the ``q``
            output column names.
        """
        enc = self.build()
        out = np.ascontiguousarray(enc.fit_transform(self.matrix[train_rows]), dtype=np.float32)
        rest = [
            np.ascontiguousarray(enc.transform(self.matrix[r]), dtype=np.float32)
            for r in other_rows
        ]
        return out, rest, self._names(enc, out.shape[1])


def prepare(dataset: Dataset, splits: Splits, preprocessing: str) -> PreparedData:
    """Preprocess a dataset for one run: k folds and the train/test blocks.

    Each fold's encoder is fit on the fold's training rows only and applied to its valid rows;
    the train/test encoder is fit on the whole training part. Targets are passed through
    unchanged (class codes, or regression targets in their original units).

    Kinds:

    - ``"native"`` (XGBoost with ``enable_categorical=True``): ``pandas.DataFrame`` blocks,
      numeric columns float32 with NaN kept, categoricals as ``category`` with the categories of
      the whole dataset (codes agree across folds), names sanitised for XGBoost.
    - ``"onehot"`` (random forest): float32 arrays; numeric median-imputed plus a missing
      indicator for columns with NaN, categoricals one-hot (see :class:`_Encoder`).
    - ``"standardized"`` (MLP): as ``"onehot"``, with the numeric columns standardised by the
      mean/std of the fit rows.

    Args:
        dataset: the loaded data, ``X`` ``(n, p)``, ``y`` ``(n,)``.
        splits: indices into the dataset's rows (:func:`autoterm.data.splits.make_splits`).
        preprocessing: one of :data:`PREPROCESSINGS`.

    Returns:
        The prepared data; ``folds[i].X_train`` has ``len(splits.folds[i][0])`` rows, ``X_test``
        has ``splits.n_test`` rows, and all blocks share ``feature_names``.

    Raises:
        DatasetError: unknown ``preprocessing``, or splits that do not fit the dataset.
    """
    if preprocessing not in PREPROCESSINGS:
        raise DatasetError(
            f"unknown preprocessing {preprocessing!r}; use one of {', '.join(PREPROCESSINGS)}"
        )
    n = dataset.n_rows
    for label, idx in (("train_idx", splits.train_idx), ("test_idx", splits.test_idx)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DatasetError(
                f"splits.{label} indexes rows outside the {n} rows of {dataset.name}; make the "
                "splits from this dataset's y"
            )
    y_tr, y_te = dataset.y[splits.train_idx], dataset.y[splits.test_idx]

    folds: list[Fold] = []
    if preprocessing == "native":
        frame = _native_frame(dataset.X)
        X_tr = frame.iloc[splits.train_idx].reset_index(drop=True)
        X_te = frame.iloc[splits.test_idx].reset_index(drop=True)
        for tr, va in splits.folds:
            folds.append(
                Fold(
                    X_train=X_tr.iloc[tr].reset_index(drop=True),
                    y_train=y_tr[tr],
                    X_valid=X_tr.iloc[va].reset_index(drop=True),
                    y_valid=y_tr[va],
                )
            )
        names = list(frame.columns)
    else:
        encoder = _Encoder(dataset, standardize=preprocessing == "standardized")
        for tr, va in splits.folds:
            rows_tr, rows_va = splits.train_idx[tr], splits.train_idx[va]
            a, (b,), _ = encoder.fit_apply(rows_tr, [rows_va])
            folds.append(Fold(X_train=a, y_train=y_tr[tr], X_valid=b, y_valid=y_tr[va]))
        X_tr, (X_te,), names = encoder.fit_apply(splits.train_idx, [splits.test_idx])

    return PreparedData(
        task=dataset.task,
        n_classes=dataset.n_classes,
        folds=folds,
        X_train=X_tr,
        y_train=y_tr,
        X_test=X_te,
        y_test=y_te,
        feature_names=names,
        preprocessing=preprocessing,
        classes=None if dataset.classes is None else list(dataset.classes),
    )
