"""Output heads over a vocabulary (post 4, kexue.fm/archives/5617): ``p(w | h)`` from a model's features ``h``.

A model turns ``batch["x"]`` into features ``h`` (one per target word in ``batch["y"]``). ``OutputHeadLoss`` is
the contract: :meth:`OutputHeadLoss.loss` trains, :meth:`OutputHeadLoss.logits` gives ``log``-scores of every
word, so that quality is always measured with the exact softmax (``evaluators/perplexity.py``), whatever the
head was trained with. ``VectorHeadLoss`` owns output vectors ``v_w`` and biases ``b_w`` and scores word ``w`` as
``s(w | h) = <h, v_w> + b_w``. The exact model is the full softmax ``p(w | h) = exp s(w | h) / Z(h)`` with
``Z(h) = sum_w exp s(w | h)``; the sampled heads (``SampledHeadLoss``) train the same scores without computing
``Z``, against ``k`` words drawn from a noise distribution ``q(w) ~ count(w)^alpha`` (``alpha = 0.75`` is
word2vec's; 1 the unigram; 0 uniform over the seen words). Hierarchical softmax (``hierarchical_softmax.py``)
keeps one vector per inner node of a Huffman tree; the adaptive softmax (``adaptive_softmax.py``) is PyTorch's.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, DataModule, Loss
from engine.errors import ConfigError, ProjectError, as_bool, as_int, as_number
from engine.progress import Progress

REDUCTIONS = ("mean", "sum")
INITS = ("normal", "zeros")


def word_counts(data: DataModule, head: nn.Module) -> torch.Tensor:
    """The data's training word counts (``noise_counts()``), or one clear error for a data module without them."""
    counts = getattr(data, "noise_counts", None)
    if counts is None:
        raise ConfigError(f"loss {type(head).__name__} reads word counts, but data {type(data).__name__} has no "
                          "noise_counts(): use a text data module (data=skip_gram_data or language_model_data)")
    return counts()


class OutputHeadLoss(Loss):
    """A head over a vocabulary of ``vocab_size`` words: features ``h`` (``dim``) in, the loss of their target words
    out (:meth:`loss`), and ``log``-scores of every word (:meth:`logits`) for the exact evaluation.

    ``reduction``: the loss is the ``mean`` over target words, or the ``sum`` (word2vec's per-pair SGD step
    with learning rate ``a`` is a summed loss at ``a``).
    """

    sparse = False  # no sparse gradients unless a head says so

    def __init__(self, vocab_size: int, dim: int, reduction: str = "mean") -> None:
        super().__init__()
        self.vocab_size, self.dim = as_int("loss.vocab_size", vocab_size, 1), as_int("loss.dim", dim, 1)
        if reduction not in REDUCTIONS:
            raise ConfigError(f"loss.reduction={reduction!r} is not one of {list(REDUCTIONS)}")
        self.reduction = reduction

    # ---------------------------------------------------------------- scores
    def features(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h (N, dim), y (N, T))``: the model's features and the target words of each, ``-1`` for none.

        ``batch["y"]`` has the shape of ``batch["x"]`` (one target per feature: the language model, ``T = 1``)
        or one more axis (several targets per feature: a skip-gram centre word and its window, padded with -1).
        A batch with ``"reset"`` (rows whose stream starts anew) passes it on: ``model(x, reset=...)``.
        """
        # a language model carrying its state across windows also reads which rows start a new stream
        h = model(batch["x"], reset=batch["reset"]) if "reset" in batch else model(batch["x"])
        y = batch["y"]
        if y.numel() == 0:
            raise ProjectError("an empty batch of targets: the data gave no words (a corpus too small for the batch?)")
        if h.shape[-1] != self.dim or y.shape[: h.dim() - 1] != h.shape[:-1] or y.dim() > h.dim():
            raise ConfigError(f"the model gives features of shape {tuple(h.shape)} for targets of shape "
                              f"{tuple(y.shape)}; the head expects (*targets, {self.dim}): set loss.dim")
        return h.reshape(-1, self.dim).float(), y.reshape(h.shape[:-1].numel(), -1)

    @abstractmethod
    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """``log``-scores of every word, ``(N, vocab_size)``, whose softmax is the head's ``p(w | h)``."""

    def target_nll(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(-log p(y_it | h_i) (N, T), mask (N, T))``, exact: from the full :meth:`logits` unless a head knows a
        cheaper exact way (hierarchical softmax: the target's path)."""
        nll, mask, _ = full_softmax_nll(self.logits(h).float(), y)
        return nll, mask

    def reduce(self, total: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The summed loss, or its mean over the target words (``mask``: the real targets)."""
        return total / mask.sum().clamp_min(1) if self.reduction == "mean" else total

    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        h, y = self.features(model, batch)
        return self.loss(h, y)

    def updates_in_place(self, model: nn.Module) -> bool:
        """Heads without a per-pair kernel refuse ``model.update=per_pair`` (word2vec's update order)."""
        if getattr(model, "update", "autograd") == "per_pair":
            raise ConfigError(f"model.update=per_pair is word2vec's per-pair SGD, which {type(self).__name__} has no "
                              "kernel for: use loss=negative_sampling or loss=hierarchical_softmax, or model.update=autograd")
        return False

    @abstractmethod
    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scalar losses of features ``h`` (N, dim) against targets ``y`` (N, T), ``-1`` for none; ``"loss"`` is minimised."""


class VectorHeadLoss(OutputHeadLoss):
    """Output vectors ``(rows, dim)`` (``rows``: ``vocab_size`` by default, one per word) and biases (``bias=false``:
    none, as word2vec), scoring word ``w`` as ``<h, v_w> + b_w``.

    ``sparse``: gradients of gathered rows are sparse (for SGD / SparseAdam / Adagrad; Adam needs ``false``).
    ``init``: ``normal(0, dim^-1/2)`` or ``zeros`` (word2vec's output vectors start at zero). ``bias_init``:
    ``zeros``, or ``log_unigram`` (``b_w = log`` of the word's training frequency, read from the data in
    :meth:`setup`: the scores start as the unigram model, normalised, so a short run does not spend its steps
    moving every bias down to ``log p``).
    """

    def __init__(self, vocab_size: int, dim: int, bias: bool = True, reduction: str = "mean",
                 sparse: bool = False, init: str = "normal", bias_init: str = "zeros", rows: int | None = None) -> None:
        super().__init__(vocab_size, dim, reduction)
        if init not in INITS:
            raise ConfigError(f"loss.init={init!r} is not one of {list(INITS)}")
        self.sparse = as_bool("loss.sparse", sparse)
        rows = self.vocab_size if rows is None else rows
        self.weight = nn.Parameter(torch.zeros(rows, self.dim))
        if init == "normal":
            nn.init.normal_(self.weight, std=self.dim ** -0.5)
        self.bias = nn.Parameter(torch.zeros(rows)) if as_bool("loss.bias", bias) else None
        if bias_init not in ("zeros", "log_unigram"):
            raise ConfigError(f"loss.bias_init={bias_init!r} is not one of ['zeros', 'log_unigram']")
        self.bias_init = bias_init

    def setup(self, data: DataModule) -> None:
        """Biases from the data's word counts (``bias_init=log_unigram``). Called before any checkpoint is
        loaded, so a restored or resumed run keeps its trained biases."""
        if self.bias is not None and self.bias_init == "log_unigram":
            counts = torch.as_tensor(word_counts(data, self), dtype=torch.float64)
            with torch.no_grad():
                self.bias.copy_((counts.clamp_min(0.5) / counts.sum()).log().float())

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """``s(w | h)`` for every word: ``(N, vocab_size)``."""
        return F.linear(h, self.weight, self.bias)

    def gather(self, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | float]:
        """Output vectors and biases of ``words``: one gather of the weight (one sparse, or one dense, gradient)."""
        v = F.embedding(words, self.weight, sparse=self.sparse)
        return v, 0.0 if self.bias is None else self.bias[words]  # the bias gradient is dense: V floats


def row_dots(v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``<v_ij, h_i>`` as ``(N, J)``. A window and a few noise words per row (J < 32): an elementwise product,
    several times faster than ``bmm``'s tiny products on a CPU; many words per row: ``bmm`` (both measured)."""
    if v.shape[1] < 32:
        return (v * h.unsqueeze(1)).sum(-1)
    return torch.bmm(v, h.unsqueeze(-1)).squeeze(-1)


def full_softmax_nll(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(nll (N, T), mask (N, T), log Z (N,))``: ``-log p(y_t | h) = log Z(h) - s(y_t | h)`` (0 where ``y = -1``)."""
    if y.dim() == 1:
        y = y.unsqueeze(1)
    mask = y >= 0
    log_z = torch.logsumexp(logits, -1)
    nll = (log_z.unsqueeze(1) - logits.gather(1, y.clamp_min(0))) * mask
    return nll, mask, log_z


class SampledHeadLoss(VectorHeadLoss):
    """A head trained against ``k`` noise words per target (``shared``: ``k`` words for the whole batch).

    The noise distribution is built in :meth:`setup` from the data's ``noise_counts()`` and sampled on the
    device (inverse CDF, from torch's generator, so resume replays the same draws).
    """

    def __init__(self, vocab_size: int, dim: int, k: int = 5, alpha: float = 0.75, shared: bool = False,
                 bias: bool = True, reduction: str = "mean", sparse: bool = False, init: str = "normal",
                 bias_init: str = "zeros") -> None:
        super().__init__(vocab_size, dim, bias, reduction, sparse, init, bias_init)
        self.k = as_int("loss.k", k, 1)
        self.alpha = as_number("loss.alpha", alpha)
        self.shared = as_bool("loss.shared", shared)
        self.register_buffer("noise_probs", torch.full((self.vocab_size,), 1.0 / self.vocab_size), persistent=False)
        self.register_buffer("noise_cdf", torch.linspace(1.0 / self.vocab_size, 1.0, self.vocab_size,
                                                         dtype=torch.float64), persistent=False)

    def setup(self, data: DataModule) -> None:
        super().setup(data)
        self.set_noise(word_counts(data, self))

    def set_noise(self, counts: torch.Tensor) -> None:
        """``q(w) ~ counts(w)^alpha`` over the words with a count (``alpha = 0``: uniform over them)."""
        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.shape != (self.vocab_size,) or (counts < 0).any() or counts.sum() <= 0:
            raise ConfigError(f"noise counts of shape {tuple(counts.shape)} for a vocabulary of {self.vocab_size}: "
                              "the data and loss.vocab_size disagree")
        q = torch.where(counts > 0, counts.pow(self.alpha), torch.zeros_like(counts))
        q = q / q.sum()
        self.noise_probs = q.float().to(self.weight.device)
        cdf = q.cumsum(0)
        self.noise_cdf = (cdf / cdf[-1]).to(self.weight.device)

    def sample_noise(self, n: int) -> torch.Tensor:
        """``(n, k)`` noise words, or ``(k,)`` when shared by the batch."""
        shape = (self.k,) if self.shared else (n, self.k)
        u = torch.rand(shape, dtype=torch.float64, device=self.noise_cdf.device)
        return torch.searchsorted(self.noise_cdf, u, right=True).clamp_(max=self.vocab_size - 1)  # u = 0: not a q = 0 word

    def log_kq(self, words: torch.Tensor) -> torch.Tensor:
        """``log(k q(w))``: the log of the expected count of ``w`` among the ``k`` noise words."""
        return math.log(self.k) + self.noise_probs[words].clamp_min(1e-30).log()

    def scores(self, h: torch.Tensor, y: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s(y_it | h_i) (N, T), s(n_ij | h_i) (N, k))`` for per-row ``(N, k)`` or shared ``(k,)`` noise words
        (``y = -1`` scores as word 0; the losses mask it)."""
        n, t = y.shape
        targets = y.clamp_min(0)
        if noise.dim() == 1:  # shared: the noise scores are one matrix product
            v, b = self.gather(torch.cat([targets.flatten(), noise]))
            pos = row_dots(v[: n * t].view(n, t, -1), h)
            neg = h @ v[n * t:].t()
            if isinstance(b, torch.Tensor):
                pos, neg = pos + b[: n * t].view(n, t), neg + b[n * t:]
            return pos, neg
        v, b = self.gather(torch.cat([targets, noise], 1))
        s = row_dots(v, h) + b
        return s[:, :t], s[:, t:]

    def noise_of(self, noise: torch.Tensor, n: int) -> torch.Tensor:
        """The noise words as ``(N, k)`` (shared ones repeated for every row)."""
        return noise.expand(n, -1) if noise.dim() == 1 else noise
