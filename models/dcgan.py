"""DCGAN networks for 28x28 grey images (Radford et al. 2016, arXiv 1511.06434), at Fashion-MNIST size.

Generator: z (``z_dim``) -> FC to ``4w x 7 x 7`` + BN + ReLU -> ConvTranspose 4x4 stride 2 to ``2w x 14 x 14``
+ BN + ReLU -> ConvTranspose 4x4 stride 2 to ``channels x 28 x 28`` -> tanh (images in [-1, 1]; ``tanh: false``
leaves logits, for a VAE's Bernoulli decoder).
Discriminator: Conv 4x4 stride 2 to ``w`` + LeakyReLU(0.2) (no BN on the input layer) -> Conv 4x4 stride 2
to ``2w`` + BN + LeakyReLU(0.2) -> FC to ``out_dim`` (1 logit; the encoder of VAE, AAE and ALI is the same
network with ``z_dim`` or ``2 z_dim`` outputs). Weights are drawn from N(0, 0.02) as in DCGAN (BN scales from
N(1, 0.02)); layers before a BN have no bias.

``batch_norm: false`` is the paper's second experiment (kexue.fm/archives/5716, ``models_64x64_no_BN``):
every BN becomes the identity and the layers before it keep no bias.
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


def norm(kind: type[nn.Module], features: int, on: bool) -> nn.Module:
    """A BN layer (momentum 0.1, eps 1e-5: TensorFlow's decay 0.9), or the identity with ``on = False``."""
    return kind(features) if on else nn.Identity()


class DCGANGenerator(nn.Module):
    """G(z): ``(B, z_dim)`` -> ``(B, channels, 28, 28)`` in [-1, 1] (logits with ``tanh = False``)."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 1, batch_norm: bool = True,
                 tanh: bool = True) -> None:
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.fc = nn.Sequential(nn.Linear(z_dim, 4 * width * 7 * 7, bias=False),
                                norm(nn.BatchNorm1d, 4 * width * 7 * 7, batch_norm), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), norm(nn.BatchNorm2d, 2 * width, batch_norm),
            nn.ReLU(), nn.ConvTranspose2d(2 * width, channels, 4, 2, 1), nn.Tanh() if tanh else nn.Identity(),
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(len(z), 4 * self.width, 7, 7))


class DCGANDiscriminator(nn.Module):
    """D(x): ``(B, channels, 28, 28)`` -> ``(B,)`` logits of "real" (``(B, out_dim)`` when ``out_dim > 1``)."""

    def __init__(self, width: int = 64, channels: int = 1, batch_norm: bool = True, out_dim: int = 1) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), norm(nn.BatchNorm2d, 2 * width, batch_norm),
            nn.LeakyReLU(0.2), nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * 7 * 7, out_dim)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(x))
        return out.squeeze(1) if self.out_dim == 1 else out


class DCGANEncoder(DCGANDiscriminator):
    """E(x): ``(B, channels, 28, 28)`` -> ``(B, z_dim)`` codes, or ``(B, 2 z_dim)`` (mean and log-variance
    of a Gaussian ``q(z|x)``) with ``gaussian: true``."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 1, batch_norm: bool = True,
                 gaussian: bool = False) -> None:
        super().__init__(width, channels, batch_norm, out_dim=2 * z_dim if gaussian else z_dim)
        self.z_dim, self.gaussian = z_dim, gaussian

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class JointDiscriminator(nn.Module):
    """ALI / BiGAN's D(x, z) (Dumoulin et al. 2017; Donahue et al. 2017): the DCGAN discriminator's features of
    ``x`` and an MLP's of ``z``, concatenated, then an MLP to one logit. Dropout 0.2 as in ALI."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 1, hidden: int = 512,
                 batch_norm: bool = True, dropout: float = 0.2) -> None:
        super().__init__()
        self.x_features = DCGANDiscriminator(width, channels, batch_norm).features
        self.z_features = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout))
        self.joint = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width * 7 * 7 + hidden, hidden), nn.LeakyReLU(0.2),
                                   nn.Dropout(dropout), nn.Linear(hidden, 1))
        dcgan_init(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.x_features(x), self.z_features(z)], 1)).squeeze(1)
