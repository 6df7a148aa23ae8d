"""The post's simpler A-Softmax (kexue.fm/archives/5743): ``psi(theta) = min(cos m theta, cos theta)``, m = 4.

A-Softmax (SphereFace, Liu et al. 2017) multiplies the target angle by an integer m; the post keeps
only the part where ``cos m theta`` is the smaller, so that ``psi <= cos theta`` everywhere without
SphereFace's piecewise monotone extension. ``cos m theta`` is the Chebyshev polynomial ``T_m(cos theta)``
(``cos 4 theta = 8 cos^4 theta - 8 cos^2 theta + 1``); the post writes the minimum as ``y - relu(y - cos)``.
``m = 1`` is the scaled softmax.
"""

from __future__ import annotations

import torch

from engine.errors import as_int
from losses.margin_softmax import MarginSoftmaxLoss


def cos_multiple_angle(cos: torch.Tensor, m: int) -> torch.Tensor:
    """``cos(m theta)`` from ``cos theta`` by the Chebyshev recurrence ``T_{k+1} = 2 x T_k - T_{k-1}``."""
    previous, current = torch.ones_like(cos), cos
    for _ in range(m - 1):
        previous, current = current, 2 * cos * current - previous
    return current


class SimplerASoftmaxLoss(MarginSoftmaxLoss):
    def __init__(self, num_classes: int, dim: int = 128, scale: float = 30.0, margin: int = 4) -> None:
        super().__init__(num_classes, dim, scale)
        self.margin = as_int("loss.margin", margin, 1)

    def psi(self, cos_t: torch.Tensor) -> torch.Tensor:
        return torch.minimum(cos_multiple_angle(cos_t, self.margin), cos_t)
