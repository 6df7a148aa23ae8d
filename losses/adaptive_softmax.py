"""The adaptive softmax (Grave et al. 2017, "Efficient softmax approximation for GPUs"): PyTorch's
``nn.AdaptiveLogSoftmaxWithLoss`` as an output head (post 4's heads, kexue.fm/archives/5617).

The vocabulary, sorted by frequency, is cut at ``cutoffs`` ``c_1 < c_2 < ... < c_n`` into a shortlist
``[0, c_1)`` and clusters ``[c_i, c_{i+1})`` (``c_{n+1} = vocab_size``). A head scores the shortlist words and one
entry per cluster; cluster ``i`` scores its own words through a projection to ``dim // div_value^i`` features:

    log p(w | h) = log softmax(head(h))[w]                                           w in the shortlist
    log p(w | h) = log softmax(head(h))[c_1 + i - 1] + log softmax(tail_i(h))[w - c_i]   w in cluster i

The distribution is exact and normalised (no sampling): a target costs the head plus its own cluster, and the
rare words' clusters are small projections. Our ids are frequency ranks (``datasets/vocabulary.py``: ``<unk>``,
``</s>``, then the words by training count), so the cutoffs are id thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from engine.contracts import DataModule
from engine.errors import ConfigError, as_bool, as_int, as_number
from losses.output_head import OutputHeadLoss, word_counts

DEFAULT_CUTOFFS = (2000, 10000, 50000)


def default_cutoffs(vocab_size: int) -> list[int]:
    """``cutoffs: null``: the thresholds of ``DEFAULT_CUTOFFS`` below ``vocab_size`` (a shortlist of 2,000 words, then
    clusters up to the 10,000th and the 50,000th word and the rest); a vocabulary of 2,000 words or fewer is cut in
    half (``[vocab_size // 2]``)."""
    kept = [c for c in DEFAULT_CUTOFFS if c < vocab_size]
    return kept or [vocab_size // 2]


def check_cutoffs(cutoffs: Sequence, vocab_size: int) -> list[int]:
    """An explicit list: increasing integers in ``[1, vocab_size)``, or one line saying which is not."""
    if isinstance(cutoffs, (str, bytes)) or not isinstance(cutoffs, Sequence) or len(cutoffs) == 0:
        raise ConfigError(f"loss.cutoffs must be null or a non-empty list of word ids, got {cutoffs!r}")
    values = [as_int(f"loss.cutoffs[{i}]", c, 1, vocab_size, hint=f"the vocabulary has {vocab_size} words")
              for i, c in enumerate(cutoffs)]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(f"loss.cutoffs must be increasing, got {values}")
    return values


class AdaptiveSoftmaxLoss(OutputHeadLoss):
    """``nn.AdaptiveLogSoftmaxWithLoss(dim, vocab_size, cutoffs, div_value, head_bias)`` over the model's features.

    ``cutoffs``: word ids where the clusters start (increasing, in ``[1, vocab_size)``), or ``null`` for the rule of
    :func:`default_cutoffs` (``[2000, 10000, 50000]`` clipped to the vocabulary). ``div_value``: cluster ``i``'s
    projection has ``dim // div_value^i`` features (at least 1). ``head_bias``: a bias on the head's scores
    (PyTorch's default: none; the tail projections never have one). ``bias_init`` (of that bias): ``zeros``, or
    ``log_unigram``: a shortlist word's bias is the log of its training frequency and a cluster's the log of its
    words' total frequency, read from the data in :meth:`setup`, so that the head starts as the unigram model (the
    words of a cluster equally likely within it), as the other heads' ``bias_init=log_unigram``. ``reduction``: the
    mean or the sum over target words. A row of several targets (a word's window, padded with -1) repeats its
    features once per target. A tail cluster that no target of a batch falls in gets no gradient in that step
    (``leaves_parameters_unused``: DDP looks for such parameters).
    """

    leaves_parameters_unused = True

    def __init__(self, vocab_size: int, dim: int, cutoffs: Sequence[int] | None = None, div_value: float = 4.0,
                 head_bias: bool = False, bias_init: str = "zeros", reduction: str = "mean") -> None:
        super().__init__(vocab_size, dim, reduction)
        head_bias = as_bool("loss.head_bias", head_bias)
        if bias_init not in ("zeros", "log_unigram"):
            raise ConfigError(f"loss.bias_init={bias_init!r} is not one of ['zeros', 'log_unigram']")
        if bias_init == "log_unigram" and not head_bias:
            raise ConfigError("loss.bias_init=log_unigram initialises the head's bias: set loss.head_bias=true")
        self.bias_init = bias_init
        if self.vocab_size < 2:
            raise ConfigError(f"loss.vocab_size={self.vocab_size}: the adaptive softmax needs 2 words or more")
        cutoffs = default_cutoffs(self.vocab_size) if cutoffs is None else check_cutoffs(cutoffs, self.vocab_size)
        div_value = as_number("loss.div_value", div_value, 0.0, strict=True)
        for i in range(1, len(cutoffs) + 1):
            if int(self.dim // div_value ** i) < 1:
                raise ConfigError(f"loss.div_value={div_value} leaves cluster {i} of loss.cutoffs={cutoffs} a projection "
                                  f"of 0 features (dim {self.dim} // div_value^{i}): lower div_value or use fewer cutoffs")
        self.cutoffs = cutoffs
        self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(self.dim, self.vocab_size, cutoffs, div_value=div_value,
                                                      head_bias=head_bias)
        if head_bias:
            nn.init.zeros_(self.adaptive.head.bias)

    def setup(self, data: DataModule) -> None:
        """The head's bias from the data's word counts (``bias_init=log_unigram``). Called before any checkpoint is
        loaded, so a restored or resumed run keeps its trained bias."""
        if self.bias_init == "log_unigram":
            self.set_unigram_bias(word_counts(data, self))

    def set_unigram_bias(self, counts: torch.Tensor) -> None:
        """Shortlist words: ``log f(w)``; cluster ``i``: ``log sum_{w in cluster i} f(w)`` (counts of 0 count 0.5)."""
        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.shape != (self.vocab_size,):
            raise ConfigError(f"word counts of shape {tuple(counts.shape)} for a vocabulary of {self.vocab_size}: "
                              "the data and loss.vocab_size disagree")
        f = counts.clamp_min(0.5) / counts.clamp_min(0.5).sum()
        bounds = [*self.cutoffs, self.vocab_size]
        clusters = torch.stack([f[lo:hi].sum() for lo, hi in zip(bounds, bounds[1:])])
        with torch.no_grad():
            self.adaptive.head.bias.copy_(torch.cat([f[: bounds[0]], clusters]).log().float())

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """``log p(w | h)`` of every word, ``(N, vocab_size)``: the module's ``log_prob`` (its logsumexp is 0)."""
        return self.adaptive.log_prob(h)

    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        y = y.unsqueeze(1) if y.dim() == 1 else y
        mask = y >= 0
        rows = h.unsqueeze(1).expand(-1, y.shape[1], -1)[mask]  # one row of features per real target
        total = -self.adaptive(rows, y[mask]).output.sum()
        return {"loss": self.reduce(total, mask), "nll": (total / mask.sum().clamp_min(1)).detach()}
