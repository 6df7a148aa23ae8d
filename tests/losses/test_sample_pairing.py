"""SamplePairing: the input is the exact mean of the pair, the target the first label; the paper's schedule."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.progress import Progress
from engine.seeding import seed_everything
from losses.sample_pairing import SamplePairingLoss


def test_input_is_the_exact_mean_and_the_target_the_first_label():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x, y = torch.randn(5, 1, 2, 2), torch.tensor([0, 1, 2, 1, 0])
    obj = SamplePairingLoss()
    seed_everything(1)
    mix = obj.mix(x, y)
    assert torch.equal(mix.x, (x + x[mix.partner]) / 2)
    assert mix.label_weight == 1.0 and mix.input_weight == 0.5
    seed_everything(1)
    out = obj(f, {"x": x, "y": y})
    assert float(out["loss"]) == pytest.approx(float(F.cross_entropy(f(mix.x), y)), rel=1e-6)


def at_epoch(epoch: int) -> Progress:
    return Progress(step=epoch * 10, epoch=epoch, batch=0, total_steps=1000, steps_per_epoch=10)


def test_the_papers_schedule_warm_up_on_off_then_fine_tune():
    # Inoue 2018: off for the first epochs, then on 8 / off 2 in turn, then off for fine-tuning
    obj = SamplePairingLoss(start_epoch=3, on_epochs=8, off_epochs=2, stop_epoch=25)
    on = [e for e in range(30) if obj.active(at_epoch(e))]
    assert on == [*range(3, 11), *range(13, 21), *range(23, 25)]
    assert all(SamplePairingLoss().active(at_epoch(e)) for e in range(30))  # default: always on


def test_an_off_epoch_is_plain_training():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x, y = torch.randn(6, 1, 2, 2), torch.randint(3, (6,))
    out = SamplePairingLoss(start_epoch=1)(f, {"x": x, "y": y}, "main", at_epoch(0))
    assert float(out["mixed"]) == 0.0
    assert float(out["loss"]) == pytest.approx(float(F.cross_entropy(f(x), y)), rel=1e-6)


@pytest.mark.parametrize("bad", [{"on_epochs": True}, {"on_epochs": 0}, {"off_epochs": -1}, {"off_epochs": 2}])
def test_invalid_schedules_are_one_clear_error(bad: dict):
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="loss\\.o"):
        SamplePairingLoss(**bad)
