"""CutMix: a box of the partner pasted in, the label weight equal to the share of the image left."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import ConfigError
from engine.seeding import seed_everything
from losses.cutmix import CutMixLoss, box


@pytest.mark.parametrize("seed", range(8))
def test_label_weight_is_the_area_left_of_x_a(seed: int):
    seed_everything(seed)
    n = 6
    x = torch.arange(1.0, n + 1).view(n, 1, 1, 1).expand(n, 2, 9, 7).contiguous()  # image i is all i + 1
    mix = CutMixLoss().mix(x, torch.arange(n))
    moved = [i for i in range(n) if mix.partner[i] != i]
    assert moved, "a permutation of 6 that fixes every example: pick another seed"
    pasted = mix.x[moved[0], 0] == mix.partner[moved[0]] + 1  # pixels that came from x_b
    for i in range(n):  # the same box in every image, filled from its partner; the rest is x_a
        assert torch.equal(mix.x[i], torch.where(pasted, x[mix.partner[i]], x[i]))
    assert mix.label_weight == pytest.approx(1.0 - float(pasted.double().mean()), abs=1e-12)
    assert mix.input_weight == mix.label_weight


def test_box_is_centred_and_clipped():
    assert box(10, 10, 0.75, 5, 5) == (3, 8, 3, 8)  # sides 10 * sqrt(0.25) = 5
    assert box(10, 10, 0.75, 0, 9) == (0, 3, 7, 10)  # clipped at the corner: 3 x 3
    assert box(10, 10, 1.0, 4, 4) == (4, 4, 4, 4)  # lam = 1: no box


def test_loss_by_hand():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.randn(5, 1, 4, 4), torch.tensor([0, 1, 2, 1, 0])
    obj = CutMixLoss(alpha=1.0)
    seed_everything(4)
    mix = obj.mix(x, y)
    seed_everything(4)
    out = obj(f, {"x": x, "y": y})
    w, logits = mix.label_weight, f(mix.x)
    expected = w * F.cross_entropy(logits, y) + (1 - w) * F.cross_entropy(logits, y[mix.partner])
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-6)


def test_a_batch_of_one_and_non_image_inputs():
    assert CutMixLoss().mix(torch.rand(1, 1, 5, 5), torch.zeros(1, dtype=torch.long)).x.shape == (1, 1, 5, 5)
    with pytest.raises(ConfigError, match="images"):
        CutMixLoss().mix(torch.rand(4, 3), torch.zeros(4, dtype=torch.long))
