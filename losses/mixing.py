"""Mixing losses: train a classifier on pairs of inputs blended together (kexue.fm/archives/5693).

A mixing loss wraps any per-example classification criterion ``c(logits, y)`` (by default
``torch.nn.CrossEntropyLoss(reduction="none")``). Each training batch is paired with a random
permutation of itself (``x_b = x[perm]``, so odd batches and a batch of one work), the model sees the
blended input, and the loss is

    L = mean_i [ w_i c(f(x~_i), y_a,i) + (1 - w_i) c(f(x~_i), y_b,i) ],

where ``x~`` and the label weight ``w`` are the method's (mixup, SamplePairing, CutMix; one file
each). The post reads this as a regulariser, not as data augmentation: among models that fit the
data, it prefers the one whose output is linear between training points,
``f(lam x_a + (1 - lam) x_b) = lam f(x_a) + (1 - lam) f(x_b)``.

Mixing is on in epochs ``start_epoch <= e < stop_epoch`` (``stop_epoch: null``: to the end) and
plain training otherwise. Partners are drawn from torch's global CPU stream and lambdas from numpy's
(20 times cheaper than ``torch.distributions.Beta`` per draw); the trainer seeds both per run and
saves both in every checkpoint, so a resumed run mixes exactly as an uninterrupted one would.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from engine.contracts import Batch, Loss
from engine.errors import ConfigError, as_int
from engine.progress import Progress


@dataclass
class Mix:
    """A blended batch: inputs ``x``, each example's partner index, and the weights of ``x_a`` / ``y_a``.

    Weights are a float (one for the batch) or a tensor of shape (B,) on the inputs' device.
    ``input_weight`` is the share of ``x_a`` in the input (shown in figures); ``label_weight`` is
    ``w`` of the loss.
    """

    x: torch.Tensor
    partner: torch.Tensor
    input_weight: float | torch.Tensor
    label_weight: float | torch.Tensor


def partners(n: int, device: torch.device) -> torch.Tensor:
    """A random permutation of the batch (drawn on the CPU stream): example i is mixed with example perm[i]."""
    return torch.randperm(n).to(device)


def beta(alpha: float, n: int | None = None) -> float | torch.Tensor:
    """``lam ~ Beta(alpha, alpha)`` from numpy's global stream: one float, or a float32 tensor of ``n``."""
    if n is None:
        return float(np.random.beta(alpha, alpha))
    return torch.from_numpy(np.random.beta(alpha, alpha, size=n).astype(np.float32))


def gather(x: torch.Tensor, perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x_b = x[perm]`` (``index_select``: 4x cheaper than ``x[perm]`` on a CPU) and an empty output with
    ``x``'s memory format: a channels-last batch stays channels-last, and a CPU max-pool on an NCHW
    copy of one measured 8x slower (1.3 against 11 ms for the small CNN's first pool)."""
    return x.index_select(0, perm), torch.empty_like(x)


def per_example(w: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Weights of shape (B,) reshaped to broadcast over examples of ``like`` (B, ...)."""
    return w.to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))


class MixingLoss(Loss):
    """The shared loss of the mixing methods; a subclass implements :meth:`mix`."""

    players = ("main",)

    def __init__(self, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 start_epoch: int = 0, stop_epoch: int | None = None) -> None:
        super().__init__()
        start_epoch = as_int("loss.start_epoch", start_epoch, 0)
        stop_epoch = as_int("loss.stop_epoch", stop_epoch, start_epoch + 1, optional=True, hint="after loss.start_epoch")
        self.criterion = criterion if criterion is not None else nn.CrossEntropyLoss(reduction="none")
        self.start_epoch, self.stop_epoch = start_epoch, stop_epoch
        # cross-entropy (without class weights) is linear in the target: one call on the mixed label
        self.fast_ce = isinstance(self.criterion, nn.CrossEntropyLoss) and self.criterion.weight is None
        if isinstance(self.criterion, nn.CrossEntropyLoss) and self.criterion.reduction != "none":
            raise ConfigError(f"loss.criterion must return one loss per example: give it reduction: none "
                              f"(got {self.criterion.reduction!r})")

    def active(self, progress: Progress | None) -> bool:
        """Whether this batch is mixed (``progress`` None: always)."""
        if progress is None:
            return True
        return progress.epoch >= self.start_epoch and (self.stop_epoch is None or progress.epoch < self.stop_epoch)

    @abstractmethod
    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix | None:
        """The blended batch (None: no mixing)."""

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.criterion(logits, y)
        if loss.shape != y.shape:
            raise ConfigError(f"loss.criterion must return one loss per example (shape {tuple(y.shape)}), got shape "
                              f"{tuple(loss.shape)}: give it reduction: none")
        return loss

    def mixed_cross_entropy(self, logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor,
                            w: float | torch.Tensor) -> torch.Tensor:
        """``w CE(y_a) + (1 - w) CE(y_b)`` per example as the wrapped ``nn.CrossEntropyLoss`` against the
        mixed label ``w e_{y_a} + (1 - w) e_{y_b}`` (it takes probability targets, label smoothing
        included): one softmax and a short backward pass instead of two cross-entropies."""
        with torch.no_grad():
            w_col = w[:, None].to(logits.dtype) if isinstance(w, torch.Tensor) else torch.full_like(logits[:, :1], w)
            target = torch.zeros_like(logits).scatter_(1, y_b[:, None], 1 - w_col).scatter_add_(1, y_a[:, None], w_col)
        return self.criterion(logits, target)

    def forward(self, model: nn.Module, batch: Batch, player: str = "main",
                progress: Progress | None = None) -> dict[str, torch.Tensor]:
        x, y = batch["x"], batch["y"]
        mix = self.mix(x, y) if self.active(progress) else None
        if mix is None:
            logits = model(x)
            loss = self.per_example_loss(logits, y).mean()
            acc = (logits.detach().argmax(1) == y).float().mean()
            # lam: the share of x_a in the input, 1 when not mixed (so that a logging window's mean is right)
            return {"loss": loss, "acc": acc, "mixed": torch.zeros((), device=x.device), "lam": torch.ones((), device=x.device)}
        logits = model(mix.x)
        w = mix.label_weight
        y_b = y.index_select(0, mix.partner)
        if isinstance(w, float) and w == 1.0:  # SamplePairing: the second label has no weight
            loss = self.per_example_loss(logits, y).mean()
        elif self.fast_ce:
            loss = self.mixed_cross_entropy(logits, y, y_b, w).mean()
        else:  # any criterion: one call on both labels, then lerp(c_b, c_a, w) = w c_a + (1 - w) c_b
            c_a, c_b = self.per_example_loss(torch.cat([logits, logits]), torch.cat([y, y_b])).float().chunk(2)
            loss = torch.lerp(c_b, c_a, w).mean()  # in float32, also under autocast
        # accuracy against the label with the larger weight (the argmax of the mixed label)
        major = (y if w >= 0.5 else y_b) if isinstance(w, float) else torch.where(w >= 0.5, y, y_b)
        acc = (logits.detach().argmax(1) == major).float().mean()
        share = mix.input_weight
        lam = share.float().mean() if isinstance(share, torch.Tensor) else torch.full((), share, device=x.device)
        return {"loss": loss, "acc": acc, "mixed": torch.ones((), device=x.device), "lam": lam}


class NoMixingLoss(MixingLoss):
    """Plain training with the same criterion: the baseline the mixing methods are compared with."""

    def __init__(self, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__(criterion)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix | None:
        return None
