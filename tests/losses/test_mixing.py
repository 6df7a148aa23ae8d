"""What the mixing losses share: the criterion they wrap, switching off, and the configs that build them."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import compose_cfg

from engine.errors import ConfigError
from engine.instantiate import build
from engine.progress import Progress
from engine.seeding import seed_everything
from losses.cutmix import CutMixLoss
from losses.mixing import NoMixingLoss
from losses.mixup import MixupLoss
from losses.sample_pairing import SamplePairingLoss


def data() -> tuple[nn.Module, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 3)), {"x": torch.randn(5, 2, 2, 2), "y": torch.tensor([0, 2, 1, 1, 0])}


def at_epoch(epoch: int) -> Progress:
    return Progress(step=epoch * 4, epoch=epoch, batch=0, total_steps=40, steps_per_epoch=4)


@pytest.mark.parametrize("obj", [MixupLoss(stop_epoch=2), SamplePairingLoss(stop_epoch=2), CutMixLoss(stop_epoch=2)])
def test_mixing_stops_at_stop_epoch(obj):
    f, b = data()
    assert float(obj(f, b, "main", at_epoch(1))["mixed"]) == 1.0
    out = obj(f, b, "main", at_epoch(2))
    assert float(out["mixed"]) == 0.0
    assert float(out["loss"]) == pytest.approx(float(F.cross_entropy(f(b["x"]), b["y"])), rel=1e-6)


def test_no_mixing_is_the_criterion_itself():
    f, b = data()
    smooth = nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1)
    out = NoMixingLoss(smooth)(f, b)
    assert float(out["loss"]) == pytest.approx(float(F.cross_entropy(f(b["x"]), b["y"], label_smoothing=0.1)), rel=1e-6)


def test_any_per_example_criterion_is_wrapped():
    f, b = data()
    hinge = nn.MultiMarginLoss(reduction="none")

    def per_example(logits, y):  # MultiMarginLoss(reduction="none") gives one loss per example
        return hinge(logits, y)

    seed_everything(2)
    out = MixupLoss(criterion=per_example)(f, b)
    seed_everything(2)
    mix = MixupLoss().mix(b["x"], b["y"])
    logits = f(mix.x)
    lam = mix.label_weight
    expected = (lam * hinge(logits, b["y"]) + (1 - lam) * hinge(logits, b["y"][mix.partner])).mean()
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-6)


def test_a_criterion_that_reduces_is_one_clear_error():
    f, b = data()
    with pytest.raises(ConfigError, match="reduction: none"):
        MixupLoss(criterion=nn.CrossEntropyLoss())(f, b)


@pytest.mark.parametrize("loss", ["mixup", "sample_pairing", "cutmix", "no_mixing"])
def test_configs_build_and_refuse_unknown_keys(loss: str):
    obj = build("loss", compose_cfg(f"loss={loss}").loss)
    assert isinstance(obj.criterion, nn.CrossEntropyLoss) and obj.criterion.reduction == "none"
    with pytest.raises(ConfigError, match="lamda"):
        build("loss", compose_cfg(f"loss={loss}", "+loss.lamda=0.5").loss)


@pytest.mark.parametrize("per_sample", [False, True])
def test_one_softmax_cross_entropy_equals_the_wrapped_criterion_with_label_smoothing(per_sample: bool):
    f, b = data()
    smooth = nn.CrossEntropyLoss(reduction="none", label_smoothing=0.2)
    obj = MixupLoss(alpha=0.5, per_sample=per_sample, criterion=smooth)
    assert obj.fast_ce
    seed_everything(7)
    out = obj(f, b)
    seed_everything(7)
    mix = obj.mix(b["x"], b["y"])
    logits, lam = f(mix.x), mix.label_weight
    expected = (lam * smooth(logits, b["y"]) + (1 - lam) * smooth(logits, b["y"][mix.partner])).mean()
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-6)
    out["loss"].backward()  # and it trains: gradients reach the model
    assert f[1].weight.grad is not None and float(f[1].weight.grad.abs().sum()) > 0


def test_a_custom_criterion_under_bf16_autocast_with_per_example_lambdas():
    f, b = data()
    hinge = nn.MultiMarginLoss(reduction="none")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = MixupLoss(per_sample=True, criterion=lambda logits, y: hinge(logits, y))(f, b)
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])


@pytest.mark.parametrize("obj", [MixupLoss(), MixupLoss(per_sample=True), SamplePairingLoss(), CutMixLoss()])
def test_mixed_inputs_keep_the_batch_memory_format(obj):
    # the image data module's crops give channels-last batches; a CPU max-pool on an NCHW copy is ~8x slower
    x = torch.randn(6, 3, 5, 5).contiguous(memory_format=torch.channels_last)
    mixed = obj.mix(x, torch.arange(6)).x
    assert mixed.is_contiguous(memory_format=torch.channels_last) and mixed.stride() == x.stride()
