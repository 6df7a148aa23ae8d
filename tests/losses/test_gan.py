"""GANLoss recomputed from the discriminator's logits with plain log-sigmoids; each player updates its own part."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.parts import ModelParts
from engine.progress import Progress
from losses.gan import GANLoss


def model() -> ModelParts:
    torch.manual_seed(0)
    return ModelParts({"generator": nn.Linear(3, 2), "discriminator": nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))})


def at(player: str) -> Progress:
    return Progress(0, 0, 0, 1, 1, player)


def test_losses_by_hand():
    m, loss = model(), GANLoss(z_dim=3)
    x = torch.randn(8, 2)
    torch.manual_seed(1)
    d_out = loss(m, {"x": x}, "discriminator", at("discriminator"))
    torch.manual_seed(1)
    z = torch.randn(8, 3)  # the same draw as inside the loss
    real, fake = m.discriminator(x), m.discriminator(m.generator(z))
    log_sigmoid = lambda t: -torch.log1p(torch.exp(-t))  # noqa: E731
    expected_d = -(log_sigmoid(real).mean() + log_sigmoid(-fake).mean())  # BCE(real, 1) + BCE(fake, 0)
    assert d_out["loss"].item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert d_out["acc"].item() == pytest.approx(0.5 * ((real > 0).float().mean() + (fake < 0).float().mean()).item())
    torch.manual_seed(1)
    g_out = loss(m, {"x": x}, "generator", at("generator"))
    assert g_out["loss"].item() == pytest.approx(-log_sigmoid(fake).mean().item(), rel=1e-6)  # non-saturating -log D(G(z))


def test_the_discriminator_loss_does_not_reach_the_generator():
    m, loss = model(), GANLoss(z_dim=3)
    loss(m, {"x": torch.randn(8, 2)}, "discriminator", at("discriminator"))["loss"].backward()
    assert all(p.grad is None for p in m.generator.parameters())
    assert all(p.grad is not None for p in m.discriminator.parameters())
    assert GANLoss.updates == {"discriminator": ("discriminator",), "generator": ("generator",)}
