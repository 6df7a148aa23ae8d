"""GRU sentence encoder of post 6 (kexue.fm/archives/5743): ``z = normalise(GRU(Embedding(x)))``.

The post's encoder is ``Embedding(V, 128) -> GRU(128)``, the last state after all ``maxlen`` steps
(CuDNNGRU without a mask, so the padding after the text is read too), then L2-normalised so that
the cosine of two sentences is the dot product of their vectors. Options: ``masked`` (packed
sequences: the state after each sentence's last real token, and pads left out of the mean),
``bidirectional`` (``dim / 2`` per direction, both final states concatenated), and
``pooling: mean`` (the mean of the outputs instead of the last state).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.errors import ConfigError, as_bool, as_int

POOLING = ("last", "mean")


class GRUEncoder(nn.Module):
    """Id rows ``(B, L)`` (0 = pad, after the text) to unit vectors ``(B, dim)``."""

    def __init__(self, vocab_size: int, embedding_dim: int = 128, dim: int = 128, pooling: str = "last",
                 masked: bool = False, bidirectional: bool = False) -> None:
        super().__init__()
        if pooling not in POOLING:
            raise ConfigError(f"model.pooling={pooling!r} is not one of {list(POOLING)}")
        self.bidirectional = as_bool("model.bidirectional", bidirectional)
        self.dim = as_int("model.dim", dim, 2 if self.bidirectional else 1)
        if self.bidirectional and self.dim % 2:
            raise ConfigError(f"model.dim={dim} must be even with model.bidirectional=true (dim / 2 per direction)")
        self.pooling, self.masked = pooling, as_bool("model.masked", masked)
        self.embedding = nn.Embedding(as_int("model.vocab_size", vocab_size, 2), as_int("model.embedding_dim", embedding_dim, 1))
        self.gru = nn.GRU(embedding_dim, self.dim // 2 if self.bidirectional else self.dim, batch_first=True,
                          bidirectional=self.bidirectional)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embedding(x)
        if not self.masked:
            out, last = self.gru(h)
            pooled = out.mean(1) if self.pooling == "mean" else last.transpose(0, 1).flatten(1)
            return F.normalize(pooled, dim=-1)
        lengths = (x != 0).sum(1).clamp(min=1)  # an all-pad row (empty text) reads one pad step
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, last = self.gru(packed)
        if self.pooling == "mean":
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # zeros after each length
            pooled = out.sum(1) / lengths.unsqueeze(1).to(out.dtype)
        else:
            pooled = last.transpose(0, 1).flatten(1)
        return F.normalize(pooled, dim=-1)
