"""Scaled softmax without a margin, the "softmax" row of post 6 (kexue.fm/archives/5743): ``psi(theta) = cos theta``.

``L = -log softmax(s cos theta)_t`` with s = 30: the cosine classifier every margin variant starts from.
"""

from __future__ import annotations

import torch

from losses.margin_softmax import MarginSoftmaxLoss


class ScaledSoftmaxLoss(MarginSoftmaxLoss):
    def psi(self, cos_t: torch.Tensor) -> torch.Tensor:
        return cos_t
