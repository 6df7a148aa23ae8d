"""What the losses of an ODE fit share: solve from each ``x0`` to its times, compare where observed.

``reduction``: ``sum`` adds the per-value losses of a trajectory and averages over trajectories (the
post's loss, Su Jianlin, kexue.fm/archives/5643: ``sum_t sum_i mask (y - x)^2`` for its one sequence);
``mean`` averages over every observed value of the batch.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn as nn

from engine.contracts import Batch, Loss
from engine.errors import ConfigError
from engine.progress import Progress

REDUCTIONS = ("sum", "mean")


def reduce(values: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """``values`` (B, K, S) where ``mask``: per-trajectory sums averaged over B, or the mean of the observed."""
    masked = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    if reduction == "sum":
        return masked.sum() / mask.shape[0]
    return masked.sum() / mask.sum().clamp_min(1)


class TrajectoryLoss(Loss):
    """One player that updates the whole model (the ODE's field); logs ``loss`` and the observed ``mse``."""

    players = ("main",)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ConfigError(f"loss.reduction={reduction!r} is not one of {list(REDUCTIONS)}")
        self.reduction = reduction

    @abstractmethod
    def pointwise(self, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss of every value, shape (B, K, S)."""

    def forward(self, model: nn.Module, batch: Batch, player: str = "main",
                progress: Progress | None = None) -> dict[str, torch.Tensor]:
        prediction = model(batch["x0"], batch["t"])
        loss = reduce(self.pointwise(prediction, batch["y"]), batch["mask"], self.reduction)
        mse = reduce((prediction.detach() - batch["y"]) ** 2, batch["mask"], "mean")
        return {"loss": loss, "mse": mse}
