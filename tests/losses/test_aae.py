"""AAELoss recomputed by hand on small tensors."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.parts import ModelParts
from engine.progress import Progress
from losses.aae import AAELoss


def bce(logit: torch.Tensor, target: float) -> torch.Tensor:
    p = torch.sigmoid(logit)
    return -(target * p.log() + (1 - target) * (1 - p).log()).mean()


def test_aae_by_hand():
    torch.manual_seed(0)
    m = ModelParts({"encoder": nn.Linear(4, 2), "generator": nn.Linear(2, 4),
                    "discriminator": nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))})
    loss, x = AAELoss(z_dim=2, recon_weight=3.0), torch.randn(6, 4)
    torch.manual_seed(1)
    d = loss(m, {"x": x}, "discriminator", Progress(0, 0, 0, 1, 1, "discriminator"))
    torch.manual_seed(1)
    prior = torch.randn(6, 2)
    code = m.encoder(x)
    assert d["loss"].item() == pytest.approx((bce(m.discriminator(prior), 1) + bce(m.discriminator(code), 0)).item(), rel=1e-5)
    a = loss(m, {"x": x}, "autoencoder", Progress(0, 0, 0, 1, 1, "autoencoder"))
    expected = bce(m.discriminator(code), 1) + 3.0 * ((m.generator(code) - x) ** 2).mean()
    assert a["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert AAELoss.updates == {"discriminator": ("discriminator",), "autoencoder": ("encoder", "generator")}
    torch.testing.assert_close(loss.reconstruct(m, x), m.generator(m.encoder(x)))
