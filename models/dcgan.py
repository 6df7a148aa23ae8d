"""DCGAN networks for 28x28 grey images (Radford et al. 2016, arXiv 1511.06434), at Fashion-MNIST size.

Generator: z (``z_dim``) -> FC to ``4w x 7 x 7`` + BN + ReLU -> ConvTranspose 4x4 stride 2 to ``2w x 14 x 14``
+ BN + ReLU -> ConvTranspose 4x4 stride 2 to ``channels x 28 x 28`` -> tanh (images in [-1, 1]).
Discriminator: Conv 4x4 stride 2 to ``w`` + LeakyReLU(0.2) (no BN on the input layer) -> Conv 4x4 stride 2
to ``2w`` + BN + LeakyReLU(0.2) -> FC to one logit. Weights are drawn from N(0, 0.02) as in DCGAN
(BN scales from N(1, 0.02)); layers before a BN have no bias.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) weights, zero biases; BN scale N(1, 0.02) (the DCGAN paper's initialisation)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """G(z): ``(B, z_dim)`` -> ``(B, channels, 28, 28)`` in [-1, 1]."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 1) -> None:
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.fc = nn.Sequential(nn.Linear(z_dim, 4 * width * 7 * 7, bias=False), nn.BatchNorm1d(4 * width * 7 * 7), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, channels, 4, 2, 1), nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(len(z), 4 * self.width, 7, 7))


class DCGANDiscriminator(nn.Module):
    """D(x): ``(B, channels, 28, 28)`` -> ``(B,)`` logits of "real"."""

    def __init__(self, width: int = 64, channels: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1),
        )
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
