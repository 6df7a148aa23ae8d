"""ALILoss, standard and derived, recomputed by hand on small tensors."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.parts import ModelParts
from engine.progress import Progress
from losses.ali import ALILoss


def bce(logit: torch.Tensor, target: float) -> torch.Tensor:
    p = torch.sigmoid(logit)
    return -(target * p.log() + (1 - target) * (1 - p).log()).mean()


class Joint(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4 + 2, 1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, z], 1)).squeeze(1)


@pytest.mark.parametrize("derived", [False, True])
def test_ali_by_hand(derived: bool):
    torch.manual_seed(0)
    m = ModelParts({"encoder": nn.Linear(4, 2), "generator": nn.Linear(2, 4), "discriminator": Joint()})
    loss, x = ALILoss(z_dim=2, derived=derived), torch.randn(6, 4)
    torch.manual_seed(1)
    d = loss(m, {"x": x}, "discriminator", Progress(0, 0, 0, 1, 1, "discriminator"))
    torch.manual_seed(1)
    z = torch.randn(6, 2)
    enc_logit, gen_logit = m.discriminator(x, m.encoder(x)), m.discriminator(m.generator(z), z)
    assert d["loss"].item() == pytest.approx((bce(enc_logit, 1) + bce(gen_logit, 0)).item(), rel=1e-5)
    torch.manual_seed(1)
    g = loss(m, {"x": x}, "generator", Progress(0, 0, 0, 1, 1, "generator"))
    # standard: the labels swapped; derived (kexue.fm/archives/5716): -log D on both branches
    expected = bce(enc_logit, 1.0 if derived else 0.0) + bce(gen_logit, 1)
    assert g["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert ALILoss.updates["generator"] == ("generator", "encoder")
