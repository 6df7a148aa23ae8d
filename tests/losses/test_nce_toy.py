"""Post 4's 1-D example (kexue.fm/archives/5617): NCE fits an unnormalised density and learns its log Z.

Data ``x ~ p(x) = exp(-a x^2 - b x^4) / Z``, drawn exactly by inverting the CDF on a fine grid; noise uniform
on ``[-L, L]``. The classifier's logit is ``G(x) - gamma`` (the post's form: one noise draw per data draw, no
correction, so ``gamma - log U = gamma + log 2L`` plays ``log Z``), or ``G(x) - gamma - log(k U)`` (the head's
form, ``k`` draws: ``gamma`` itself is ``log Z``); the loss is the NCE head's own ``losses.nce.nce_loss``.
``log Z`` comes from quadrature (scipy).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from losses.nce import nce_loss

A, B, L = 1.0, 0.3, 4.0


def log_z() -> float:
    return math.log(quad(lambda x: math.exp(-A * x * x - B * x ** 4), -np.inf, np.inf)[0])


def draw_data(n: int, gen: np.random.Generator) -> torch.Tensor:
    grid = np.linspace(-L, L, 200001)
    density = np.exp(-A * grid ** 2 - B * grid ** 4)
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2)])
    cdf /= cdf[-1]
    return torch.from_numpy(np.interp(gen.random(n), cdf, grid))


def fit(k: int, correction: bool, n: int = 200000, seed: int = 0) -> tuple[float, float, float]:
    gen = np.random.default_rng(seed)
    x = draw_data(n, gen)
    noise = torch.from_numpy(gen.uniform(-L, L, size=(n, k)))
    theta = torch.zeros(3, dtype=torch.float64, requires_grad=True)  # a, b, gamma
    log_ku = math.log(k / (2 * L)) if correction else 0.0

    def logits(z: torch.Tensor) -> torch.Tensor:
        return -theta[0] * z ** 2 - theta[1] * z ** 4 - theta[2] - log_ku

    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=60, tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nce_loss(logits(x)[:, None], logits(noise)) / n
        loss.backward()
        return loss

    opt.step(closure)
    a, b, gamma = theta.tolist()
    return a, b, gamma


def test_the_posts_form_recovers_a_b_and_log_z():
    a, b, gamma = fit(k=1, correction=False)
    assert a == pytest.approx(A, rel=0.05) and b == pytest.approx(B, rel=0.05)
    assert gamma + math.log(2 * L) == pytest.approx(log_z(), abs=0.02)  # gamma - log U = log Z


def test_the_heads_form_with_k_noise_draws_learns_log_z_as_gamma():
    a, b, gamma = fit(k=5, correction=True)
    assert a == pytest.approx(A, rel=0.05) and b == pytest.approx(B, rel=0.05)
    assert gamma == pytest.approx(log_z(), abs=0.02)
