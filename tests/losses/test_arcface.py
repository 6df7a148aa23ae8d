"""ArcFace: psi = cos(theta + m) where theta + m <= pi, else cos theta - m sin m (the paper's code)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from losses.arcface import ArcFaceLoss


def test_psi_is_cos_of_the_angle_plus_margin():
    theta = torch.linspace(0, math.pi - 0.5 - 1e-6, 200, dtype=torch.float64)
    psi = ArcFaceLoss(3, 2, margin=0.5).psi(theta.cos())
    # sin theta = sqrt(max(1 - cos^2, 1e-12)) keeps the gradient finite at theta = 0, at an error of 1e-6 sin m there
    torch.testing.assert_close(psi, (theta + 0.5).cos(), rtol=0, atol=5e-7)
    torch.testing.assert_close(psi[1:], (theta[1:] + 0.5).cos(), rtol=0, atol=1e-9)


def test_past_pi_minus_m_it_keeps_decreasing_below_cos():
    theta = torch.linspace(math.pi - 0.5 + 1e-6, math.pi, 50, dtype=torch.float64)
    c = theta.cos()
    psi = ArcFaceLoss(3, 2, margin=0.5).psi(c)
    torch.testing.assert_close(psi, c - 0.5 * math.sin(0.5), rtol=0, atol=1e-12)
    full = ArcFaceLoss(3, 2, margin=0.5).psi(torch.linspace(-1, 1, 2001, dtype=torch.float64))
    assert (full.diff() >= 0).all()  # increasing in cos theta, i.e. decreasing in theta


def test_loss_equals_cross_entropy_with_the_angular_margin():
    g = torch.Generator().manual_seed(4)
    z, y = torch.randn(10, 6, generator=g, dtype=torch.float64), torch.randint(9, (10,), generator=g)
    loss = ArcFaceLoss(num_classes=9, dim=6, scale=30.0, margin=0.5).double()
    cos = F.normalize(z, dim=1) @ F.normalize(loss.centres.detach(), dim=1).t()
    theta = cos.clamp(-1, 1).acos()
    margined = torch.where(theta + 0.5 <= math.pi, (theta + 0.5).cos(), cos - 0.5 * math.sin(0.5))
    one_hot = F.one_hot(y, 9).bool()
    expected = F.cross_entropy(30.0 * torch.where(one_hot, margined, cos), y)
    torch.testing.assert_close(loss(nn.Identity(), {"x": z, "y": y})["loss"], expected, rtol=1e-9, atol=1e-9)
