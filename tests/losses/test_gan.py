"""GANLoss recomputed from the discriminator's logits with plain log-sigmoids; each player updates its own part."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

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


def g_at(repeat: int, repeats: int) -> Progress:
    return Progress(0, 0, 0, 1, 1, "generator", repeat, repeats)


def grads(m: ModelParts, value: torch.Tensor) -> list[torch.Tensor]:
    return [g.clone() for g in torch.autograd.grad(value, list(m.generator.parameters()), retain_graph=True)]


def test_the_regulariser_is_zero_on_the_first_update_and_active_on_the_second():
    """VI-GAN: L_G = -log D(G(z)) + lam * mean((G(z) - G_old(z))^2), G_old taken before the step's updates."""
    m, loss = model(), GANLoss(z_dim=3, lam=5.0)
    opt = torch.optim.SGD(m.generator.parameters(), lr=0.5)
    x = torch.randn(8, 2)
    log_sigmoid = lambda t: -torch.log1p(torch.exp(-t))  # noqa: E731
    before = m.generator(torch.zeros(1, 3)).detach()
    out = loss(m, {"x": x}, "generator", g_at(0, 2))
    z, anchor = loss._z[0], m.generator(loss._z[0]).detach()  # G_old(z): the generator before any update
    logit = m.discriminator(m.generator(z))
    standard = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))  # the loss's own op, bit for bit
    assert out["drift"].item() == 0.0
    for g_total, g_standard in zip(grads(m, out["loss"]), grads(m, standard), strict=True):
        assert torch.equal(g_total, g_standard)  # the regulariser's gradient is exactly 0 on the first update
    opt.zero_grad()
    out["loss"].backward()
    opt.step()
    assert not torch.equal(m.generator(torch.zeros(1, 3)).detach(), before)

    out = loss(m, {"x": x}, "generator", g_at(1, 2))
    assert torch.equal(loss._z[0], z)  # the same z on the second update
    fake = m.generator(z)
    by_hand = -log_sigmoid(m.discriminator(fake)).mean() + 5.0 * ((fake - anchor) ** 2).mean()
    assert out["loss"].item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert out["drift"].item() > 0
    reg = grads(m, 5.0 * ((m.generator(z) - anchor) ** 2).mean())
    assert max(float(g.abs().max()) for g in reg) > 1e-4  # active on the second update
    for g_total, g_hand in zip(grads(m, out["loss"]), grads(m, by_hand), strict=True):
        torch.testing.assert_close(g_total, g_hand)


def test_lam_zero_is_the_standard_gan_exactly():
    m, loss = model(), GANLoss(z_dim=3, lam=0.0)
    log_sigmoid = lambda t: -torch.log1p(torch.exp(-t))  # noqa: E731
    for r in range(2):
        out = loss(m, {"x": torch.randn(8, 2)}, "generator", g_at(r, 2))
        standard = -log_sigmoid(m.discriminator(m.generator(loss._z[0]))).mean()
        assert out["loss"].item() == pytest.approx(standard.item(), rel=1e-6)
        assert out["loss"].item() == out["adversarial"].item()  # nothing added with lam = 0


def test_experiment_two_anchors_every_batch_of_z_before_the_first_update():
    """10 generator updates, 2 per batch of z: 5 batches drawn and anchored at update 0."""
    m, loss = model(), GANLoss(z_dim=3, lam=5.0, steps_per_z=2)
    opt = torch.optim.SGD(m.generator.parameters(), lr=0.5)
    x = torch.randn(8, 2)
    first = None
    for r in range(10):
        out = loss(m, {"x": x}, "generator", g_at(r, 10))
        if r == 0:
            first = loss._z.clone()
            old = [m.generator(z).detach() for z in first]
            assert first.shape == (5, 8, 3)
        assert torch.equal(loss._z, first)
        fake = m.generator(first[r // 2])
        torch.testing.assert_close(out["drift"], ((fake - old[r // 2]) ** 2).mean().detach())
        assert (out["drift"].item() == 0) == (r == 0)  # every later update has moved G away from its anchor
        opt.zero_grad()
        out["loss"].backward()
        opt.step()


def test_bad_settings_are_one_line():
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="loss.lam"):
        GANLoss(lam=-1)
    with pytest.raises(ConfigError, match="steps_per_z"):
        GANLoss(steps_per_z=0)


def test_a_nan_discriminator_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    import math

    from conftest import losses, smoke_cfg

    from engine.checkpoint import load_checkpoint
    from engine.errors import NonFiniteLossError
    from engine.runs import make_trainer

    cfg = smoke_cfg("gan_ring", "trainer.max_steps=8", "trainer.val_every_steps=100", "trainer.checkpoint_every_steps=2")

    def poison(trainer) -> None:  # the discriminator diverges after step 3
        if trainer.step == 3:
            with torch.no_grad():
                next(trainer.model.discriminator.parameters()).fill_(math.nan)

    trainer = make_trainer(cfg, tmp_path, callbacks=[poison])
    with pytest.raises(NonFiniteLossError) as err:
        trainer.fit()
    assert "\n" not in str(err.value) and str(tmp_path / "last.pt") in str(err.value)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 2  # the save at step 4 was refused
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert all(math.isfinite(v) for _, v in losses(tmp_path, "train/discriminator/loss"))
