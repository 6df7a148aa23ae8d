"""Mixup's blend and loss written out with plain torch ops; its lambda draws against Beta(alpha, alpha)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from engine.errors import ConfigError
from engine.seeding import seed_everything
from losses.mixup import MixupLoss


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 4))


def batch(n: int = 7) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    return {"x": torch.randn(n, 3, 2, 2, generator=g), "y": torch.randint(4, (n,), generator=g)}


def ce_by_hand(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)_y per example, from exp and log."""
    z = logits - logits.max(1, keepdim=True).values
    return -(z.gather(1, y[:, None])[:, 0] - z.exp().sum(1).log())


@pytest.mark.parametrize("per_sample", [False, True])
def test_loss_is_lam_ce_a_plus_one_minus_lam_ce_b(per_sample: bool):
    f, b = model(), batch()
    obj = MixupLoss(alpha=0.4, per_sample=per_sample)
    seed_everything(3)
    out = obj(f, b)
    seed_everything(3)  # the same draws, re-done by hand: the permutation (torch), then lambda (numpy)
    perm = torch.randperm(7)
    lam = torch.tensor(np.random.beta(0.4, 0.4, size=7 if per_sample else None), dtype=torch.float32)
    w = lam.view(-1, 1, 1, 1) if per_sample else lam
    x_mix = w * b["x"] + (1 - w) * b["x"][perm]
    logits = f(x_mix)
    expected = (lam * ce_by_hand(logits, b["y"]) + (1 - lam) * ce_by_hand(logits, b["y"][perm])).mean()
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(out["lam"]) == pytest.approx(float(lam.mean()), rel=1e-6)


@pytest.mark.parametrize("per_sample", [False, True])
def test_lambda_one_is_plain_cross_entropy(monkeypatch, per_sample: bool):
    f, b = model(), batch()
    obj = MixupLoss(per_sample=per_sample)
    monkeypatch.setattr(obj, "draw", lambda n: torch.ones(n) if per_sample else 1.0)
    mix = obj.mix(b["x"], b["y"])
    assert torch.equal(mix.x, b["x"])
    assert float(obj(f, b)["loss"]) == pytest.approx(float(nn.functional.cross_entropy(f(b["x"]), b["y"])), rel=1e-6)
    monkeypatch.setattr(obj, "draw", lambda n: torch.zeros(n) if per_sample else 0.0)  # and 0: the partner's
    torch.manual_seed(0)
    mix = obj.mix(b["x"], b["y"])
    torch.manual_seed(0)
    loss = obj(f, b)["loss"]
    expected = nn.functional.cross_entropy(f(b["x"][mix.partner]), b["y"][mix.partner])
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_odd_batches_and_a_batch_of_one(n: int):
    f, b = model(), batch(n)
    for per_sample in (False, True):
        out = MixupLoss(per_sample=per_sample)(f, b)
        assert out["loss"].shape == () and torch.isfinite(out["loss"])
    mix = MixupLoss().mix(b["x"], b["y"])
    assert sorted(mix.partner.tolist()) == list(range(n))  # a permutation of the batch


def test_same_seed_same_mix_other_seed_other_mix():
    b, obj = batch(), MixupLoss(per_sample=True)
    mixes = []
    for seed in (5, 5, 6):
        seed_everything(seed)
        mixes.append(obj.mix(b["x"], b["y"]))
    assert torch.equal(mixes[0].x, mixes[1].x) and torch.equal(mixes[0].partner, mixes[1].partner)
    assert not torch.equal(mixes[0].x, mixes[2].x)


def test_uniform_draws_have_the_uniform_mean_and_variance():
    # Beta(1, 1) = U(0, 1): mean 1/2 (standard error 0.002 at n = 20,000), variance 1/12 (standard error 0.0005)
    seed_everything(0)
    obj = MixupLoss(alpha=1.0, per_sample=True)
    lam = obj.mix(torch.zeros(20000, 1), torch.zeros(20000, dtype=torch.long)).label_weight
    assert float(lam.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(lam.var()) == pytest.approx(1 / 12, abs=0.003)
    assert 0.0 <= float(lam.min()) and float(lam.max()) <= 1.0


@pytest.mark.parametrize("bad", [{"alpha": 0.0}, {"alpha": -1.0}, {"alpha": "one"}, {"per_sample": "yes"},
                                 {"stop_epoch": 0}, {"start_epoch": -1}])
def test_invalid_settings_are_one_clear_error(bad: dict):
    with pytest.raises(ConfigError, match="loss\\."):
        MixupLoss(**bad)
