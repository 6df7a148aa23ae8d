"""The maxout discriminator of VEEGAN / PacGAN's 2-D experiments, with PacGAN's packing.

A maxout layer (Goodfellow et al. 2013, arXiv 1302.4389) keeps, for each of ``out_dim`` units, the largest of
``pieces`` affine maps of its input: ``h_j = max_k (W_{jk} x + b_{jk})``. The discriminator is 3 such layers
of 200 units with 5 pieces and a linear unit on top, weights ``N(0, 0.02^2)``, biases 0 (Srivastava et al.
2017, VEEGAN, arXiv 1705.07761; Lin et al. 2018, PacGAN, arXiv 1712.04086, section 4.1).

**Packing** (PacGAN): ``packing = m`` makes the discriminator judge ``m`` samples at once. A batch of ``B``
samples (real or generated, never mixed) is split into ``B / m`` packs of consecutive samples, each pack's
samples concatenated into one input of ``m x in_dim`` numbers, and one logit comes out per pack:
``(B, in_dim) -> (B / m,)``. A discriminator that sees several samples together can tell a collapsed
generator by their lack of diversity; the losses do not change (their BCE runs over packs). PacGAN-m with
the paper's 100 packs per batch therefore takes ``data.batch_size = 100 m`` samples.

With ``code_dim > 0`` it is ALI's joint discriminator ``D(x, z)``: ``x`` and ``z`` concatenated at the input.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.errors import ConfigError, as_int
from models.mlp import gaussian_init


class Maxout(nn.Module):
    """``(B, in_dim) -> (B, out_dim)``: the maximum over ``pieces`` affine maps per unit."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int = 5) -> None:
        super().__init__()
        self.out_dim, self.pieces = out_dim, pieces
        self.linear = nn.Linear(in_dim, out_dim * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), self.out_dim, self.pieces).amax(-1)


class MaxoutDiscriminator(nn.Module):
    """D(x) (or D(x, z) with ``code_dim``): ``depth`` maxout layers, then one logit per pack of ``packing`` samples."""

    def __init__(self, in_dim: int = 2, hidden: int = 200, depth: int = 3, pieces: int = 5, packing: int = 1,
                 code_dim: int = 0, init_std: float | None = 0.02) -> None:
        super().__init__()
        self.packing = as_int("model.discriminator.packing", packing, 1)
        if code_dim and self.packing > 1:
            raise ConfigError("model.discriminator.packing > 1 with a joint D(x, z) (code_dim > 0) is not PacGAN: "
                              "packing applies to the GAN's D(x); set model.discriminator.packing=1")
        self.code_dim = int(code_dim)
        sizes = [(in_dim + self.code_dim) * self.packing] + [hidden] * depth
        self.net = nn.Sequential(*[Maxout(a, b, pieces) for a, b in zip(sizes[:-1], sizes[1:], strict=False)],
                                 nn.Linear(hidden, 1))
        gaussian_init(self.net, init_std)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if (z is None) != (self.code_dim == 0):
            raise ConfigError("a joint discriminator D(x, z) needs model.discriminator.code_dim = the code size "
                              "(model=ali_mlp sets it); a plain D(x) needs code_dim=0")
        if z is not None:
            x = torch.cat([x, z], 1)
        if len(x) % self.packing:
            raise ConfigError(f"model.discriminator.packing={self.packing} does not divide the batch of {len(x)} "
                              f"samples: set data.batch_size to a multiple of {self.packing} (100 x packing is PacGAN's)")
        return self.net(x.reshape(len(x) // self.packing, -1)).squeeze(-1)
