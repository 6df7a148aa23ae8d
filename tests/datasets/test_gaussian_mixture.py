"""The 2-D mixtures: the standard layouts, the stated spread, batches as a pure function of (seed, progress)."""

from __future__ import annotations

import math

import pytest
import torch

from datasets.gaussian_mixture import GaussianMixtureData, mixture_centers
from engine.errors import ConfigError
from engine.progress import Progress


def test_layouts():
    ring = mixture_centers("ring")
    assert ring.shape == (8, 2) and torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(ring[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    grid = mixture_centers("grid")
    assert grid.shape == (25, 2) and set(grid[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    with pytest.raises(ConfigError, match="square"):
        mixture_centers("grid", modes=24)
    with pytest.raises(ConfigError, match="layout"):
        mixture_centers("spiral")


def test_samples_spread_as_stated_and_batches_are_reproducible():
    data = GaussianMixtureData("ring", batch_size=20_000)
    data.setup(seed=3)
    assert data.std == 0.02 and GaussianMixtureData("grid").std == 0.05
    x = data.train_batch(Progress(0, 0, 5, 10, 10))["x"]
    offset = x - data.centers[torch.cdist(x, data.centers).argmin(1)]
    assert offset.std().item() == pytest.approx(0.02, rel=0.03)
    counts = torch.bincount(torch.cdist(x, data.centers).argmin(1), minlength=8).float()
    assert (counts / 20_000 - 1 / 8).abs().max() < 4 * math.sqrt(1 / 8 * 7 / 8 / 20_000)  # equal weights
    assert torch.equal(x, data.train_batch(Progress(7, 0, 5, 10, 10))["x"])  # (seed, epoch, batch) alone
    assert not torch.equal(x, data.train_batch(Progress(0, 0, 6, 10, 10))["x"])
    (val,) = data.eval_batches("val")
    assert val["x"].shape == (10_000, 2)
    with pytest.raises(ConfigError, match="std"):
        GaussianMixtureData(std=0)
