"""Skip-gram word2vec's input side (Mikolov et al. 2013; post 4, kexue.fm/archives/5617).

The model is the table of input word vectors ``u_w``: a word's features are its vector. The output vectors
``v_w`` belong to the head (``losses/negative_sampling.py`` by default), which scores a pair as ``<u_x, v_y>``.
The word vectors a user keeps (similarity, analogies, the projector, a language model's start) are ``u``.

``update`` says how a step changes them: ``autograd`` (the Trainer back-propagates the batch's summed loss
and its optimiser applies it at once) or ``per_pair`` (word2vec's and gensim's order: each pair's SGD update
lands before the next, in a compiled kernel over ``threads`` threads, ``losses/per_pair.py``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.errors import ConfigError, as_bool, as_int, as_number

UPDATES = ("autograd", "per_pair")


def check_update(update: str, threads: int | None) -> tuple[str, int | None]:
    """``model.update`` and ``model.threads`` checked (``threads``: null for torch's thread count)."""
    if update not in UPDATES:
        raise ConfigError(f"model.update={update!r} is not one of {list(UPDATES)}")
    return update, as_int("model.threads", threads, 1, optional=True)


class SkipGram(nn.Module):
    """``u_x`` for each input word ``x``; initialised uniform in ``[-init_range, init_range) / dim``: 1 is gensim 4's
    range, 0.5 word2vec's C code's.

    ``sparse``: the embedding's gradient is sparse (only the rows a batch touches), for SGD.
    """

    cbow = False  # the features of a centre word are its own vector (CBOW: the mean of its context's)

    def __init__(self, vocab_size: int, dim: int = 100, sparse: bool = True, update: str = "autograd",
                 threads: int | None = None, init_range: float = 1.0) -> None:
        super().__init__()
        self.dim = as_int("model.dim", dim, 1)
        self.update, self.threads = check_update(update, threads)
        self.embedding = nn.Embedding(as_int("model.vocab_size", vocab_size, 1), self.dim,
                                      sparse=as_bool("model.sparse", sparse))
        with torch.no_grad():
            scale = as_number("model.init_range", init_range, 0, strict=True) / self.dim
            self.embedding.weight.uniform_(-scale, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    @property
    def word_vectors(self) -> torch.Tensor:
        return self.embedding.weight
