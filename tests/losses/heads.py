"""Shared by the output-head tests: a small head with a known noise distribution and fixed noise draws."""

from __future__ import annotations

import torch

V, D = 12, 5
COUNTS = torch.tensor([0, 0, 40, 25, 10, 9, 8, 5, 3, 2, 1, 1], dtype=torch.float64)  # ids 0, 1: never noise


def features(n: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, D, generator=gen, dtype=torch.float64).float().requires_grad_()
    y = torch.randint(2, V, (n,), generator=gen)
    return h, y


def with_fixed_noise(head, noise: torch.Tensor):
    """The head, drawing ``noise`` every time (so a hand-written formula sees the same words)."""
    head.sample_noise = lambda n: noise
    return head


def unit_noise_probs(alpha: float) -> torch.Tensor:
    q = torch.where(COUNTS > 0, COUNTS.pow(alpha), torch.zeros_like(COUNTS))
    return q / q.sum()
