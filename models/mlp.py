"""Multilayer perceptrons for 2-D data: a generator ``z -> x``, an encoder ``x -> z`` and a discriminator ``x -> logit``.

Also the AAE's discriminator on codes ``z`` (its input is the code size). ``depth`` hidden layers of
``hidden`` units each, ReLU in the generator and encoder, LeakyReLU(0.2) in the discriminator; PyTorch's
default init unless ``init_std`` is given. ``batch_norm=true`` is the VEEGAN / PacGAN generator
(Srivastava et al. 2017; Lin et al. 2018): every hidden layer is ``Linear (no bias) -> BatchNorm -> ReLU``,
the output layer linear with a bias, weights ``N(0, init_std^2)`` and biases 0 (their ``init_std = 0.02``),
BN's running statistics updated with momentum 0.05 (theirs).
"""

from __future__ import annotations

import torch
import torch.nn as nn


def mlp(sizes: list[int], activation: type[nn.Module] | nn.Module, batch_norm: bool = False) -> nn.Sequential:
    """Linear layers between ``sizes``, ``activation`` after all but the last; with ``batch_norm`` a BN (and
    no bias in the linear layer that feeds it) before every activation."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        hidden = i < len(sizes) - 2
        layers.append(nn.Linear(a, b, bias=not (hidden and batch_norm)))
        if hidden:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b, momentum=0.05))  # PacGAN's population update, 0.05 new
            layers.append(activation() if isinstance(activation, type) else activation)
    return nn.Sequential(*layers)


def gaussian_init(net: nn.Module, std: float | None) -> None:
    """Linear weights ``N(0, std^2)``, biases 0 (BN keeps scale 1, shift 0); ``std=None`` keeps PyTorch's init."""
    if std is None:
        return
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class MLPGenerator(nn.Module):
    """G(z): ``(B, z_dim)`` -> ``(B, out_dim)``, no output activation."""

    def __init__(self, z_dim: int = 16, out_dim: int = 2, hidden: int = 128, depth: int = 3,
                 batch_norm: bool = False, init_std: float | None = None) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = mlp([z_dim] + [hidden] * depth + [out_dim], nn.ReLU, batch_norm)
        gaussian_init(self.net, init_std)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPEncoder(MLPGenerator):
    """E(x): ``(B, in_dim)`` -> ``(B, z_dim)`` (a code) or ``(B, 2 z_dim)`` (mean and log-variance, ``gaussian``),
    the generator's network read the other way (ALI's 2-D encoder: 2 hidden layers of 400, BN, ReLU)."""

    def __init__(self, in_dim: int = 2, z_dim: int = 2, hidden: int = 400, depth: int = 2, gaussian: bool = True,
                 batch_norm: bool = True, init_std: float | None = 0.02) -> None:
        super().__init__(in_dim, 2 * z_dim if gaussian else z_dim, hidden, depth, batch_norm, init_std)
        self.z_dim = z_dim  # the code's size, not the input's


class MLPDiscriminator(nn.Module):
    """D(x): ``(B, in_dim)`` -> ``(B,)`` logits of "real"."""

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.net = mlp([in_dim] + [hidden] * depth + [1], nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
