"""The post's simpler A-Softmax: psi = min(cos 4 theta, cos theta), written as y - relu(y - cos) in its code."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from losses.simpler_a_softmax import SimplerASoftmaxLoss, cos_multiple_angle


def test_cos_multiple_angle_is_cos_of_m_theta():
    theta = torch.linspace(0, math.pi, 101, dtype=torch.float64)
    for m in (1, 2, 3, 4, 5):
        torch.testing.assert_close(cos_multiple_angle(theta.cos(), m), (m * theta).cos(), rtol=0, atol=1e-12)
    c = theta.cos()
    torch.testing.assert_close(cos_multiple_angle(c, 4), 8 * c**4 - 8 * c**2 + 1, rtol=0, atol=1e-12)


def test_equals_the_posts_relu_form():
    g = torch.Generator().manual_seed(2)
    z, y = torch.randn(12, 5, generator=g, dtype=torch.float64), torch.randint(7, (12,), generator=g)
    loss = SimplerASoftmaxLoss(num_classes=7, dim=5, scale=30.0, margin=4).double()
    cos = F.normalize(z, dim=1) @ F.normalize(loss.centres.detach(), dim=1).t()
    cos_t = cos.gather(1, y[:, None])
    y4 = 8 * cos_t**4 - 8 * cos_t**2 + 1
    psi = y4 - F.relu(y4 - cos_t)  # the post's code: min(y4, cos_t)
    one_hot = F.one_hot(y, 7).bool()
    expected = F.cross_entropy(30.0 * torch.where(one_hot, psi, cos), y)
    torch.testing.assert_close(loss(nn.Identity(), {"x": z, "y": y})["loss"], expected, rtol=1e-12, atol=1e-12)


def test_psi_is_never_above_cos():
    c = torch.linspace(-1, 1, 1001, dtype=torch.float64)
    assert (SimplerASoftmaxLoss(3, 2).psi(c) <= c + 1e-15).all()
