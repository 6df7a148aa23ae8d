"""Skip-gram word2vec's input side (Mikolov et al. 2013; post 4, kexue.fm/archives/5617).

The model is the table of input word vectors ``u_w``: a word's features are its vector. The output vectors
``v_w`` belong to the head (``losses/negative_sampling.py`` by default), which scores a pair as ``<u_x, v_y>``.
The word vectors a user keeps (similarity, analogies, the projector, a language model's start) are ``u``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.errors import as_bool, as_int


class SkipGram(nn.Module):
    """``u_x`` for each input word ``x``; initialised uniform in ``[-0.5, 0.5) / dim`` as word2vec does.

    ``sparse``: the embedding's gradient is sparse (only the rows a batch touches), for SGD.
    """

    def __init__(self, vocab_size: int, dim: int = 100, sparse: bool = True) -> None:
        super().__init__()
        self.dim = as_int("model.dim", dim, 1)
        self.embedding = nn.Embedding(as_int("model.vocab_size", vocab_size, 1), self.dim,
                                      sparse=as_bool("model.sparse", sparse))
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.5 / self.dim, 0.5 / self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    @property
    def word_vectors(self) -> torch.Tensor:
        return self.embedding.weight
