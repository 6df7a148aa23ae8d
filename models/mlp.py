"""Multilayer perceptrons for 2-D data: a generator ``z -> x`` and a discriminator ``x -> logit``.

Also the AAE's discriminator on codes ``z`` (its input is the code size). ``depth`` hidden layers of
``hidden`` units each, ReLU in the generator, LeakyReLU(0.2) in the discriminator; PyTorch's default init.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def mlp(sizes: list[int], activation: type[nn.Module] | nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation() if isinstance(activation, type) else activation)
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """G(z): ``(B, z_dim)`` -> ``(B, out_dim)``, no output activation."""

    def __init__(self, z_dim: int = 16, out_dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = mlp([z_dim] + [hidden] * depth + [out_dim], nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x): ``(B, in_dim)`` -> ``(B,)`` logits of "real"."""

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.net = mlp([in_dim] + [hidden] * depth + [1], nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
