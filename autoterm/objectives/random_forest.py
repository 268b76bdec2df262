"""Random forest (Breiman 2001, scikit-learn) with the paper's 3-D search space.

Space: exactly the one of Makarova et al. (2022), as stored in the authors' runs
(``../shared/paper-runs/README.md``): ``n_estimators`` 1–64 (log), ``min_samples_split``
0.01–0.5 as a fraction of the rows (log), ``max_depth`` 1–5. Features are one-hot encoded with
median imputation (see :func:`autoterm.data.prepare`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autoterm.objectives.base import Objective
from autoterm.space import Config, Float, Int, SearchSpace


class RandomForestObjective(Objective):
    """Random-forest classifier or regressor tuned over the paper's space."""

    name = "random_forest"
    preprocessing = "onehot"
    space = SearchSpace(
        [
            Int("n_estimators", 1, 64, log=True),
            Float("min_samples_split", 0.01, 0.5, log=True),
            Int("max_depth", 1, 5),
        ]
    )

    def fit_predict(
        self, config: Config, X_train: Any, y_train: np.ndarray, X_eval: list[Any], seed: int
    ) -> list[np.ndarray]:
        """Fit one forest and predict labels (classification) or values (regression).

        Args:
            config: the 3 hyperparameters in native units.
            X_train: float array of shape ``(n_train, p)``.
            y_train: targets, shape ``(n_train,)``.
            X_eval: arrays of shape ``(m, p)`` to predict.
            seed: the forest's random seed.
        """
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestRegressor if self.task == "regression" else RandomForestClassifier
        model = cls(
            n_estimators=int(config["n_estimators"]),
            min_samples_split=float(config["min_samples_split"]),
            max_depth=int(config["max_depth"]),
            n_jobs=self.threads,
            random_state=seed,
        )
        model.fit(X_train, y_train)
        return [model.predict(X) for X in X_eval]
