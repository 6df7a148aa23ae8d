"""The scaled softmax is cross-entropy of s times the cosine logits, recomputed with plain torch ops."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from losses.scaled_softmax import ScaledSoftmaxLoss


def test_equals_cross_entropy_of_scaled_cosines():
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(9, 6, generator=g), torch.randint(13, (9,), generator=g)
    loss = ScaledSoftmaxLoss(num_classes=13, dim=6, scale=30.0)
    out = loss(nn.Identity(), {"x": z, "y": y})
    cos = F.normalize(z, dim=1) @ F.normalize(loss.centres.detach(), dim=1).t()
    torch.testing.assert_close(out["loss"], F.cross_entropy(30.0 * cos, y), rtol=1e-6, atol=1e-6)
    assert out["acc"] == (cos.argmax(1) == y).float().mean()


def test_centres_are_unit_vectors_at_start():
    loss = ScaledSoftmaxLoss(num_classes=100, dim=16)
    torch.testing.assert_close(loss.centres.detach().norm(dim=1), torch.ones(100))
