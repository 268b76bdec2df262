"""A two-hidden-layer MLP (FCNet-like) trained with Adam in PyTorch.

Search space: the FC-Net space of HPOBench (Klein & Hutter, 2019, "Tabular benchmarks for joint
architecture and hyperparameter optimization"; Eggensperger et al., 2021, "HPOBench"): two
fully-connected hidden layers with their widths, dropout rates and activations, the initial
learning rate, the batch size and the learning-rate schedule. As in FCNet the epoch budget is
fixed (an option, not a hyperparameter).

Training: Adam (Kingma & Ba, 2015) on cross-entropy (classification, one logit per class, binary
included) or on the mean squared error of a target standardised with the training block's mean
and standard deviation (regression; predictions are mapped back to the original units, so RMSE
is in original units). The ``"cosine"`` schedule is cosine annealing without restarts
(Loshchilov & Hutter, 2017, "SGDR") from the initial learning rate to 0 over all training steps.

Notation:
    n: rows of a feature block; p: encoded features; h1, h2: hidden widths; C: output units
    (number of classes, or 1 for regression); B: batch size.

Determinism: all randomness of one :meth:`MLPObjective.fit_predict` call (weight initialisation,
shuffling, dropout masks) comes from ``torch.Generator`` objects seeded with the call's ``seed``;
the global RNG is never read or advanced, so two calls with the same arguments give bit-identical
predictions (on CPU, with the same thread count).

The network is kept functional (a list of parameter tensors plus :func:`mlp_forward`) so that a
batched-fold variant can later stack the k fold models along a leading axis and use ``bmm``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autoterm.objectives.base import Objective
from autoterm.space import Categorical, Config, Float, Int, SearchSpace

_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}
_OPTIONS = {"epochs": 20, "max_batches_per_epoch": None, "device": "cpu"}
_PREDICT_CHUNK = 16384


def init_mlp_params(
    sizes: list[int], generator: torch.Generator, device: str | torch.device = "cpu"
) -> list[torch.Tensor]:
    """Initialise the weights and biases of a fully-connected network.

    Each layer uses PyTorch's default ``nn.Linear`` initialisation: weight and bias drawn from
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, but from ``generator`` instead of the global RNG.

    Args:
        sizes: layer widths ``[p, h1, ..., C]`` (input, hidden layers, output).
        generator: CPU generator for the draws.
        device: device of the returned tensors.

    Returns:
        ``[W_1, b_1, W_2, b_2, ...]`` with ``W_l`` of shape ``(sizes[l], sizes[l-1])`` and
        ``b_l`` of shape ``(sizes[l],)``, float32, with ``requires_grad=True``.
    """
    params: list[torch.Tensor] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        w = torch.empty(fan_out, fan_in, dtype=torch.float32).uniform_(
            -bound, bound, generator=generator
        )
        b = torch.empty(fan_out, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
        params += [w.to(device).requires_grad_(), b.to(device).requires_grad_()]
    return params


def mlp_forward(
    params: list[torch.Tensor],
    x: torch.Tensor,
    activations: list[str],
    dropouts: list[float],
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Forward pass: ``(Linear -> activation -> dropout)`` per hidden layer, then a Linear.

    Dropout (inverted: kept units scaled by ``1 / (1 - rate)``) is applied only when
    ``generator`` is given, i.e. in training; prediction passes ``None`` (evaluation mode).

    Args:
        params: as returned by :func:`init_mlp_params`, ``L`` layers.
        x: inputs, shape ``(B, p)``.
        activations: ``L - 1`` names in ``{"relu", "tanh"}``.
        dropouts: ``L - 1`` dropout rates in ``[0, 1)``.
        generator: generator of the dropout masks (on ``x``'s device), or ``None``.

    Returns:
        Outputs of shape ``(B, C)``.
    """
    n_hidden = len(params) // 2 - 1
    for layer in range(n_hidden):
        x = _ACTIVATIONS[activations[layer]](F.linear(x, params[2 * layer], params[2 * layer + 1]))
        rate = float(dropouts[layer])
        if generator is not None and rate > 0.0:
            keep = 1.0 - rate
            mask = torch.empty_like(x).bernoulli_(keep, generator=generator).div_(keep)
            x = x * mask
    return F.linear(x, params[-2], params[-1])


class MLPObjective(Objective):
    """A two-hidden-layer MLP in the FCNet space (HPOBench), trained with Adam.

    Options (keyword arguments of the constructor, from the run config):
        epochs: fixed number of passes over the training block (default 20).
        max_batches_per_epoch: optional cap on the optimiser steps per epoch (``None``: all).
        device: torch device (default ``"cpu"``).
    """

    name = "mlp"
    preprocessing = "standardized"
    space = SearchSpace(
        [
            Int("n_units_1", 16, 512, log=True),
            Int("n_units_2", 16, 512, log=True),
            Float("dropout_1", 0.0, 0.6),
            Float("dropout_2", 0.0, 0.6),
            Categorical("activation_1", ("relu", "tanh")),
            Categorical("activation_2", ("relu", "tanh")),
            Float("learning_rate", 5e-4, 1e-1, log=True),
            Int("batch_size", 16, 256, log=True),
            Categorical("lr_schedule", ("constant", "cosine")),
        ]
    )

    def __init__(self, data: Any, threads: int = 1, seed: int = 0, **options: Any):
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise TypeError(f"unknown MLP options {sorted(unknown)}; known: {sorted(_OPTIONS)}")
        super().__init__(data, threads=threads, seed=seed, **options)
        opts = {**_OPTIONS, **options}
        self.epochs = int(opts["epochs"])
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        cap = opts["max_batches_per_epoch"]
        self.max_batches_per_epoch = None if cap is None else int(cap)
        if self.max_batches_per_epoch is not None and self.max_batches_per_epoch < 1:
            raise ValueError(f"max_batches_per_epoch must be >= 1, got {cap}")
        self.device = torch.device(opts["device"])

    def fit_predict(
        self, config: Config, X_train: Any, y_train: np.ndarray, X_eval: list[Any], seed: int
    ) -> list[np.ndarray]:
        """Train one network on ``(X_train, y_train)`` and predict each block of ``X_eval``.

        Args:
            config: native hyperparameters (the keys of :attr:`space`).
            X_train: standardised features, float32 array of shape ``(n_train, p)``.
            y_train: class codes ``0..C-1`` (int) or real targets (float), shape ``(n_train,)``.
            X_eval: feature blocks, each of shape ``(n_b, p)``.
            seed: seed of the initialisation, shuffling and dropout generators.

        Returns:
            One array per block of ``X_eval``, shape ``(n_b,)``: int64 labels (argmax of the
            logits) for classification, float64 values in original units for regression.

        Raises:
            FloatingPointError: if the training loss becomes non-finite (divergence).
        """
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self._fit_predict(config, X_train, y_train, X_eval, seed)
        finally:
            torch.set_num_threads(previous_threads)

    def _fit_predict(
        self, config: Config, X_train: Any, y_train: np.ndarray, X_eval: list[Any], seed: int
    ) -> list[np.ndarray]:
        device = self.device
        regression = self.task == "regression"
        x = _as_tensor(X_train, device)
        n, p = x.shape
        if n == 0:
            raise ValueError("empty training block")

        y_np = np.asarray(y_train)
        if regression:
            y64 = y_np.astype(np.float64)
            y_mean = float(np.mean(y64))
            y_std = float(np.std(y64))
            if not (math.isfinite(y_std) and y_std > 0.0):
                y_std = 1.0
            y = torch.as_tensor((y64 - y_mean) / y_std, dtype=torch.float32, device=device)
            n_out = 1
        else:
            y = torch.as_tensor(y_np.astype(np.int64), device=device)
            n_out = int(self.n_classes) if self.n_classes else int(y_np.max()) + 1

        cpu_gen = torch.Generator(device="cpu").manual_seed(int(seed))
        drop_gen = torch.Generator(device=device).manual_seed(int(seed) + 1)
        sizes = [p, int(config["n_units_1"]), int(config["n_units_2"]), n_out]
        activations = [str(config["activation_1"]), str(config["activation_2"])]
        dropouts = [float(config["dropout_1"]), float(config["dropout_2"])]
        params = init_mlp_params(sizes, cpu_gen, device)

        batch_size = max(1, min(int(config["batch_size"]), n))
        steps_per_epoch = math.ceil(n / batch_size)
        if self.max_batches_per_epoch is not None:
            steps_per_epoch = min(steps_per_epoch, self.max_batches_per_epoch)
        total_steps = self.epochs * steps_per_epoch

        # The fused kernel (one op for all parameters) has the least per-step overhead.
        fused = device.type in ("cpu", "cuda")
        optimizer = torch.optim.Adam(params, lr=float(config["learning_rate"]), fused=fused)
        scheduler = None
        if config["lr_schedule"] == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        elif config["lr_schedule"] != "constant":
            raise ValueError(f"unknown lr_schedule {config['lr_schedule']!r}")

        for epoch in range(self.epochs):
            # One gather per epoch; the batches are then contiguous views of the shuffled copy.
            perm = torch.randperm(n, generator=cpu_gen).to(device)
            xs, ys = x[perm], y[perm]
            losses = []
            for step in range(steps_per_epoch):
                lo, hi = step * batch_size, (step + 1) * batch_size
                out = mlp_forward(params, xs[lo:hi], activations, dropouts, drop_gen)
                if regression:
                    loss = F.mse_loss(out.squeeze(-1), ys[lo:hi])
                else:
                    loss = F.cross_entropy(out, ys[lo:hi])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                losses.append(loss.detach())
            # Checked once per epoch (no per-step sync): once a loss is non-finite the weights
            # are too, so the rest of the epoch is wasted but harmless.
            if not bool(torch.isfinite(torch.stack(losses)).all()):
                raise FloatingPointError(f"training loss became non-finite in epoch {epoch + 1}")

        preds: list[np.ndarray] = []
        with torch.inference_mode():
            frozen = [t.detach() for t in params]
            for block in X_eval:
                xb = _as_tensor(block, device)
                outs = [
                    mlp_forward(frozen, xb[i : i + _PREDICT_CHUNK], activations, dropouts)
                    for i in range(0, xb.shape[0], _PREDICT_CHUNK)
                ]
                out = torch.cat(outs) if outs else torch.empty(0, n_out, device=device)
                if regression:
                    values = out.squeeze(-1).double().cpu().numpy() * y_std + y_mean
                    preds.append(values)
                else:
                    preds.append(out.argmax(dim=1).cpu().numpy().astype(np.int64))
        return preds


def _as_tensor(X: Any, device: torch.device) -> torch.Tensor:
    """A float32 tensor of shape ``(n, p)`` from a numeric 2-D block."""
    arr = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D feature block, got shape {arr.shape}")
    return torch.from_numpy(arr).to(device)
