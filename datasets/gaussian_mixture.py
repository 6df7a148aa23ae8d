"""Mixtures of 2-D Gaussians, the standard mode-collapse benchmark for GANs.

``ring``: 8 modes evenly spaced on a circle of radius 2, standard deviation 0.02 (Metz et al. 2017,
"Unrolled GANs", arXiv 1611.02163); PacGAN's ring is the unit circle with 0.01 (``scale=1, std=0.01``).
``grid``: 25 modes at ``{-4, -2, 0, 2, 4}^2``, standard deviation 0.05
(Srivastava et al. 2017, VEEGAN, arXiv 1705.07761; Lin et al. 2018, PacGAN). Every mode has the same
weight. Batches are ``{"x": (B, 2)}``, a pure function of ``(seed, epoch, batch)``; validation and test
are fixed samples (they only matter to evaluators that compare with data; the mode-coverage metrics
compare samples with the modes themselves).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from engine.contracts import DataModule
from engine.errors import ConfigError
from engine.progress import Progress
from engine.seeding import stream_seed

LAYOUTS = ("ring", "grid")


def mixture_centers(layout: str, modes: int | None = None, scale: float | None = None) -> torch.Tensor:
    """The modes' centres, ``(K, 2)``: ``ring`` (K modes, radius ``scale``, default 8 and 2) or ``grid``
    (``K = n^2`` modes, ``scale`` apart and centred on 0, default 25 and 2)."""
    if modes is not None and (isinstance(modes, bool) or not isinstance(modes, int) or modes < 1):
        raise ConfigError(f"data.modes={modes!r}: a mixture needs at least one mode (an int >= 1, or null for "
                          f"the layout's standard 8 on the ring, 25 on the grid)")
    if layout == "ring":
        k, r = modes or 8, 2.0 if scale is None else scale
        angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
        return (r * torch.stack([angles.cos(), angles.sin()], 1)).float()
    if layout == "grid":
        k, gap = modes or 25, 2.0 if scale is None else scale
        n = math.isqrt(k)
        if n * n != k:
            raise ConfigError(f"data.modes={k}: a grid needs a square number of modes (25 = 5 x 5)")
        axis = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * gap
        return torch.cartesian_prod(axis, axis)
    raise ConfigError(f"data.layout={layout!r} is not one of {LAYOUTS}")


class GaussianMixtureData(DataModule):
    """Equal-weight isotropic Gaussians at :func:`mixture_centers`, each with standard deviation ``std``."""

    unit = "samples"

    def __init__(self, layout: str = "ring", modes: int | None = None, scale: float | None = None,
                 std: float | None = None, batch_size: int = 256, batches_per_epoch: int = 500,
                 eval_size: int = 10_000) -> None:
        self.centers = mixture_centers(layout, modes, scale)
        self.layout = layout
        self.std = float(std if std is not None else 0.02 if layout == "ring" else 0.05)
        if self.std <= 0 or batch_size < 1 or batches_per_epoch < 1 or eval_size < 1:
            raise ConfigError(f"data.std must be > 0 and data.batch_size, batches_per_epoch, eval_size >= 1; got "
                              f"{self.std}, {batch_size}, {batches_per_epoch}, {eval_size}")
        self.batch_size, self._batches, self.eval_size = batch_size, batches_per_epoch, eval_size
        self.device, self.seed = torch.device("cpu"), 0

    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed

    @property
    def batches_per_epoch(self) -> int:
        return self._batches

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` draws from the mixture (on the CPU, from ``generator``)."""
        which = torch.randint(len(self.centers), (n,), generator=generator)
        return self.centers[which] + self.std * torch.randn(n, 2, generator=generator)

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch, progress.batch))
        return self.shard({"x": self.sample(self.batch_size, g).to(self.device)})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        if split not in ("val", "test"):
            raise ConfigError(f"split must be val or test, got {split!r}")
        g = torch.Generator().manual_seed(1 if split == "val" else 2)
        yield {"x": self.sample(self.eval_size, g).to(self.device)}
