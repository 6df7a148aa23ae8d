"""Skip-gram pairs for word2vec (post 4, kexue.fm/archives/5617; Mikolov et al. 2013), built on the fly.

Each epoch, with a generator seeded by ``(seed, epoch)``:

- frequent words are subsampled: word ``w`` with corpus frequency ``f`` is kept with probability
  ``min(1, (sqrt(f / (s T)) + 1) s T / f)``, ``s = sample``, ``T`` the training tokens of the words that pass
  ``min_count`` (word2vec's rule);
  dropped words leave the text before windows are drawn, so windows reach further, as in word2vec;
- every kept position ``i`` draws its window ``r_i`` uniformly in ``1..window`` (the dynamic window);
- the pairs are ``(x = w_i, y = w_j)`` for ``0 < |i - j| <= r_i`` in the same line: the centre word is the
  input and each word of its window a target of the output head (the predict-the-context orientation of
  Mikolov et al.; word2vec's C code and gensim swap the roles, with the same pairs in distribution).

A batch is ``batch_size`` consecutive kept positions, each with its window as one row of targets
(``-1`` where the window is shorter), so a head scores a centre's noise words once for all its targets;
the throughput is counted in kept ("effective") words, as gensim counts it. Batches are a pure function of ``(seed, epoch,
batch)``; the number of kept words varies a little between epochs, so the number of batches is its
expectation and the last batch of an epoch runs to the epoch's end (a little shorter or longer than the rest).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from numba import njit

from datasets.token_corpus import load_corpus
from datasets.vocabulary import UNK
from engine.contracts import DataModule
from engine.errors import ConfigError, as_int, as_number
from engine.progress import Progress
from engine.seeding import stream_seed


def keep_probability(counts: torch.Tensor, total: int, sample: float) -> torch.Tensor:
    """word2vec's subsampling: ``min(1, (sqrt(c / (s T)) + 1) * s T / c)``; ``sample = 0`` keeps every word."""
    if sample <= 0:
        return torch.ones_like(counts)
    threshold = sample * total
    keep = ((counts / threshold).sqrt() + 1) * threshold / counts.clamp_min(1)
    return keep.clamp(max=1.0)


@njit(cache=True)
def _windows(ids: np.ndarray, lines: np.ndarray, radius: np.ndarray, start: int, stop: int, window: int,
             out: np.ndarray) -> None:
    for i in range(start, stop):
        col = 0
        for d in range(-window, window + 1):
            if d == 0:
                continue
            j = i + d
            ok = 0 <= j < len(ids) and abs(d) <= radius[i] and lines[j] == lines[i]
            out[i - start, col] = ids[j] if ok else -1
            col += 1


def window_contexts(ids: torch.Tensor, lines: torch.Tensor, radius: torch.Tensor, start: int, stop: int,
                    window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres ``x = ids[start:stop]`` and their contexts ``y`` ``(C, 2 window)``: ``ids[i + d]`` for
    ``0 < |d| <= radius[i]`` in the same line, ``-1`` elsewhere (offsets ``-window .. -1, 1 .. window``).
    A compiled loop over the CPU tensors (a few torch ops per element cost more than the training step)."""
    out = np.empty((stop - start, 2 * window), dtype=np.int64)
    _windows(ids.numpy(), lines.numpy(), radius.numpy(), start, stop, window, out)
    return ids[start:stop], torch.from_numpy(out)


class SkipGramData(DataModule):
    """Batches ``{"x": centre words (C,), "y": their contexts (C, 2 window), -1 padded}`` of skip-gram pairs.

    ``sizes()`` gives ``vocab_size``; ``noise_counts()`` the counts the output head's noise is built from.
    The vocabulary (``<unk>``, ``</s>``, then words by frequency) is the language model's
    (``LanguageModelData``) for the same file, ``min_count`` and fractions, so that a language model can start
    from these word vectors.
    """

    unit = "words"

    def __init__(self, path: str, min_count: int = 5, max_vocab: int | None = None, sample: float = 1e-3,
                 window: int = 5, batch_size: int = 10000, val_fraction: float = 0.0, test_fraction: float = 0.0,
                 eval_pairs: int = 20000, eval_batch_size: int = 4096) -> None:
        self.path, self.min_count, self.max_vocab = path, as_int("data.min_count", min_count, 1), max_vocab
        self.sample = as_number("data.sample", sample)
        if self.sample < 0:
            raise ConfigError(f"data.sample must be >= 0 (0: no subsampling), got {sample}")
        self.window = as_int("data.window", window, 1)
        self.batch_size = as_int("data.batch_size", batch_size, 1)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.eval_pairs = as_int("data.eval_pairs", eval_pairs, 1)
        self.eval_batch_size = as_int("data.eval_batch_size", eval_batch_size, 1)
        self.prepared = False
        self.device = torch.device("cpu")

    def prepare(self) -> None:
        if self.prepared:
            return
        parts, self.vocab = load_corpus(self.path, self.min_count, self.max_vocab, self.val_fraction, self.test_fraction)
        self.streams = {name: self.vocab.encode(lines) for name, lines in parts.items()}
        unk = self.vocab.stoi[UNK]
        self.streams = {name: (ids[ids != unk], line[ids != unk]) for name, (ids, line) in self.streams.items()}
        retained = float(self.noise_counts().sum())  # T: the words that pass min_count (word2vec's train_words)
        self.keep = keep_probability(self.vocab.counts, retained, self.sample).float()
        self.keep[: 2] = 0.0  # the specials never enter a pair
        train_ids = self.streams["train"][0]
        self.expected_words = float(self.keep[train_ids].sum())
        self.prepared = True

    def sizes(self) -> dict[str, int]:
        self.prepare()
        return {"vocab_size": len(self.vocab)}

    def noise_counts(self) -> torch.Tensor:
        """Training counts of the words that can be drawn as noise (the specials: 0)."""
        counts = self.vocab.counts.clone()
        counts[: 2] = 0
        return counts

    @property
    def words(self) -> list[str]:
        return self.vocab.itos

    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        self.prepare()
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed
        self._epoch: tuple[int, tuple[torch.Tensor, ...]] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return max(1, math.ceil(self.expected_words / self.batch_size))

    def epoch_stream(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(kept ids, their lines, window radii)`` of ``epoch``: subsampled and drawn with ``(seed, epoch)``."""
        if self._epoch is None or self._epoch[0] != epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, epoch))
            ids, line = self.streams["train"]
            kept = torch.rand(len(ids), generator=gen) < self.keep[ids]
            ids, line = ids[kept], line[kept]
            if len(ids) == 0:
                raise ConfigError(f"epoch {epoch} kept no word of {self.path} after subsampling: the corpus is too small "
                                  "for data.sample; lower it (0: keep every word) or use a larger corpus")
            radius = torch.randint(1, self.window + 1, (len(ids),), generator=gen)
            self._epoch = (epoch, (ids, line, radius))
        return self._epoch[1]

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        ids, line, radius = self.epoch_stream(progress.epoch)
        last = progress.batch == self.batches_per_epoch - 1
        start = min(progress.batch * self.batch_size, len(ids) - 1)
        stop = len(ids) if last else min(start + self.batch_size, len(ids))
        x, y = window_contexts(ids, line, radius, start, stop, self.window)
        return self.shard({"x": x.to(self.device), "y": y.to(self.device)})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        """The windows of the first centres of ``split`` (of the training text when the split is empty) up to
        about ``eval_pairs`` pairs, every word kept, windows drawn with a fixed seed."""
        if split not in ("val", "test"):
            raise ConfigError(f"unknown split {split!r}: use val or test")
        ids, line = self.streams[split] if len(self.streams[split][0]) > 1 else self.streams["train"]
        gen = torch.Generator().manual_seed(stream_seed(self.seed, -1))
        radius = torch.randint(1, self.window + 1, (len(ids),), generator=gen)
        stop = min(len(ids), math.ceil(self.eval_pairs / (self.window + 1)))  # a window holds window + 1 words on average
        x, y = window_contexts(ids, line, radius, 0, stop, self.window)
        x, y = x.to(self.device), y.to(self.device)
        for i in range(0, len(x), self.eval_batch_size):
            yield {"x": x[i:i + self.eval_batch_size], "y": y[i:i + self.eval_batch_size]}
