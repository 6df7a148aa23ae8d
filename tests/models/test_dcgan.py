"""DCGAN parts (28x28 and the VI-GAN paper's 64x64): shapes, the tanh range, the N(0, 0.02) initialisation, no-BN."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from models.dcgan import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, JointDiscriminator
from models.dcgan64 import DCGAN64Discriminator, DCGAN64Generator


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


def test_without_batch_norm_there_is_no_bn_and_no_bias_before_it():
    """The paper's models_64x64_no_BN: BN -> identity; the layers that fed a BN keep no bias."""
    g, d = DCGANGenerator(z_dim=8, width=4, batch_norm=False), DCGANDiscriminator(width=4, batch_norm=False)
    for net in (g, d):
        assert not [m for m in net.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    assert g.fc[0].bias is None and g.deconv[0].bias is None and d.features[2].bias is None
    x = g(torch.randn(3, 8))
    assert x.shape == (3, 1, 28, 28) and d(x).shape == (3,)
    logits = DCGANGenerator(z_dim=8, width=4, tanh=False)(torch.randn(3, 8))
    assert float(logits.detach().abs().max()) > 0  # no tanh: the VAE's Bernoulli logits


def test_encoder_and_joint_discriminator_shapes():
    x = torch.randn(5, 1, 28, 28)
    assert DCGANEncoder(z_dim=7, width=4)(x).shape == (5, 7)
    assert DCGANEncoder(z_dim=7, width=4, gaussian=True)(x).shape == (5, 14)
    assert JointDiscriminator(z_dim=7, width=4, hidden=16)(x, torch.randn(5, 7)).shape == (5,)


def test_the_papers_64x64_nets_match_tensorflow_same_padding():
    """Stride-2 5x5 layers with TF 'SAME' padding halve (or double) the side exactly: 4 -> 64 -> 4."""
    g, d = DCGAN64Generator(z_dim=10, width=4), DCGAN64Discriminator(width=4)
    x = g(torch.randn(2, 10))
    assert x.shape == (2, 3, 64, 64) and float(x.detach().abs().max()) <= 1
    sides = []
    h = torch.randn(2, 3, 64, 64)
    for m in d.net:
        h = m(h)
        if isinstance(m, nn.Conv2d):
            sides.append(h.shape[-1])
    assert sides == [32, 16, 8, 4] and d(x).shape == (2,)
    convs = [m for m in g.deconv if isinstance(m, nn.ConvTranspose2d)]
    assert [c.kernel_size for c in convs] == [(5, 5)] * 4 and [c.out_channels for c in convs] == [16, 8, 4, 3]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in DCGAN64Generator(width=4, batch_norm=False).modules()) == 0
