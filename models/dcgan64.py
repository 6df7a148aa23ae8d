"""The VI-GAN paper's 64x64 DCGAN (kexue.fm/archives/5716; its code's ``models_64x64.py``), for CelebA.

Generator: FC(z_dim -> 4 x 4 x 8w) + BN + ReLU -> three ConvTranspose 5x5 stride 2 (4w, 2w, w) + BN + ReLU ->
ConvTranspose 5x5 stride 2 to ``channels`` -> tanh. Discriminator: Conv 5x5 stride 2 to w + LeakyReLU(0.2)
(no BN) -> Conv 5x5 stride 2 to 2w, 4w, 8w + BN + LeakyReLU(0.2) -> FC to one logit. ``w = 64`` is the paper's.
TensorFlow's 'SAME' padding is ``padding=2`` (plus ``output_padding=1`` when transposed); N(0, 0.02) init;
no biases before BN. ``batch_norm: false`` is the paper's ``models_64x64_no_BN`` (BN -> identity, still no bias).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.dcgan import dcgan_init, norm


class DCGAN64Generator(nn.Module):
    """G(z): ``(B, z_dim)`` -> ``(B, channels, 64, 64)`` in [-1, 1]."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 3, batch_norm: bool = True) -> None:
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.fc = nn.Sequential(nn.Linear(z_dim, 4 * 4 * 8 * width, bias=False),
                                norm(nn.BatchNorm1d, 4 * 4 * 8 * width, batch_norm), nn.ReLU())
        layers: list[nn.Module] = []
        for c_in, c_out in ((8 * width, 4 * width), (4 * width, 2 * width), (2 * width, width)):
            layers += [nn.ConvTranspose2d(c_in, c_out, 5, 2, 2, output_padding=1, bias=False),
                       norm(nn.BatchNorm2d, c_out, batch_norm), nn.ReLU()]
        layers += [nn.ConvTranspose2d(width, channels, 5, 2, 2, output_padding=1), nn.Tanh()]
        self.deconv = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(len(z), 8 * self.width, 4, 4))


class DCGAN64Discriminator(nn.Module):
    """D(x): ``(B, channels, 64, 64)`` -> ``(B,)`` logits of "real"."""

    def __init__(self, width: int = 64, channels: int = 3, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 5, 2, 2), nn.LeakyReLU(0.2)]
        for c_in, c_out in ((width, 2 * width), (2 * width, 4 * width), (4 * width, 8 * width)):
            layers += [nn.Conv2d(c_in, c_out, 5, 2, 2, bias=False), norm(nn.BatchNorm2d, c_out, batch_norm),
                       nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(8 * width * 4 * 4, 1))
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
