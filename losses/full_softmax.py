"""The exact softmax over the whole vocabulary: the reference every sampled head is measured against."""

from __future__ import annotations

import torch

from losses.output_head import VectorHeadLoss, full_softmax_nll


class FullSoftmaxLoss(VectorHeadLoss):
    """``-log p(y | h) = -s(y | h) + log sum_w exp s(w | h)``: ``F.cross_entropy`` over the full scores.

    Costs ``O(vocab_size * dim)`` per target, forward and backward (gradients of the output vectors are dense).
    """

    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        nll, mask, _ = full_softmax_nll(self.logits(h), y)
        total = nll.sum()
        return {"loss": self.reduce(total, mask), "nll": (total / mask.sum().clamp_min(1)).detach()}
