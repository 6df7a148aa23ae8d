"""ArcFace, the additive angular margin (Deng et al. 2019, arXiv 1801.07698): ``psi(theta) = cos(theta + m)``.

The modern member of post 6's margin family (kexue.fm/archives/5743 names it AAM-Softmax).
``cos(theta + m) = cos theta cos m - sin theta sin m``. Beyond ``theta + m > pi`` that would rise again,
so there ``psi = cos theta - m sin m`` (the paper's code), which keeps ``psi`` decreasing and below
``cos theta``. The paper uses s = 64 and m = 0.5; here s = 30 as for the other members, so that only
the margin differs.
"""

from __future__ import annotations

import math

import torch

from engine.errors import as_number
from losses.margin_softmax import MarginSoftmaxLoss


class ArcFaceLoss(MarginSoftmaxLoss):
    def __init__(self, num_classes: int, dim: int = 128, scale: float = 30.0, margin: float = 0.5) -> None:
        super().__init__(num_classes, dim, scale)
        self.margin = as_number("loss.margin", margin)

    def psi(self, cos_t: torch.Tensor) -> torch.Tensor:
        m = self.margin
        sin_t = (1 - cos_t * cos_t).clamp(min=1e-12).sqrt()
        arc = cos_t * math.cos(m) - sin_t * math.sin(m)
        return torch.where(cos_t > math.cos(math.pi - m), arc, cos_t - m * math.sin(m))
