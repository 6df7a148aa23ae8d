"""A small neural vector field ``f(x) = scale * MLP(x / scale)`` for data with no known mechanism.

The neural-ODE view of the post (Su Jianlin, kexue.fm/archives/5643; Chen et al. 2018): the cell is
an explicit solver step and the field is any network. ``scale`` puts states of size ~``scale`` (counts
of tens, say) into the range where ``tanh`` units work, and back. The last layer starts at zero, so
training starts from ``f = 0`` (every state at rest) rather than from a random flow.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.errors import ConfigError


class NeuralField(nn.Module):
    """An MLP ``R^S -> R^S`` (``+1`` input for ``t`` when ``time_dependent``), ``depth`` hidden layers of ``hidden`` units."""

    def __init__(self, num_species: int, hidden: int = 64, depth: int = 2, scale: float = 1.0,
                 time_dependent: bool = False) -> None:
        super().__init__()
        if num_species < 1 or hidden < 1 or depth < 1 or not scale > 0:
            raise ConfigError(f"NeuralField needs num_species, hidden, depth >= 1 and scale > 0; "
                              f"got {num_species}, {hidden}, {depth}, {scale}")
        self.autonomous = not time_dependent
        self.scale = float(scale)
        layers: list[nn.Module] = []
        width = num_species + (1 if time_dependent else 0)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.Tanh()]
            width = hidden
        last = nn.Linear(width, num_species)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        z = x / self.scale
        if not self.autonomous:
            z = torch.cat([z, torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[:-1]).unsqueeze(-1)], -1)
        return self.scale * self.net(z)
