"""The post's two-species competition model (Su Jianlin, kexue.fm/archives/5643)::

    dx1/dt = r1 x1 (1 - x1 / N1) - a1 x1 x2
    dx2/dt = r2 x2 (1 - x2 / N2) - a2 x1 x2

with ``1 / N`` learned directly (``iN1``, ``iN2``), as the post's code does. The post's true values
are ``r1 = 0.1, r2 = 0.3, a1 = 1e-4, a2 = 2e-4, iN1 = 0.002, iN2 = 0.003``; its initial guess for the
inverse problem is ``[0.1, 0.1, 0.001, 0.001, 0.001, 0.001]`` (this class's defaults).
"""

from __future__ import annotations

import torch
import torch.nn as nn

NAMES = ("r1", "r2", "a1", "a2", "iN1", "iN2")


class CompetitionField(nn.Module):
    """``f(t, x)`` for ``x = (x1, x2)`` of shape ``(B, 2)``; six named scalar parameters."""

    autonomous = True

    num_species = 2  # species names are the data's own: any two columns

    def __init__(self, r1: float = 0.1, r2: float = 0.1, a1: float = 0.001, a2: float = 0.001,
                 iN1: float = 0.001, iN2: float = 0.001) -> None:
        super().__init__()
        for name, value in zip(NAMES, (r1, r2, a1, a2, iN1, iN2)):
            self.register_parameter(name, nn.Parameter(torch.tensor(float(value))))

    def parameter_values(self) -> dict[str, float]:
        return {name: getattr(self, name).item() for name in NAMES}

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[..., 0], x[..., 1]
        dx1 = self.r1 * x1 * (1 - x1 * self.iN1) - self.a1 * x1 * x2
        dx2 = self.r2 * x2 * (1 - x2 * self.iN2) - self.a2 * x1 * x2
        return torch.stack([dx1, dx2], dim=-1)
