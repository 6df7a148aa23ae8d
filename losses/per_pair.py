"""word2vec's per-pair SGD as a compiled kernel (numba): ``model.update=per_pair`` (post 4, kexue.fm/archives/5617).

The autograd path sums a batch's gradients and applies them at once. word2vec (Mikolov et al. 2013) and
gensim apply each pair's update before the next: the input vector ``h`` of a pair is trained against the
target and ``k`` noise words (negative sampling) or the nodes of the target's Huffman path (hierarchical
softmax), one output row after the other,

    g = (label - sigma(<h, v_o>)) * lr,    e += g v_o,    v_o += g h          (for each output row o)
    then the input vector(s) take e.

Negative sampling: label 1 for the target, 0 for each noise word (drawn from ``q ~ count^alpha`` afresh for
every pair; a draw equal to the target is skipped, as word2vec does). Hierarchical softmax: label
``1 - code`` at each node of the path. As in gensim, a row whose score ``<h, v_o>`` is beyond +-6 is not
updated (its loss still counts). Skip-gram (gensim's orientation): each context word's input vector
``u_c`` is ``h``, the centre word the target, and ``u_c += e`` after each pair. CBOW: ``h`` is the mean of the
context words' input vectors, the centre the target, and every context vector takes the whole ``e`` (gensim's
``cbow_mean=1``). The summed loss ``sum -log sigma(+-<h, v_o>)`` is returned for the log.

A batch is split into ``threads`` consecutive chunks of centre words, run in parallel without locks
(Hogwild, as gensim's workers and word2vec's threads): with one thread the updates are a pure function of the
weights, the batch and ``seed``; with more they race on the rows two chunks share, so runs differ in the last
bits. Noise words come from a linear congruential generator per chunk, seeded from ``seed``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
import torch.nn as nn
from numba import njit, prange

from engine.errors import ConfigError

SATURATED = 6.0  # gensim's MAX_EXP: a row scored beyond +-6 is left as it is (its sigmoid table ends there)
LCG_A, LCG_C, LCG_MASK = 25214903917, 11, (1 << 48) - 1  # the 48-bit generator of java.util.Random and word2vec


@njit(cache=True, inline="always")
def _next(state: int) -> int:
    return (state * LCG_A + LCG_C) & LCG_MASK


@njit(cache=True, inline="always")
def _draw(state: int, keep: np.ndarray, alias: np.ndarray) -> tuple[int, int]:
    """A word from Walker's alias table ``(keep, alias)``: a uniform column, kept or swapped for its alias."""
    state = _next(state)
    column = ((state >> 16) * len(keep)) >> 32  # the top 32 of 48 bits scaled to the columns
    state = _next(state)
    if (state >> 16) / 4294967296.0 < keep[column]:
        return column, state
    return alias[column], state


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias method (Vose's construction): ``(keep, alias)`` such that drawing a column ``i`` uniformly
    and keeping it with probability ``keep[i]``, else taking ``alias[i]``, draws ``i`` with ``probs[i]``."""
    n = len(probs)
    scaled = np.asarray(probs, dtype=np.float64) * n / np.sum(probs)
    keep, alias = np.ones(n), np.arange(n, dtype=np.int64)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return keep, alias  # what is left over has scaled = 1 up to rounding: kept


@njit(cache=True, fastmath=True, inline="always")
def _train_row(h: np.ndarray, e: np.ndarray, v: np.ndarray, o: int, label: float, lr: float) -> float:
    """One output row: ``g = (label - sigma(<h, v_o>)) lr``, ``e += g v_o``, ``v_o += g h``; returns ``-log sigma(+-f)``."""
    dim = len(h)
    f = np.float32(0.0)
    for d in range(dim):
        f += h[d] * v[o, d]
    z = f if label > 0.5 else -f  # the logit of the right answer
    t = math.exp(-abs(f))
    if abs(f) >= SATURATED:
        return max(-z, 0.0) + math.log1p(t)
    sig = 1.0 / (1.0 + t) if f >= 0 else t / (1.0 + t)
    g = np.float32((label - sig) * lr)
    for d in range(dim):
        e[d] += g * v[o, d]
        v[o, d] += g * h[d]
    return max(-z, 0.0) + math.log1p(t)


@njit(cache=True, fastmath=True, inline="always")
def _train_target(h: np.ndarray, e: np.ndarray, v: np.ndarray, target: int, lr: float, k: int, keep: np.ndarray,
                  alias: np.ndarray, points: np.ndarray, codes: np.ndarray, lengths: np.ndarray, state: int) -> tuple[float, int]:
    """``h`` against ``target``: its ``k`` noise words (``k > 0``) or its Huffman path (``k = 0``)."""
    loss = 0.0
    if k > 0:
        loss += _train_row(h, e, v, target, 1.0, lr)
        for _ in range(k):
            noise, state = _draw(state, keep, alias)
            if noise != target:
                loss += _train_row(h, e, v, noise, 0.0, lr)
    else:
        for j in range(lengths[target]):
            loss += _train_row(h, e, v, points[target, j], 1.0 - codes[target, j], lr)
    return loss, state


@njit(cache=True, fastmath=True, parallel=True)
def train_batch(u: np.ndarray, v: np.ndarray, centres: np.ndarray, contexts: np.ndarray, lr: float, cbow: bool,
                k: int, keep: np.ndarray, alias: np.ndarray, points: np.ndarray, codes: np.ndarray,
                lengths: np.ndarray, seed: int, chunks: int) -> tuple[float, int]:
    """Per-pair SGD over a batch in place: input vectors ``u``, output rows ``v`` (words, or inner nodes);
    ``centres (C,)``, ``contexts (C, W)`` padded with -1. Returns the summed loss and the number of targets."""
    n, width, dim = len(centres), contexts.shape[1], u.shape[1]
    losses = np.zeros(chunks)
    counts = np.zeros(chunks, dtype=np.int64)
    for c in prange(chunks):
        state = (seed + c * 0x9E3779B97F4A7C15) & LCG_MASK
        h = np.empty(dim, dtype=np.float32)
        e = np.empty(dim, dtype=np.float32)
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            target = centres[i]
            if cbow:
                h[:] = 0.0
                m = 0
                for j in range(width):
                    w = contexts[i, j]
                    if w >= 0:
                        for d in range(dim):
                            h[d] += u[w, d]
                        m += 1
                if m == 0:
                    continue
                for d in range(dim):
                    h[d] /= m
                    e[d] = 0.0
                loss, state = _train_target(h, e, v, target, lr, k, keep, alias, points, codes, lengths, state)
                for j in range(width):
                    w = contexts[i, j]
                    if w >= 0:
                        for d in range(dim):
                            u[w, d] += e[d]
                losses[c] += loss
                counts[c] += 1
            else:
                for j in range(width):
                    w = contexts[i, j]
                    if w < 0:
                        continue
                    for d in range(dim):
                        h[d] = u[w, d]
                        e[d] = 0.0
                    loss, state = _train_target(h, e, v, target, lr, k, keep, alias, points, codes, lengths, state)
                    for d in range(dim):
                        u[w, d] += e[d]
                    losses[c] += loss
                    counts[c] += 1
    return losses.sum(), counts.sum()


def set_threads(threads: int) -> int:
    """Use ``threads`` of numba's threads (at most its ``NUMBA_NUM_THREADS``); returns how many."""
    threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    return threads


def per_pair(model: nn.Module) -> bool:
    """Whether the model asks for word2vec's per-pair updates (``model.update=per_pair``)."""
    return getattr(model, "update", "autograd") == "per_pair"


def check_per_pair(model: nn.Module, head: nn.Module) -> None:
    """One line for what the kernel cannot do: a model without ``word_vectors``, a head with biases, a GPU."""
    name = type(head).__name__
    if not hasattr(model, "word_vectors") or not hasattr(model, "cbow"):
        raise ConfigError(f"model.update=per_pair needs a word2vec model (model=skip_gram or cbow), not {type(model).__name__}")
    if getattr(head, "bias", None) is not None:
        raise ConfigError(f"model.update=per_pair trains word2vec's heads, which have no bias: set loss.bias=false ({name})")
    if model.word_vectors.device.type != "cpu" or head.weight.device.type != "cpu":
        raise ConfigError("model.update=per_pair is a CPU kernel: set device=cpu, or model.update=autograd on a GPU")


def per_pair_step(model: nn.Module, weight: torch.Tensor, batch: dict[str, torch.Tensor], lr: float, k: int = 0,
                  sampler: tuple[np.ndarray, np.ndarray] | None = None,
                  tree: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, torch.Tensor]:
    """One batch of per-pair SGD on ``model.word_vectors`` and the head's ``weight``, in place: ``k`` noise words per
    pair from the alias table ``sampler`` (negative sampling), or the Huffman ``tree`` (points, codes, lengths).
    The kernel's noise seed is drawn from torch's generator, so a resumed run replays it. Returns the mean loss
    per target (``loss``) and the number of targets (``pairs``), for the log."""
    centres, contexts = (batch["y"], batch["x"]) if model.cbow else (batch["x"], batch["y"])
    keep, alias = sampler if sampler is not None else (np.ones(1), np.zeros(1, dtype=np.int64))
    points, codes, lengths = tree if tree is not None else (np.zeros((1, 1), np.int64),) * 2 + (np.zeros(1, np.int64),)
    seed = int(torch.randint(0, 1 << 48, ()))
    threads = set_threads(model.threads or torch.get_num_threads())
    u, v = model.word_vectors.detach().numpy(), weight.detach().numpy()  # the parameters' own memory
    total, n = train_batch(u, v, centres.numpy(), contexts.numpy(), float(lr), bool(model.cbow), int(k), keep, alias,
                           points, codes, lengths, seed, threads)
    return {"loss": torch.tensor(total / max(int(n), 1)), "pairs": torch.tensor(float(n))}


class PerPairHead:
    """Mixed into a head that has a kernel (before its head class): with ``model.update=per_pair`` its forward is
    :meth:`per_pair_update` (the update, in place) instead of the head's loss for autograd."""

    def updates_in_place(self, model: nn.Module) -> bool:
        if per_pair(model):
            check_per_pair(model, self)
        return per_pair(model)

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor], player: str, progress) -> dict[str, torch.Tensor]:
        if not per_pair(model):
            return super().forward(model, batch, player, progress)
        return self.per_pair_update(model, batch, progress.lr)

    def per_pair_update(self, model: nn.Module, batch: dict[str, torch.Tensor], lr: float) -> dict[str, torch.Tensor]:
        raise NotImplementedError
