"""AM-Softmax (Wang et al. 2018, arXiv 1801.05599), post 6's loss (kexue.fm/archives/5743): ``psi(theta) = cos theta - m``.

    L = -log( e^{s (cos theta_t - m)} / (e^{s (cos theta_t - m)} + sum_{j != t} e^{s cos theta_j}) ),

with the paper's and the post's s = 30, m = 0.35. The post computes it "sparsely" as
``-s (cos theta_t - m) + log Z`` with ``log Z = LSE(s [cos, cos_t - m]) + log(1 - e^{s cos_t - LSE})``;
that is the same number as the cross-entropy of the margin-adjusted logits used here.
"""

from __future__ import annotations

import torch

from engine.errors import as_number
from losses.margin_softmax import MarginSoftmaxLoss


class AMSoftmaxLoss(MarginSoftmaxLoss):
    def __init__(self, num_classes: int, dim: int = 128, scale: float = 30.0, margin: float = 0.35) -> None:
        super().__init__(num_classes, dim, scale)
        self.margin = as_number("loss.margin", margin)

    def psi(self, cos_t: torch.Tensor) -> torch.Tensor:
        return cos_t - self.margin
