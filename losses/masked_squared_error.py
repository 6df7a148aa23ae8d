"""Squared error on the observed points (the post's loss, Su Jianlin, kexue.fm/archives/5643):
``L = sum_{t, i} mask_{t,i} (y_{t,i} - x_i(t))^2`` per trajectory (``reduction: sum``), or its mean."""

from __future__ import annotations

import torch

from losses.trajectory_loss import TrajectoryLoss


class MaskedSquaredErrorLoss(TrajectoryLoss):
    def pointwise(self, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (prediction - y) ** 2
