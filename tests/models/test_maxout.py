"""The maxout discriminator and PacGAN's packing, by hand; the BN generator of PacGAN's 2-D experiments."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.errors import ConfigError
from models.maxout import Maxout, MaxoutDiscriminator
from models.mlp import MLPEncoder, MLPGenerator


def test_maxout_is_the_max_over_pieces():
    torch.manual_seed(0)
    layer = Maxout(3, 4, pieces=5)
    x = torch.randn(6, 3)
    affine = (x @ layer.linear.weight.T + layer.linear.bias).view(6, 4, 5)  # unit j's pieces are rows 5j..5j+4
    torch.testing.assert_close(layer(x), affine.max(-1).values)


def test_packing_concatenates_consecutive_samples():
    torch.manual_seed(0)
    packed = MaxoutDiscriminator(packing=2, hidden=16)
    assert packed.net[0].linear.in_features == 4  # 2 samples x 2 coordinates
    x = torch.randn(10, 2)
    out = packed(x)
    assert out.shape == (5,)
    torch.testing.assert_close(out[1], packed.net(torch.cat([x[2], x[3]]).unsqueeze(0)).squeeze())
    with pytest.raises(ConfigError, match=r"packing=2 does not divide the batch of 7 samples.*data.batch_size"):
        packed(torch.randn(7, 2))


def test_pacgan_sizes_and_initialisation():
    torch.manual_seed(0)
    d = MaxoutDiscriminator()  # 3 maxout layers of 200 x 5 pieces, one logit
    assert [m.linear.out_features for m in d.net if isinstance(m, Maxout)] == [1000, 1000, 1000]
    w = d.net[1].linear.weight
    assert w.std().item() == pytest.approx(0.02, rel=0.01) and torch.all(d.net[1].linear.bias == 0)
    g = MLPGenerator(z_dim=2, out_dim=2, hidden=400, depth=4, batch_norm=True, init_std=0.02)
    linears = [m for m in g.net if isinstance(m, nn.Linear)]
    bns = [m for m in g.net if isinstance(m, nn.BatchNorm1d)]
    assert len(linears) == 5 and len(bns) == 4 and all(m.bias is None for m in linears[:-1])
    assert torch.all(linears[-1].bias == 0) and bns[0].momentum == 0.05
    assert linears[1].weight.std().item() == pytest.approx(0.02, rel=0.01)
    assert g(torch.randn(8, 2)).shape == (8, 2)


def test_joint_discriminator_and_encoder():
    torch.manual_seed(0)
    d = MaxoutDiscriminator(code_dim=2, hidden=8)
    e = MLPEncoder(in_dim=2, z_dim=2, hidden=16)
    x = torch.randn(6, 2)
    assert e(x).shape == (6, 4)  # mean and log-variance
    assert d(x, torch.randn(6, 2)).shape == (6,)
    with pytest.raises(ConfigError, match="code_dim"):
        d(x)
    with pytest.raises(ConfigError, match="packing"):
        MaxoutDiscriminator(code_dim=2, packing=2)
    with pytest.raises(ConfigError, match="model.discriminator.packing"):
        MaxoutDiscriminator(packing=0)
