"""DCGAN parts for 28x28 images: shapes, the tanh range and the N(0, 0.02) initialisation."""

from __future__ import annotations

import pytest
import torch

from models.dcgan import DCGANDiscriminator, DCGANGenerator


def test_shapes_and_range():
    torch.manual_seed(0)
    g, d = DCGANGenerator(z_dim=16, width=8), DCGANDiscriminator(width=8)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, 1, 28, 28) and float(x.detach().abs().max()) <= 1.0
    assert d(x).shape == (5,)


def test_initialisation():
    torch.manual_seed(0)
    g = DCGANGenerator(z_dim=100, width=64)
    w = g.fc[0].weight
    assert w.mean().item() == pytest.approx(0.0, abs=1e-3) and w.std().item() == pytest.approx(0.02, rel=0.01)
    bn = g.fc[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=1e-3) and torch.all(bn.bias == 0)
    assert g.fc[0].bias is None and g.deconv[0].bias is None  # no bias before a BN
