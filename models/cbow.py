"""Continuous bag-of-words word2vec (Mikolov et al. 2013; gensim's ``sg=0``), beside skip-gram (post 4).

A centre word is predicted from the mean of its context's input vectors,

    h = (1 / |C|) sum_{c in C} u_c,      loss = head(h, centre)

with ``C`` the words of its (dynamic) window: ``datasets/cbow_data.py`` gives the contexts as ``x`` (padded with
-1) and the centre as ``y``. The word vectors a user keeps are ``u``. ``update``: as ``SkipGram``'s; per pair, every
context vector takes the whole error of the mean (gensim's ``cbow_mean=1``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import as_bool, as_int, as_number
from models.skip_gram import check_update


class CBOW(nn.Module):
    """The mean of the context words' ``u`` (uniform in ``[-init_range, init_range) / dim`` at the start: 1 is gensim
    4's range, 0.5 word2vec's C code's)."""

    cbow = True

    def __init__(self, vocab_size: int, dim: int = 100, sparse: bool = True, update: str = "autograd",
                 threads: int | None = None, init_range: float = 1.0) -> None:
        super().__init__()
        self.dim = as_int("model.dim", dim, 1)
        self.update, self.threads = check_update(update, threads)
        self.sparse = as_bool("model.sparse", sparse)
        self.embedding = nn.Embedding(as_int("model.vocab_size", vocab_size, 1), self.dim, sparse=self.sparse)
        with torch.no_grad():
            scale = as_number("model.init_range", init_range, 0, strict=True) / self.dim
            self.embedding.weight.uniform_(-scale, scale)

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:
        """``(C, W)`` context ids, -1 padded -> ``(C, dim)`` means (zero for a row without context)."""
        mask = contexts >= 0
        u = F.embedding(contexts.clamp_min(0), self.embedding.weight, sparse=self.sparse)
        return (u * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)

    @property
    def word_vectors(self) -> torch.Tensor:
        return self.embedding.weight
