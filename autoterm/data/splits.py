"""Held-out test split plus k-fold cross-validation on the training part.

The test split is ``sklearn.model_selection.train_test_split`` (stratified for classification)
and the folds are ``KFold``/``StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)`` on
the training part (https://scikit-learn.org/stable/modules/cross_validation.html). Everything is
a pure function of ``(y, task, test_size, n_folds, seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoterm.data.sources import TASKS, DatasetError


@dataclass(frozen=True, eq=False)
class Splits:
    """Row indices of one run's train/test split and CV folds.

    Attributes:
        train_idx: sorted row indices of the training part, shape ``(n_train,)``.
        test_idx: sorted row indices of the held-out test split, shape ``(n_test,)``.
        folds: k pairs ``(train_rows, valid_rows)`` of sorted **positions into** ``train_idx``
            (values in ``0..n_train-1``); the ``valid_rows`` of the k folds partition
            ``range(n_train)``.
        seed: the seed the split was drawn with.
        test_size: fraction of rows in the test split.
        stratified: whether the split and folds preserve class proportions.
    """

    train_idx: np.ndarray
    test_idx: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int = 0
    test_size: float = 0.2
    stratified: bool = False

    @property
    def n_train(self) -> int:
        """Rows in the training part."""
        return int(self.train_idx.size)

    @property
    def n_test(self) -> int:
        """Rows in the test split."""
        return int(self.test_idx.size)

    @property
    def n_folds(self) -> int:
        """Number of CV folds."""
        return len(self.folds)

    def __repr__(self) -> str:
        return (
            f"Splits(n_train={self.n_train}, n_test={self.n_test}, n_folds={self.n_folds}, "
            f"seed={self.seed}, stratified={self.stratified})"
        )


def make_splits(
    y: np.ndarray, task: str, *, test_size: float = 0.2, n_folds: int = 10, seed: int = 0
) -> Splits:
    """Split rows into a training part and a test split, then k folds of the training part.

    Args:
        y: targets, shape ``(n,)`` (class codes for classification).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; classification splits are
            stratified.
        test_size: fraction of rows held out for the test split, in ``(0, 1)``.
        n_folds: number of CV folds on the training part, at least 2.
        seed: ``random_state`` of the split and the folds.

    Returns:
        The splits; the same arguments always give identical arrays.

    Raises:
        DatasetError: unknown task, bad ``test_size``/``n_folds``, or too few rows (per class)
            for the requested split and folds.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    if task not in TASKS:
        raise DatasetError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    if not 0.0 < float(test_size) < 1.0:
        raise DatasetError(f"test_size={test_size} must be a fraction in (0, 1), e.g. 0.2")
    if int(n_folds) != n_folds or n_folds < 2:
        raise DatasetError(f"n_folds={n_folds} is invalid; use an integer of at least 2 (e.g. 10)")
    n_folds = int(n_folds)
    y = np.asarray(y).reshape(-1)
    n = y.size
    stratified = task != "regression"
    rows = np.arange(n)

    if stratified:
        classes, counts = np.unique(y, return_counts=True)
        if classes.size < 2:
            raise DatasetError("the target has a single class; a classifier needs at least 2")
        rare = classes[counts < 2]
        if rare.size:
            raise DatasetError(
                f"class code(s) {rare.tolist()} have a single row, too few for a stratified "
                "test split; remove those rows or use more data (e.g. a larger max_rows)"
            )
    try:
        train_idx, test_idx = train_test_split(
            rows,
            test_size=float(test_size),
            random_state=seed,
            stratify=y if stratified else None,
        )
    except ValueError as exc:
        raise DatasetError(
            f"cannot hold out test_size={test_size} of {n} rows ({exc}); use more data or a "
            "different test_size"
        ) from exc
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    y_train = y[train_idx]

    if stratified:
        classes, counts = np.unique(y_train, return_counts=True)
        smallest = int(counts.min())
        if smallest < n_folds:
            raise DatasetError(
                f"n_folds={n_folds} but class code {classes[counts.argmin()].item()} has only "
                f"{smallest} training rows; "
                + (f"use n_folds<={smallest} or more data" if smallest >= 2 else "use more data")
            )
        cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    else:
        if train_idx.size < n_folds:
            raise DatasetError(
                f"n_folds={n_folds} but only {train_idx.size} training rows; use fewer folds "
                f"(at most {train_idx.size}) or more data"
            )
        cv = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = [
        (np.sort(tr).astype(np.int64), np.sort(va).astype(np.int64))
        for tr, va in cv.split(np.zeros((train_idx.size, 1)), y_train)
    ]
    return Splits(
        train_idx=train_idx.astype(np.int64),
        test_idx=test_idx.astype(np.int64),
        folds=folds,
        seed=int(seed),
        test_size=float(test_size),
        stratified=stratified,
    )
