"""Sampled softmax (Bengio and Senecal 2008; Jean et al. 2015): a softmax over the target and ``k`` noise words.

Each candidate's score is corrected by the log of its expected count among the samples, so that the
sampled softmax is an estimate of the full one (its gradient is a consistent estimate as ``k`` grows):

    l(w | h) = s(w | h) - log(k q(w))
    loss = -l(y | h) + log( exp l(y | h) + sum_{j=1..k} exp l(n_j | h) ),   n_j ~ q

Noise words equal to the target ("accidental hits") are left out of the sum (``remove_hits``).
"""

from __future__ import annotations

import torch

from engine.errors import as_bool
from losses.output_head import SampledHeadLoss


class SampledSoftmaxLoss(SampledHeadLoss):
    """``k`` noise words per target (``shared``: per batch) from ``q ~ count^alpha``, with the ``log(k q)`` correction."""

    def __init__(self, vocab_size: int, dim: int, k: int = 64, alpha: float = 0.75, shared: bool = False,
                 remove_hits: bool = True, bias: bool = True, reduction: str = "mean", sparse: bool = False,
                 init: str = "normal", bias_init: str = "zeros") -> None:
        super().__init__(vocab_size, dim, k, alpha, shared, bias, reduction, sparse, init, bias_init)
        self.remove_hits = as_bool("loss.remove_hits", remove_hits)

    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every target ``y_it`` of row ``i`` is softmaxed against the row's ``k`` noise words."""
        y = y.unsqueeze(1) if y.dim() == 1 else y
        noise = self.sample_noise(len(y))
        pos, neg = self.scores(h, y, noise)
        pos, neg = pos - self.log_kq(y.clamp_min(0)), neg - self.log_kq(noise)
        neg = neg.unsqueeze(1).expand(-1, y.shape[1], -1)  # (N, T, k)
        if self.remove_hits:
            neg = neg.masked_fill(self.noise_of(noise, len(y)).unsqueeze(1) == y.unsqueeze(-1), float("-inf"))
        per_target = torch.logsumexp(torch.cat([pos.unsqueeze(-1), neg], -1), -1) - pos
        mask = y >= 0
        return {"loss": self.reduce((per_target * mask).sum(), mask)}
