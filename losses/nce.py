"""Noise-contrastive estimation (post 4, kexue.fm/archives/5617; Gutmann and Hyvarinen 2010; Mnih and Teh 2012).

A binary classifier tells a target word from ``k`` noise words drawn from ``q``. Its logit is the model's
unnormalised log-probability minus a learned ``gamma`` (the post's ``sigma(G(x) - gamma)``) and minus
``log(k q(w))``, the log-odds of the noise:

    logit(w | h) = s(w | h) - gamma - log(k q(w))
    loss = -log sigma(logit(y | h)) - sum_{j=1..k} log sigma(-logit(n_j | h)),   n_j ~ q

At the optimum ``s(w | h) - gamma = log p(w | h)``: ``gamma`` plays ``log Z`` (the post's equation for the
density, ``p = exp(G - (gamma - log U))``), so the model comes out self-normalised without ever computing
``Z``. ``learn_gamma=false`` fixes ``gamma`` (``gamma=0``: Mnih and Teh's ``Z = 1``); ``correction=false``
drops ``log(k q)``, which with ``gamma = 0`` is word2vec's negative sampling (``negative_sampling.py``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import as_bool, as_number
from losses.output_head import SampledHeadLoss


def nce_loss(data_logits: torch.Tensor, noise_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The post's equation (5) with ``k`` noise draws per data draw, summed: ``sum_it -log sigma(l_data_it)`` over
    the real targets (``mask``) plus ``sum_i m_i sum_j -log sigma(-l_noise_ij)``, ``m_i`` the targets of row ``i``
    (its noise words count once per target). ``data_logits`` ``(N, T)``, ``noise_logits`` ``(N, k)``."""
    mask = torch.ones_like(data_logits, dtype=torch.bool) if mask is None else mask
    m = mask.sum(1).to(noise_logits.dtype)
    return (-F.logsigmoid(data_logits) * mask).sum() + (m * -F.logsigmoid(-noise_logits).sum(-1)).sum()


class NCELoss(SampledHeadLoss):
    """``k`` noise words per target (``shared``: per batch) from ``q ~ count^alpha``; ``gamma`` learned from its initial value."""

    def __init__(self, vocab_size: int, dim: int, k: int = 64, alpha: float = 0.75, shared: bool = False,
                 gamma: float = 0.0, learn_gamma: bool = True, correction: bool = True, bias: bool = True,
                 reduction: str = "mean", sparse: bool = False, init: str = "normal", bias_init: str = "zeros") -> None:
        super().__init__(vocab_size, dim, k, alpha, shared, bias, reduction, sparse, init, bias_init)
        self.correction = as_bool("loss.correction", correction)
        gamma_t = torch.tensor(as_number("loss.gamma", gamma))
        if as_bool("loss.learn_gamma", learn_gamma):
            self.gamma = nn.Parameter(gamma_t)
        else:
            self.register_buffer("gamma", gamma_t)

    def binary_logits(self, scores: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """``s(w | h) - gamma - log(k q(w))`` (without the last term when ``correction=false``)."""
        logits = scores - self.gamma
        return logits - self.log_kq(words) if self.correction else logits

    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every target ``y_it`` of row ``i`` against the row's ``k`` noise words: the noise term counts once per
        target (``m_i`` times), an unbiased estimate of ``m_i`` independent draws, computed once."""
        y = y.unsqueeze(1) if y.dim() == 1 else y
        noise = self.sample_noise(len(y))
        pos, neg = self.scores(h, y, noise)
        pos, neg = self.binary_logits(pos, y.clamp_min(0)), self.binary_logits(neg, noise)
        mask = y >= 0
        total = nce_loss(pos, neg, mask)
        p_data = (torch.sigmoid(pos.detach()) * mask).sum() / mask.sum().clamp_min(1)
        return {"loss": self.reduce(total, mask), "gamma": self.gamma.detach().clone(), "p_data": p_data}
