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

Batched folds (option ``batched_folds``, default on): one evaluation trains ``m = k + 1`` networks
of the same configuration (the k fold models and the test refit) on different rows. They are
trained together as one batched model: the weights of all ``m`` members are stacked along a
leading axis (``W_l^T`` of shape ``(m, in, out)``), every layer is one ``baddbmm`` and one
backward pass gives every member's gradient. Per member, this is the training it would get alone
(:meth:`MLPObjective.fit_predict`):

* the same initial weights and the same row order in every epoch (drawn from the member's own
  generator seeded with its seed, in the same order);
* the same batches: each member's epoch is cut into its own ``ceil(n_f / B_f)`` batches of
  ``B_f = min(batch_size, n_f)`` rows; members with fewer or smaller batches are padded with zero
  rows of weight 0, and the member's loss is the mean over its real rows only, so its gradient is
  exactly the gradient of its own batch loss (the members' parameters are disjoint);
* the same Adam (Kingma & Ba, 2015): PyTorch's fused kernel with its defaults, as in the
  sequential loop, applied to slices of the stacked tensors. Adam's state is per parameter, so
  stacking keeps members independent; members with the same steps per epoch share step counts
  and are updated by one call, and a member without a batch at some step (fewer batches per
  epoch than another member, e.g. the folds against the larger test refit) is not updated and
  its step count does not advance;
* the same schedule per member: constant, or cosine annealing over the member's own
  ``epochs * steps_per_epoch`` steps, in closed form ``lr_t = lr (1 + cos(pi t / T)) / 2``
  (PyTorch's ``CosineAnnealingLR`` computes it recursively; equal up to rounding).

What differs: (1) the dropout masks of all members come from one NumPy ``PCG64`` stream keyed by
all members' seeds (:class:`_MaskStream`; drawing them with ``bernoulli_`` cost more than the
matrix products) instead of one torch generator per member. Each member's masks are still
i.i.d. Bernoulli(``1 - rate``) (to ``2**-32``), independent of everything else, so the training
is the same in distribution but not in realisation: the fold errors agree within the seed noise,
not exactly. With zero dropout the members are the sequential models up to floating-point
rounding (``bmm`` against ``addmm``), which ``tests/test_mlp.py`` checks to ``1e-5``. (2) The
divergence check (a non-finite loss) and the time-limit checkpoint run once per epoch for all
members together. ``batched_folds: false`` restores the sequential loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.adam import adam

from autoterm.objectives.base import FitJob, Objective
from autoterm.space import Categorical, Config, Float, Int, SearchSpace

_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}
_OPTIONS = {"epochs": 20, "max_batches_per_epoch": None, "device": "cpu", "batched_folds": True}
_ADAM_BETAS = (0.9, 0.999)  # PyTorch's Adam defaults, as in the sequential loop
_ADAM_EPS = 1e-8
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
        batched_folds: train the k fold models and the test refit of one evaluation together
            as one batched model (default ``True``; see the module notes), or one after
            another (``False``).
    """

    name = "mlp"
    option_defaults: ClassVar[dict[str, Any]] = dict(_OPTIONS)
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
        self.batched_folds = bool(opts["batched_folds"])

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
        y, n_out, y_mean, y_std = self._targets(y_train)

        cpu_gen = torch.Generator(device="cpu").manual_seed(int(seed))
        drop_gen = torch.Generator(device=device).manual_seed(int(seed) + 1)
        sizes = [p, int(config["n_units_1"]), int(config["n_units_2"]), n_out]
        activations, dropouts = _layers(config)
        params = init_mlp_params(sizes, cpu_gen, device)

        batch_size, steps_per_epoch = self._batching(config, n)
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

        frozen = [t.detach() for t in params]
        return self._predict(frozen, X_eval, activations, dropouts, n_out, y_mean, y_std)

    def fit_predict_many(
        self,
        config: Config,
        jobs: Sequence[FitJob],
        checkpoint: Callable[[], None] = lambda: None,
    ) -> list[list[np.ndarray]]:
        """Train the networks of ``jobs`` (k folds + test refit) as one batched model.

        With ``batched_folds`` (the default) all jobs are trained together (see the module
        notes); otherwise, or for a single job, one after another (:meth:`fit_predict`).

        Args:
            config: native hyperparameters.
            jobs: ``m`` models: standardised features of shape ``(n_f, p)``, targets
                ``(n_f,)``, blocks to predict and the model's seed.
            checkpoint: the evaluation's time-limit check, called after every epoch.

        Returns:
            Per job, one prediction array per block (as :meth:`fit_predict`).

        Raises:
            FloatingPointError: if a member's training loss becomes non-finite.
        """
        if not self.batched_folds or len(jobs) < 2:
            return super().fit_predict_many(config, jobs, checkpoint)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self._fit_predict_batched(config, jobs, checkpoint)
        finally:
            torch.set_num_threads(previous_threads)

    def _fit_predict_batched(
        self, config: Config, jobs: Sequence[FitJob], checkpoint: Callable[[], None]
    ) -> list[list[np.ndarray]]:
        """The batched training of :meth:`fit_predict_many` (threads already set).

        Shapes: ``m`` members, ``n_max`` rows of the largest member, ``S`` batches per epoch of
        the member with the most, ``Bm`` the largest batch size; layer ``l`` maps ``i_l`` to
        ``o_l`` units.
        """
        device = self.device
        regression = self.task == "regression"
        if config["lr_schedule"] not in ("constant", "cosine"):
            raise ValueError(f"unknown lr_schedule {config['lr_schedule']!r}")
        xs_list = [_as_tensor(job.X_train, device) for job in jobs]
        ns = [int(x.shape[0]) for x in xs_list]
        if min(ns) == 0:
            raise ValueError("empty training block")
        # One-hot encodings fitted per fold differ in width when a fold lacks a rare category.
        # A narrower member reads its p_f features from the first p_f columns; the other
        # columns are 0 in its rows and its weights on them start at 0, so they get zero
        # gradient, stay exactly 0 under Adam (zero moments: a zero step) and never change its
        # outputs: the member trains exactly as its p_f-wide network alone.
        widths = [int(x.shape[1]) for x in xs_list]
        p = max(widths)
        targets = [self._targets(job.y_train) for job in jobs]
        if len({t[1] for t in targets}) > 1:  # class counts differ (n_classes unknown): one by one
            return super().fit_predict_many(config, jobs, checkpoint)
        n_out = targets[0][1]
        hidden = [int(config["n_units_1"]), int(config["n_units_2"])]
        activations, dropouts = _layers(config)

        # Members are stacked in the order of their steps per epoch, so that members with the
        # same schedule (hence the same Adam step counts) form one contiguous group.
        batching = [self._batching(config, n) for n in ns]
        order = sorted(range(len(jobs)), key=lambda f: batching[f][1])
        m = len(order)
        ns = [ns[f] for f in order]
        bsz = np.array([batching[f][0] for f in order])
        steps = np.array([batching[f][1] for f in order])
        S, Bm, n_max = int(steps.max()), int(bsz.max()), max(ns)

        # Per member, as alone: initial weights, then one permutation per epoch, from its own
        # generator in that order. Weights are stacked transposed, W_l^T of shape (m, i_l, o_l),
        # so that every layer is one baddbmm without a copy; biases (m, o_l).
        gens = [torch.Generator(device="cpu").manual_seed(int(jobs[f].seed)) for f in order]
        inits = [
            init_mlp_params([widths[f], *hidden, n_out], g)
            for f, g in zip(order, gens, strict=True)
        ]
        with torch.no_grad():
            first = torch.zeros(m, p, hidden[0])  # W_1^T, zero-padded to p rows
            for f, init in enumerate(inits):
                first[f, : init[0].shape[1]] = init[0].detach().T
            leaves = [first.to(device)]
            for j in range(1, len(inits[0])):
                ts = [init[j].detach() for init in inits]
                ts = [t.T for t in ts] if j % 2 == 0 else ts
                leaves.append(torch.stack(ts).to(device).contiguous())
        for t in leaves:
            t.requires_grad_()
        del inits
        masks = _MaskStream([int(jobs[f].seed) for f in order], device)

        # Batch layout, the same in every epoch: member f's batch s holds its permuted rows
        # s*B_f .. (s+1)*B_f - 1 in the first count[s, f] slots of (S, m, Bm); the other
        # slots point at a zero row (index n_max) and weigh 0.
        count = np.zeros((S, m), dtype=np.int64)
        for f in range(m):
            s_idx = np.arange(steps[f])
            count[: steps[f], f] = np.minimum(bsz[f], ns[f] - s_idx * bsz[f])
        slot = np.arange(Bm)
        weight = np.where(slot[None, None, :] < count[:, :, None], 1.0, 0.0)
        weight /= np.maximum(count, 1)[:, :, None]
        weight_t = torch.as_tensor(weight, dtype=torch.float32, device=device)  # (S, m, Bm)

        X_all = torch.zeros(m, n_max + 1, p, dtype=torch.float32, device=device)
        y_dtype = torch.float32 if regression else torch.int64
        y_all = torch.zeros(m, n_max + 1, dtype=y_dtype, device=device)
        for f, src in enumerate(order):
            X_all[f, : ns[f], : widths[src]] = xs_list[src]
            y_all[f, : ns[f]] = targets[src][0]
        del xs_list

        # Adam per group of members with the same steps per epoch: PyTorch's fused kernel (the
        # sequential loop's) on the group's slices of the stacked tensors, with the group's step
        # count and learning rate; a group is skipped at steps where its members have no batch.
        groups = []
        with torch.no_grad():
            exp_avg = [torch.zeros_like(t) for t in leaves]
            exp_avg_sq = [torch.zeros_like(t) for t in leaves]
            for steps_g in sorted(set(steps.tolist())):
                (idx_g,) = np.nonzero(steps == steps_g)
                lo, hi = int(idx_g[0]), int(idx_g[-1]) + 1
                groups.append(
                    _AdamGroup(
                        lo,
                        hi,
                        int(steps_g),
                        [t[lo:hi] for t in leaves],
                        [t[lo:hi] for t in exp_avg],
                        [t[lo:hi] for t in exp_avg_sq],
                        [torch.zeros((), dtype=torch.float32, device=device) for _ in leaves],
                    )
                )
        lr0 = float(config["learning_rate"])
        cosine = config["lr_schedule"] == "cosine"

        rows = torch.arange(m, device=device)[None, :, None]  # (1, m, 1)
        for epoch in range(self.epochs):
            idx = torch.full((S, m, Bm), n_max, dtype=torch.int64)
            for f in range(m):
                perm = torch.randperm(ns[f], generator=gens[f])
                used = int(min(ns[f], steps[f] * bsz[f]))
                block = torch.full((int(steps[f] * bsz[f]),), n_max, dtype=torch.int64)
                block[:used] = perm[:used]
                idx[: steps[f], f, : bsz[f]] = block.view(int(steps[f]), int(bsz[f]))
            idx = idx.to(device)
            xs, ys = X_all[rows, idx], y_all[rows, idx]  # (S, m, Bm, p), (S, m, Bm)
            losses = []
            for s in range(S):
                out = _batched_forward(leaves, xs[s], activations, dropouts, masks)
                if regression:
                    per_row = (out.squeeze(-1) - ys[s]).square()
                else:  # cross-entropy, -log softmax(out)[y]: half the cost of F.cross_entropy
                    picked = out.gather(-1, ys[s].unsqueeze(-1)).squeeze(-1)
                    per_row = out.logsumexp(-1) - picked
                member_loss = (per_row * weight_t[s]).sum(dim=1)  # (m,) each member's mean
                grads = torch.autograd.grad(member_loss.sum(), leaves)
                with torch.no_grad():
                    # groups without a batch at this step are skipped (no update, no step);
                    # one fused call per learning rate (all groups share it when constant)
                    by_lr: dict[float, list[_AdamGroup]] = {}
                    for grp in groups:
                        if s < grp.steps:
                            lr = _lr(lr0, cosine, epoch, s, grp.steps, self.epochs)
                            by_lr.setdefault(lr, []).append(grp)
                    for lr, grps in by_lr.items():
                        adam(
                            [t for grp in grps for t in grp.params],
                            [g[grp.lo : grp.hi] for grp in grps for g in grads],
                            [t for grp in grps for t in grp.exp_avg],
                            [t for grp in grps for t in grp.exp_avg_sq],
                            [],
                            [t for grp in grps for t in grp.state_steps],
                            fused=device.type in ("cpu", "cuda"),
                            amsgrad=False,
                            beta1=_ADAM_BETAS[0],
                            beta2=_ADAM_BETAS[1],
                            lr=lr,
                            weight_decay=0.0,
                            eps=_ADAM_EPS,
                            maximize=False,
                        )
                losses.append(member_loss.detach())
            bad = ~torch.isfinite(torch.stack(losses)).all(dim=0)
            if bool(bad.any()):
                f = order[int(torch.nonzero(bad)[0])]
                raise FloatingPointError(
                    f"training loss of model {f + 1} of {m} became non-finite in epoch {epoch + 1}"
                )
            checkpoint()

        preds: list[list[np.ndarray]] = [[] for _ in jobs]
        with torch.no_grad():
            for f, src in enumerate(order):
                member = [t[f].T if j % 2 == 0 else t[f] for j, t in enumerate(leaves)]
                member[0] = member[0][:, : widths[src]]  # (h1, p_f): its own features
                _, _, y_mean, y_std = targets[src]
                preds[src] = self._predict(
                    [t.detach() for t in member],
                    jobs[src].X_eval,
                    activations,
                    dropouts,
                    n_out,
                    y_mean,
                    y_std,
                )
        return preds

    def _targets(self, y_train: np.ndarray) -> tuple[torch.Tensor, int, float, float]:
        """Training targets as a tensor, the output width and the standardisation.

        Returns:
            ``(y, C, y_mean, y_std)``: ``y`` of shape ``(n,)`` (int64 class codes, or float32
            standardised values for regression), ``C`` output units, and the regression
            target's mean and std (0 and 1 for classification).
        """
        y_np = np.asarray(y_train)
        if self.task == "regression":
            y64 = y_np.astype(np.float64)
            y_mean = float(np.mean(y64))
            y_std = float(np.std(y64))
            if not (math.isfinite(y_std) and y_std > 0.0):
                y_std = 1.0
            y = torch.as_tensor((y64 - y_mean) / y_std, dtype=torch.float32, device=self.device)
            return y, 1, y_mean, y_std
        y = torch.as_tensor(y_np.astype(np.int64), device=self.device)
        n_out = int(self.n_classes) if self.n_classes else int(y_np.max()) + 1
        return y, n_out, 0.0, 1.0

    def _batching(self, config: Config, n: int) -> tuple[int, int]:
        """``(batch size, optimiser steps per epoch)`` of a training block of ``n`` rows."""
        batch_size = max(1, min(int(config["batch_size"]), n))
        steps_per_epoch = math.ceil(n / batch_size)
        if self.max_batches_per_epoch is not None:
            steps_per_epoch = min(steps_per_epoch, self.max_batches_per_epoch)
        return batch_size, steps_per_epoch

    def _predict(
        self,
        params: list[torch.Tensor],
        X_eval: list[Any],
        activations: list[str],
        dropouts: list[float],
        n_out: int,
        y_mean: float,
        y_std: float,
    ) -> list[np.ndarray]:
        """Predictions of one trained network (evaluation mode) for each block of ``X_eval``."""
        device = self.device
        preds: list[np.ndarray] = []
        with torch.inference_mode():
            for block in X_eval:
                xb = _as_tensor(block, device)
                outs = [
                    mlp_forward(params, xb[i : i + _PREDICT_CHUNK], activations, dropouts)
                    for i in range(0, xb.shape[0], _PREDICT_CHUNK)
                ]
                out = torch.cat(outs) if outs else torch.empty(0, n_out, device=device)
                if self.task == "regression":
                    values = out.squeeze(-1).double().cpu().numpy() * y_std + y_mean
                    preds.append(values)
                else:
                    preds.append(out.argmax(dim=1).cpu().numpy().astype(np.int64))
        return preds


def _lr(lr0: float, cosine: bool, epoch: int, step: int, steps: int, epochs: int) -> float:
    """The learning rate of a member's optimiser step ``epoch * steps + step``.

    Constant, or cosine annealing to 0 over its ``epochs * steps`` steps in closed form,
    ``lr0 (1 + cos(pi t / T)) / 2`` (Loshchilov & Hutter, 2017).
    """
    if not cosine:
        return lr0
    t = epoch * steps + step
    return lr0 * (1.0 + math.cos(math.pi * t / (epochs * steps))) / 2.0


def _layers(config: Config) -> tuple[list[str], list[float]]:
    """The hidden layers' activations and dropout rates of ``config``."""
    activations = [str(config["activation_1"]), str(config["activation_2"])]
    dropouts = [float(config["dropout_1"]), float(config["dropout_2"])]
    return activations, dropouts


def _batched_forward(
    params: list[torch.Tensor],
    x: torch.Tensor,
    activations: list[str],
    dropouts: list[float],
    masks: _MaskStream,
) -> torch.Tensor:
    """:func:`mlp_forward` of ``m`` stacked networks in training mode (dropout on).

    Args:
        params: ``[W_1^T, b_1, W_2^T, b_2, ...]``, the weights stacked and transposed,
            ``W_l^T`` of shape ``(m, in_l, out_l)``, ``b_l`` of shape ``(m, out_l)``.
        x: inputs, shape ``(m, B, p)`` (member ``f`` reads ``x[f]``).
        activations: ``L - 1`` names in ``{"relu", "tanh"}``.
        dropouts: ``L - 1`` dropout rates in ``[0, 1)``.
        masks: the dropout masks (one stream for all members).

    Returns:
        Outputs of shape ``(m, B, C)``.
    """
    n_hidden = len(params) // 2 - 1
    for layer in range(n_hidden):
        w, b = params[2 * layer], params[2 * layer + 1]
        x = _ACTIVATIONS[activations[layer]](torch.baddbmm(b[:, None, :], x, w))
        rate = float(dropouts[layer])
        if rate > 0.0:
            keep = 1.0 - rate
            x = x * masks.scaled_keep(x.shape, keep)
    return torch.baddbmm(params[-1][:, None, :], x, params[-2])


@dataclass
class _AdamGroup:
    """Members ``lo .. hi - 1`` of the stack: same steps per epoch, same Adam step counts.

    Attributes:
        lo: first member.
        hi: one past the last member.
        steps: optimiser steps per epoch of each member.
        params: the group's slices of the stacked weights (views, updated in place).
        exp_avg: slices of Adam's first moments.
        exp_avg_sq: slices of Adam's second moments.
        state_steps: Adam's step count, one scalar tensor per parameter tensor.
    """

    lo: int
    hi: int
    steps: int
    params: list[torch.Tensor]
    exp_avg: list[torch.Tensor]
    exp_avg_sq: list[torch.Tensor]
    state_steps: list[torch.Tensor]


class _MaskStream:
    """Dropout keep-masks of the batched training from one NumPy ``PCG64`` stream.

    A unit is kept iff a uniform 32-bit integer is below ``round(keep * 2**32)``: Bernoulli with
    probability ``keep`` up to ``2**-32``, the distribution of the sequential loop's
    ``bernoulli_`` masks (finer than its float32 uniforms), drawn about 4x faster on CPU, which
    matters once the masks of all ``m`` members are drawn at every step.

    Args:
        seeds: the members' seeds (the stream is keyed by all of them).
        device: device of the masks.
    """

    def __init__(self, seeds: list[int], device: torch.device):
        self.bitgen = np.random.PCG64(np.random.SeedSequence([*seeds, 0xD0]))
        self.device = device

    def scaled_keep(self, shape: torch.Size, keep: float) -> torch.Tensor:
        """An inverted-dropout mask: float32 of ``shape``, ``1 / keep`` w.p. ``keep``, else 0."""
        n = math.prod(shape)
        bits = self.bitgen.random_raw((n + 1) // 2).view(np.uint32)[:n]
        threshold = np.uint32(min(round(keep * 2.0**32), 2**32 - 1))
        mask = np.multiply(bits < threshold, np.float32(1.0 / keep), dtype=np.float32)
        return torch.from_numpy(mask.reshape(tuple(shape))).to(self.device)


def _as_tensor(X: Any, device: torch.device) -> torch.Tensor:
    """A float32 tensor of shape ``(n, p)`` from a numeric 2-D block."""
    arr = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D feature block, got shape {arr.shape}")
    return torch.from_numpy(arr).to(device)
