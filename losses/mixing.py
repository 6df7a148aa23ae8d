"""Mixing objectives: train a classifier on pairs of inputs blended together (kexue.fm/archives/5693).

A mixing objective wraps any per-example classification criterion ``c(logits, y)`` (by default
``torch.nn.CrossEntropyLoss(reduction="none")``). Each training batch is paired with a random
permutation of itself (``x_b = x[perm]``, so odd batches and a batch of one work), the model sees the
blended input, and the loss is

    L = mean_i [ w_i c(f(x~_i), y_a,i) + (1 - w_i) c(f(x~_i), y_b,i) ],

where ``x~`` and the label weight ``w`` are the method's (mixup, SamplePairing, CutMix; one file
each). The post reads this as a regulariser, not as data augmentation: among models that fit the
data, it prefers the one whose output is linear between training points,
``f(lam x_a + (1 - lam) x_b) = lam f(x_a) + (1 - lam) f(x_b)``.

Mixing is on in epochs ``start_epoch <= e < stop_epoch`` (``stop_epoch: null``: to the end) and
plain training otherwise. Partners and weights are drawn from the global CPU random stream, which
the trainer seeds per run and saves in every checkpoint, so a resumed run mixes exactly as an
uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from engine.contracts import Batch, Objective
from engine.errors import ConfigError
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


def per_example(w: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Weights of shape (B,) reshaped to broadcast over examples of ``like`` (B, ...)."""
    return w.to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))


class MixingObjective(Objective):
    """The shared loss of the mixing methods; a subclass implements :meth:`mix`."""

    players = ("main",)

    def __init__(self, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 start_epoch: int = 0, stop_epoch: int | None = None) -> None:
        super().__init__()
        if not isinstance(start_epoch, int) or start_epoch < 0:
            raise ConfigError(f"loss.start_epoch must be an integer >= 0, got {start_epoch!r}")
        if stop_epoch is not None and (not isinstance(stop_epoch, int) or stop_epoch <= start_epoch):
            raise ConfigError(f"loss.stop_epoch must be null or an integer > loss.start_epoch ({start_epoch}), "
                              f"got {stop_epoch!r}")
        self.criterion = criterion if criterion is not None else nn.CrossEntropyLoss(reduction="none")
        self.start_epoch, self.stop_epoch = start_epoch, stop_epoch

    def active(self, progress: Progress | None) -> bool:
        """Whether this batch is mixed (``progress`` None: always)."""
        if progress is None:
            return True
        return progress.epoch >= self.start_epoch and (self.stop_epoch is None or progress.epoch < self.stop_epoch)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix | None:
        """The blended batch (None: no mixing)."""
        raise NotImplementedError

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.criterion(logits, y)
        if loss.shape != y.shape:
            raise ConfigError(f"loss.criterion must return one loss per example (shape {tuple(y.shape)}), got shape "
                              f"{tuple(loss.shape)}: give it reduction: none")
        return loss

    def forward(self, model: nn.Module, batch: Batch, player: str = "main",
                progress: Progress | None = None) -> dict[str, torch.Tensor]:
        x, y = batch["x"], batch["y"]
        mix = self.mix(x, y) if self.active(progress) else None
        if mix is None:
            logits = model(x)
            loss = self.per_example_loss(logits, y).mean()
            acc = (logits.detach().argmax(1) == y).float().mean()
            return {"loss": loss, "acc": acc, "mixed": torch.zeros((), device=x.device)}
        logits = model(mix.x)
        w = mix.label_weight
        y_b = y[mix.partner]
        if isinstance(w, float) and w == 1.0:  # SamplePairing: the second label has no weight
            loss = self.per_example_loss(logits, y).mean()
        else:
            loss = (w * self.per_example_loss(logits, y) + (1 - w) * self.per_example_loss(logits, y_b)).mean()
        # accuracy against the label with the larger weight (the argmax of the mixed label)
        major = torch.where(torch.as_tensor(w, device=y.device) >= 0.5, y, y_b)
        acc = (logits.detach().argmax(1) == major).float().mean()
        lam = torch.as_tensor(mix.input_weight, device=x.device, dtype=torch.float32).mean()
        return {"loss": loss, "acc": acc, "mixed": torch.ones((), device=x.device), "lam": lam}


class NoMixing(MixingObjective):
    """Plain training with the same criterion: the baseline the mixing methods are compared with."""

    def __init__(self, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__(criterion)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix | None:
        return None
