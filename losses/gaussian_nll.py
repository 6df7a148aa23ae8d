"""Gaussian negative log-likelihood of the observations, ``y ~ N(x(t), sigma_i^2)`` per species ``i``::

    -log p(y | x) = (y - x)^2 / (2 sigma_i^2) + log sigma_i + log(2 pi) / 2

``sigma: null`` learns one ``log sigma_i`` per species (the loss owns it, so ``best.pt`` restores
it); a number fixes it. With a fixed sigma this is the squared error scaled, plus a constant.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from engine.errors import ConfigError
from losses.trajectory_loss import TrajectoryLoss


class GaussianNLLLoss(TrajectoryLoss):
    def __init__(self, num_species: int, sigma: float | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if sigma is not None and not sigma > 0:
            raise ConfigError(f"loss.sigma must be > 0 or null (learned), got {sigma}")
        log_sigma = torch.full((num_species,), 0.0 if sigma is None else math.log(sigma))
        if sigma is None:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def pointwise(self, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if prediction.shape[-1] != self.log_sigma.shape[0]:
            raise ConfigError(f"loss.num_species={self.log_sigma.shape[0]} but the data has {prediction.shape[-1]} "
                              f"species: set loss.num_species={prediction.shape[-1]}")
        log_sigma = self.log_sigma.to(prediction.dtype)
        return 0.5 * ((y - prediction) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * math.log(2 * math.pi)
