"""Negative sampling (word2vec; Mikolov et al. 2013), NCE's special case in post 4 (kexue.fm/archives/5617).

    loss = -log sigma(<h, v_y>) - sum_{j=1..k} log sigma(-<h, v_{n_j}>),   n_j ~ q ~ count^0.75

It is ``NCELoss`` with ``gamma = 0`` and no ``log(k q)`` correction, so its optimum is not the normalised
``log p(w | h)`` but ``<h, v_w> = log p(w | h) / q(w) - log k``: for skip-gram with unigram noise, the
pointwise mutual information of the two words minus ``log k`` (the post, and Levy and Goldberg 2014).

With ``model.update=per_pair`` the head trains as word2vec does, pair by pair in a compiled kernel
(``losses/per_pair.py``), with ``k`` noise words drawn afresh for every pair from an alias table of ``q``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.contracts import Batch
from losses.nce import NCELoss
from losses.per_pair import PerPairHead, alias_table, per_pair_step


class NegativeSamplingLoss(PerPairHead, NCELoss):
    """word2vec's defaults: ``k = 5`` per target, ``alpha = 0.75``, no output bias, output vectors from zero."""

    def __init__(self, vocab_size: int, dim: int, k: int = 5, alpha: float = 0.75, shared: bool = False,
                 bias: bool = False, reduction: str = "mean", sparse: bool = False, init: str = "zeros",
                 bias_init: str = "zeros") -> None:
        super().__init__(vocab_size, dim, k, alpha, shared, gamma=0.0, learn_gamma=False, correction=False, bias=bias,
                         reduction=reduction, sparse=sparse, init=init, bias_init=bias_init)

    def set_noise(self, counts: torch.Tensor) -> None:
        super().set_noise(counts)
        self.sampler = None  # the per-pair kernel's alias table, built from q when first needed

    def per_pair_update(self, model: nn.Module, batch: Batch, lr: float) -> dict[str, torch.Tensor]:
        if self.sampler is None:
            self.sampler = alias_table(self.noise_probs.double().cpu().numpy())
        return per_pair_step(model, self.weight, batch, lr, k=self.k, sampler=self.sampler)
