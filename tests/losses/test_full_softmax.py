"""The full softmax head is ``F.cross_entropy`` over ``h W^T + b``, summed or averaged."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from heads import D, V, features

from losses.full_softmax import FullSoftmaxLoss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_full_softmax_is_cross_entropy(reduction: str):
    torch.manual_seed(0)
    head = FullSoftmaxLoss(V, D, reduction=reduction)
    torch.nn.init.normal_(head.bias)
    h, y = features()
    loss = head.loss(h, y)["loss"]
    expected = F.cross_entropy(h @ head.weight.t() + head.bias, y, reduction=reduction)
    torch.testing.assert_close(loss, expected)
    (g_ours,) = torch.autograd.grad(loss, h)
    (g_ref,) = torch.autograd.grad(expected, h)
    torch.testing.assert_close(g_ours, g_ref)


def test_logits_without_bias_are_dot_products():
    head = FullSoftmaxLoss(V, D, bias=False)
    h, _ = features()
    torch.testing.assert_close(head.logits(h), h @ head.weight.t())
