"""Poisson negative log-likelihood for counts: ``scale * y ~ Poisson(scale * x(t))``::

    -log p(y | x) = lambda - k log lambda + log k!,   lambda = scale * x,  k = scale * y

``scale`` is the number of detected counts per unit of state (``data.noise_scale`` of Poisson-observed
simulated data; 1 for raw molecule counts). Predictions below ``eps`` are floored there, so a
trajectory that dips to zero costs a large but finite loss.
"""

from __future__ import annotations

import torch

from engine.errors import ConfigError
from losses.trajectory_loss import TrajectoryLoss


class PoissonNLLLoss(TrajectoryLoss):
    def __init__(self, scale: float = 1.0, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if not (scale > 0 and eps > 0):
            raise ConfigError(f"loss.scale and loss.eps must be > 0, got {scale}, {eps}")
        self.scale, self.eps = float(scale), float(eps)

    def pointwise(self, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        rate = self.scale * prediction.clamp_min(self.eps)
        k = self.scale * y
        return rate - k * torch.log(rate) + torch.lgamma(k + 1)
