"""Learning-rate schedules as functions of the optimiser step.

A scheduler config is a partial called as ``f(optimizer, total_steps=N)``; schedules are
defined on fractions of the run so that one config serves any number of epochs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def constant(optimizer: Optimizer, total_steps: int) -> LambdaLR:
    return LambdaLR(optimizer, lambda step: 1.0)


def cosine(optimizer: Optimizer, total_steps: int, warmup_steps: int = 0, final_factor: float = 0.0) -> LambdaLR:
    """Linear warm-up, then lr * (f + (1 - f) * (1 + cos(pi t)) / 2) with t from 0 to 1."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return final_factor + (1 - final_factor) * 0.5 * (1 + math.cos(math.pi * t))

    return LambdaLR(optimizer, factor)


def multistep(optimizer: Optimizer, total_steps: int, milestones: Sequence[float] = (0.5, 0.75),
              gamma: float = 0.1) -> LambdaLR:
    """lr * gamma^k after the k-th milestone; milestones are fractions of the run.

    The mixup paper's CIFAR schedule (200 epochs, /10 at epochs 100 and 150) is (0.5, 0.75).
    """
    bounds = sorted(round(m * total_steps) for m in milestones)
    return LambdaLR(optimizer, lambda step: gamma ** sum(step >= b for b in bounds))


def linear(optimizer: Optimizer, total_steps: int, final_factor: float = 0.0) -> LambdaLR:
    """lr * (1 - (1 - f) t) with t = step / total_steps: word2vec's decay from ``alpha`` to ``min_alpha = f alpha``."""
    return LambdaLR(optimizer, lambda step: 1.0 - (1.0 - final_factor) * min(1.0, step / max(1, total_steps)))
