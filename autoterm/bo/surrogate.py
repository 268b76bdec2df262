"""The GP surrogate: BoTorch ``SingleTaskGP`` with a Matérn-5/2 ARD kernel and learned noise.

This is the surrogate of the paper (Makarova et al., 2022, Sec. 5: Matérn-5/2 with one
length-scale per dimension, learned observation noise, inputs in the unit cube, standardised
outputs), built from BoTorch parts (Balandat et al., NeurIPS 2020): nothing here is written by
hand that BoTorch or GPyTorch provides.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

DTYPE = torch.float64
log = logging.getLogger(__name__)


def fit_gp(X: np.ndarray, y: np.ndarray, seed: int = 0) -> SingleTaskGP:
    """Fit a GP to ``(X, y)`` by maximising the marginal likelihood (L-BFGS, BoTorch).

    Args:
        X: inputs in the unit cube, shape ``(n, d)``.
        y: objective values (minimised, native units), shape ``(n,)``.
        seed: seeds the (rare) random restarts of the fit so refits are repeatable.

    Returns:
        The fitted model in eval mode; its posterior is in the units of ``y``.
    """
    train_X = torch.as_tensor(np.asarray(X, dtype=float), dtype=DTYPE)
    train_Y = torch.as_tensor(np.asarray(y, dtype=float), dtype=DTYPE).reshape(-1, 1)
    d = train_X.shape[-1]
    covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d))
    model = SingleTaskGP(train_X, train_Y, covar_module=covar, outcome_transform=Standardize(m=1))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        try:
            fit_gpytorch_mll(mll)
        except ModelFittingError:
            # every attempt ended in an L-BFGS warning (seen on the MLP: few points in 9-D, the
            # length-scales of binary inputs collapsing towards 0 and the covariance becoming
            # singular a few steps later); BoTorch has rolled the model back to its initial
            # hyperparameters, a well-conditioned GP: use it rather than end the run
            log.warning("GP fit failed on %d points; using the initial hyperparameters", len(X))
    model.eval()
    return model


def gp_hyperparameters(model: SingleTaskGP) -> dict[str, Any]:
    """The fitted hyperparameters (standardised-output units) as a JSON-ready dict.

    Args:
        model: a GP from :func:`fit_gp`.

    Returns:
        ``lengthscales`` (list of ``d``), ``outputscale``, ``noise`` and ``mean``.
    """
    k = model.covar_module
    return {
        "lengthscales": k.base_kernel.lengthscale.detach().reshape(-1).tolist(),
        "outputscale": float(k.outputscale.detach()),
        "noise": float(model.likelihood.noise.detach().reshape(-1)[0]),
        "mean": float(model.mean_module.constant.detach()),
    }
