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


def test_derived_gradients_are_the_posts_formula():
    """The generator-encoder player's gradients (derived=true) equal autograd of the post's
    ``-E_p log D(x, E(x)) - E_q log D(G(z), z)`` written with plain torch ops."""
    torch.manual_seed(0)
    m = ModelParts({"encoder": nn.Linear(4, 2), "generator": nn.Linear(2, 4), "discriminator": Joint()})
    loss, x = ALILoss(z_dim=2, derived=True), torch.randn(8, 4)
    torch.manual_seed(1)
    loss(m, {"x": x}, "generator", Progress(0, 0, 0, 1, 1, "generator"))["loss"].backward()
    ours = {name: p.grad.clone() for name, p in m.named_parameters() if not name.startswith("discriminator")}
    m.zero_grad()
    torch.manual_seed(1)
    z = torch.randn(8, 2)
    formula = (-torch.sigmoid(m.discriminator(x, m.encoder(x))).log().mean()
               - torch.sigmoid(m.discriminator(m.generator(z), z)).log().mean())
    formula.backward()
    for name, grad in ours.items():
        torch.testing.assert_close(grad, dict(m.named_parameters())[name].grad, rtol=1e-5, atol=1e-7)


def test_the_derived_encoder_term_moves_codes_toward_what_d_calls_real():
    """Why derived ALI fails (docs/vigan.md): with D's logit ``a . z`` (x ignored), the derived encoder term
    ``-log sigmoid(a . E(x))`` has gradient ``-(1 - sigmoid(a . E)) a`` on the code, so descent moves E(x) along
    ``+a``, deeper into the side D labels "encoder pair": the encoder helps D separate the two joints. The
    standard term ``-log(1 - sigmoid(a . E))`` moves it along ``-a``, toward the generator's pairs."""

    class CodeOnly(nn.Module):
        def __init__(self, a: torch.Tensor) -> None:
            super().__init__()
            self.a = a

        def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return z @ self.a

    a = torch.tensor([1.0, -2.0])
    code = torch.tensor([[0.3, 0.1]])
    for derived, sign in ((True, 1.0), (False, -1.0)):
        encoder = nn.Linear(1, 2, bias=False)
        m = ModelParts({"encoder": encoder, "generator": nn.Linear(2, 1), "discriminator": CodeOnly(a)})
        with torch.no_grad():
            encoder.weight.copy_(code.T)
        p = torch.sigmoid(code @ a).squeeze()
        expected = -(1 - p) * a if derived else p * a  # d(term)/dE: derived -(1 - p) a, standard p a
        out = ALILoss(z_dim=2, derived=derived)(m, {"x": torch.ones(1, 1)}, "generator", Progress(0, 0, 0, 1, 1, "generator"))
        grad = torch.autograd.grad(out["loss"], encoder.weight)[0]  # E(x) = W^T x with x = 1: dE/dW = I
        torch.testing.assert_close(grad.T, expected.unsqueeze(0))
        assert sign * float(-(grad.T @ a)) > 0  # descent raises D's logit (derived) or lowers it (standard)
