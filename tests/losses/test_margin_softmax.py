"""Properties every member of the margin-softmax family shares, swept over the members (kexue.fm/archives/5743)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from losses.am_softmax import AMSoftmaxLoss
from losses.arcface import ArcFaceLoss
from losses.scaled_softmax import ScaledSoftmaxLoss
from losses.simpler_a_softmax import SimplerASoftmaxLoss

MEMBERS = {"am_softmax": AMSoftmaxLoss, "simpler_a_softmax": SimplerASoftmaxLoss, "arcface": ArcFaceLoss}
NO_MARGIN = {"am_softmax": 0.0, "simpler_a_softmax": 1, "arcface": 0.0}  # the value that is no margin at all
ALL = {"scaled_softmax": ScaledSoftmaxLoss, **MEMBERS}


def batch(n=8, dim=6, classes=10, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g, dtype=dtype), torch.randint(classes, (n,), generator=g)


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_no_margin_is_the_scaled_softmax(name):
    z, y = batch()
    torch.manual_seed(0)
    member = MEMBERS[name](num_classes=10, dim=6, scale=30.0, margin=NO_MARGIN[name]).double()
    torch.manual_seed(0)
    plain = ScaledSoftmaxLoss(num_classes=10, dim=6, scale=30.0).double()
    torch.testing.assert_close(member(nn.Identity(), {"x": z, "y": y})["loss"],
                               plain(nn.Identity(), {"x": z, "y": y})["loss"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_a_margin_only_lowers_the_target_logit(name):
    z, y = batch(n=64, classes=30, seed=1)
    loss = MEMBERS[name](num_classes=30, dim=6).double()
    cos = loss.cosines(z)
    logits = loss.logits(cos, y)
    off_target = torch.ones_like(cos, dtype=torch.bool)
    off_target[torch.arange(len(y)), y] = False
    torch.testing.assert_close(logits[off_target], 30.0 * cos[off_target])
    assert (logits[~off_target] <= 30.0 * cos[~off_target] + 1e-12).all()


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradients_pass_gradcheck_in_float64(name):
    z, y = batch(n=5, dim=4, classes=6, seed=2)
    loss = ALL[name](num_classes=6, dim=4).double()
    centres = loss.centres.detach().clone().requires_grad_(True)

    def f(z, centres):  # the loss as a function of the sentence vectors and the class centres
        return torch.func.functional_call(loss, {"centres": centres}, (nn.Identity(), {"x": z, "y": y}))["loss"]

    assert torch.autograd.gradcheck(f, (z.requires_grad_(True), centres), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ALL))
def test_float32_under_autocast(name):
    z, y = batch(n=16, dim=8, classes=40, seed=3, dtype=torch.float32)
    loss = ALL[name](num_classes=40, dim=8)
    z16 = z.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(nn.Identity(), {"x": z16, "y": y})["loss"]
    assert out.dtype == torch.float32
    # the same numbers as in float32 from the same (rounded) inputs: bf16 would be off by about 1e-2
    torch.testing.assert_close(out, loss(nn.Identity(), {"x": z16.float(), "y": y})["loss"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ALL))
def test_memory_at_90000_classes_is_one_batch_by_classes_tensor(name):
    """No one-hot: of the tensors autograd keeps for backward, one at most is (batch, classes)."""
    classes, n, dim = 90_000, 100, 128
    z = torch.randn(n, dim, requires_grad=True)
    y = torch.randint(classes, (n,))
    loss = ALL[name](num_classes=classes, dim=dim)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = loss(nn.Identity(), {"x": z, "y": y})["loss"]
    big = {t.data_ptr(): t for t in saved if t.shape == (n, classes)}  # (the centres, C x D, are kept too)
    assert len(big) <= 1, [tuple(t.shape) for t in big.values()]
    out.backward()
    assert loss.centres.grad.shape == (classes, dim)


def test_bad_settings_are_one_line():
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="loss.scale"):
        AMSoftmaxLoss(10, 4, scale=0.0)
    with pytest.raises(ConfigError, match="loss.margin"):
        SimplerASoftmaxLoss(10, 4, margin=0)
    with pytest.raises(ConfigError, match="loss.num_classes"):
        ArcFaceLoss(0, 4)
