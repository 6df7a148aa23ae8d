"""The exact softmax over the whole vocabulary: the reference every sampled head is measured against."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from losses.output_head import OutputHead


class FullSoftmax(OutputHead):
    """``-log p(y | h) = -s(y | h) + log sum_w exp s(w | h)``: ``F.cross_entropy`` over the full scores.

    Costs ``O(vocab_size * dim)`` per target, forward and backward (gradients of the output vectors are dense).
    """

    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        nll = F.cross_entropy(self.logits(h), y, reduction="none")
        return {"loss": self.reduce(nll), "nll": nll.mean().detach()}
