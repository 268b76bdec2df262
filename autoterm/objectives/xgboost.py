"""XGBoost (Chen & Guestrin, KDD 2016) with the paper's 9-D search space.

Space: exactly the one of Makarova et al. (2022), as stored in the authors' runs
(``../shared/paper-runs/README.md``): log scales on everything but ``subsample`` and
``colsample_bytree``. Categorical features use XGBoost's native categorical support
(``enable_categorical``) and missing values its native handling; trees use ``hist``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from autoterm.objectives.base import Objective
from autoterm.space import Config, Float, Int, SearchSpace


class XGBoostObjective(Objective):
    """XGBoost classifier or regressor tuned over the paper's space."""

    name = "xgboost"
    option_defaults: ClassVar[dict[str, Any]] = {"tree_method": "hist", "max_bin": 256}
    preprocessing = "native"
    space = SearchSpace(
        [
            Int("n_estimators", 2, 512, log=True),
            Float("learning_rate", 1e-6, 1.0, log=True),
            Float("gamma", 1e-6, 64.0, log=True),
            Float("min_child_weight", 1e-6, 32.0, log=True),
            Int("max_depth", 2, 32, log=True),
            Float("subsample", 0.5, 1.0),
            Float("colsample_bytree", 0.3, 1.0),
            Float("reg_lambda", 1e-6, 2.0, log=True),
            Float("reg_alpha", 1e-6, 2.0, log=True),
        ]
    )

    def fit_predict(
        self, config: Config, X_train: Any, y_train: np.ndarray, X_eval: list[Any], seed: int
    ) -> list[np.ndarray]:
        """Fit one booster and predict labels (classification) or values (regression).

        Args:
            config: the 9 hyperparameters in native units.
            X_train: DataFrame of ``n_train`` rows (categoricals as ``category`` dtype).
            y_train: targets, shape ``(n_train,)``.
            X_eval: DataFrames to predict.
            seed: the booster's random seed (row and column subsampling).
        """
        import xgboost as xgb

        params = dict(
            n_estimators=int(config["n_estimators"]),
            learning_rate=float(config["learning_rate"]),
            gamma=float(config["gamma"]),
            min_child_weight=float(config["min_child_weight"]),
            max_depth=int(config["max_depth"]),
            subsample=float(config["subsample"]),
            colsample_bytree=float(config["colsample_bytree"]),
            reg_lambda=float(config["reg_lambda"]),
            reg_alpha=float(config["reg_alpha"]),
            tree_method=self.options.get("tree_method", self.option_defaults["tree_method"]),
            max_bin=int(self.options.get("max_bin", self.option_defaults["max_bin"])),
            enable_categorical=True,
            n_jobs=self.threads,
            random_state=seed,
            verbosity=0,
        )
        if self.task == "regression":
            model = xgb.XGBRegressor(**params)
            model.fit(X_train, y_train)
            return [model.predict(X) for X in X_eval]
        if len(np.unique(y_train)) < 2:
            raise ValueError("a training fold holds a single class")
        model = xgb.XGBClassifier(**params)
        model.fit(X_train, y_train)
        return [model.predict(X) for X in X_eval]
