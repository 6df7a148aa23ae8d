"""A GRU language model whose output layer is a head of the loss (post 4, kexue.fm/archives/5617).

``x`` (B, T) word ids -> embedding (``embed_dim``) -> GRU (``dim`` units, ``num_layers``) -> features (B, T, dim),
the state at each position summarising the words up to it. The head (full softmax, NCE, negative sampling,
sampled softmax) turns features into ``p(next word | h)``. The embedding can start from word2vec's input
vectors: ``+trainer.parts.model.init_from=<word2vec run> +trainer.parts.model.source=model.embedding
+trainer.parts.model.module=embedding`` (same corpus settings, so the same vocabulary, and ``embed_dim`` equal to
word2vec's ``dim``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.errors import as_int, as_number


class GRULanguageModel(nn.Module):
    """Features ``h_t`` (B, T, dim) from a zero initial state; ``dropout`` on the embeddings and the features."""

    def __init__(self, vocab_size: int, embed_dim: int = 256, dim: int = 256, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.dim = as_int("model.dim", dim, 1)
        p = as_number("model.dropout", dropout)
        embed_dim, num_layers = as_int("model.embed_dim", embed_dim, 1), as_int("model.num_layers", num_layers, 1)
        self.embedding = nn.Embedding(as_int("model.vocab_size", vocab_size, 1), embed_dim)
        nn.init.normal_(self.embedding.weight, std=embed_dim ** -0.5)
        self.gru = nn.GRU(embed_dim, self.dim, num_layers, batch_first=True, dropout=p if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(self.drop(self.embedding(x)))
        return self.drop(h)

    @property
    def word_vectors(self) -> torch.Tensor:
        return self.embedding.weight
