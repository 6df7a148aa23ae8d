"""Next-word windows of a tokenised corpus, for the GRU language model of post 4 (kexue.fm/archives/5617).

The training lines become one stream of ids, each line ended by ``</s>``; words outside the vocabulary
become ``<unk>``. Each epoch the stream is cut into windows of ``bptt`` words starting at an offset drawn
from ``(seed, epoch)`` (so window boundaries move between epochs), the windows are shuffled with the same
generator, and batch ``k`` takes windows ``k * B .. (k + 1) * B - 1``. Every window starts from a zero hidden
state: no state is carried between batches, so a batch is a pure function of ``(seed, epoch, batch)`` and
resume needs nothing but the step. Validation and test windows are cut from offset 0, in order, likewise
from a zero state; perplexity is therefore that of a model reading windows of up to ``bptt`` words.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from datasets.token_corpus import load_corpus
from engine.contracts import DataModule
from engine.errors import ConfigError, as_int, as_number
from engine.progress import Progress
from engine.seeding import stream_seed


def cut_windows(stream: torch.Tensor, bptt: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``, each ``(N, bptt)``: ``x = stream[s : s + bptt]``, ``y = stream[s + 1 : s + bptt + 1]`` for
    ``s = offset, offset + bptt, ...`` as long as a whole window fits."""
    n = (len(stream) - 1 - offset) // bptt
    if n < 1:
        return stream.new_zeros(0, bptt), stream.new_zeros(0, bptt)
    x = stream[offset: offset + n * bptt].view(n, bptt)
    y = stream[offset + 1: offset + 1 + n * bptt].view(n, bptt)
    return x, y


class LanguageModelData(DataModule):
    """Batches ``{"x": words (B, bptt), "y": next words (B, bptt)}``.

    ``sizes()`` gives ``vocab_size``; ``noise_counts()`` the training counts of every word (``</s>`` and
    ``<unk>`` included: they are words to predict). The vocabulary equals ``SkipGramData``'s for the same
    file, ``min_count``, ``max_vocab`` and fractions.
    """

    unit = "tokens"

    def __init__(self, path: str, min_count: int = 1, max_vocab: int | None = None, bptt: int = 35,
                 batch_size: int = 64, val_fraction: float = 0.05, test_fraction: float = 0.05,
                 eval_batch_size: int = 256) -> None:
        self.path, self.min_count, self.max_vocab = path, as_int("data.min_count", min_count, 1), max_vocab
        self.bptt = as_int("data.bptt", bptt, 1)
        self.batch_size = as_int("data.batch_size", batch_size, 1)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.eval_batch_size = as_int("data.eval_batch_size", eval_batch_size, 1)
        self.prepared = False
        self.device = torch.device("cpu")

    def prepare(self) -> None:
        if self.prepared:
            return
        for name in ("val", "test"):
            if as_number(f"data.{name}_fraction", getattr(self, f"{name}_fraction")) <= 0:
                raise ConfigError(f"data.{name}_fraction=0 leaves no {name} lines: the language model is evaluated on them")
        parts, self.vocab = load_corpus(self.path, self.min_count, self.max_vocab, self.val_fraction, self.test_fraction)
        self.streams = {name: self.vocab.encode(lines, eos=True)[0] for name, lines in parts.items()}
        if len(self.streams["train"]) < self.bptt * self.batch_size + self.bptt + 1:
            raise ConfigError(f"{len(self.streams['train'])} training words fill less than one batch of "
                              f"{self.batch_size} windows of {self.bptt}: lower data.batch_size or data.bptt")
        self.prepared = True

    def sizes(self) -> dict[str, int]:
        self.prepare()
        return {"vocab_size": len(self.vocab)}

    def noise_counts(self) -> torch.Tensor:
        return self.vocab.counts.clone()

    @property
    def words(self) -> list[str]:
        return self.vocab.itos

    @property
    def units_per_batch(self) -> int:
        return self.batch_size * self.bptt

    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        if self.batch_size % world_size:
            raise ConfigError(f"data.batch_size={self.batch_size} (the global batch) must be divisible by the "
                              f"number of processes ({world_size})")
        self.prepare()
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed
        self.on_device = {k: v.to(self.device) for k, v in self.streams.items()}
        self._epoch: tuple[int, tuple[torch.Tensor, torch.Tensor]] | None = None

    @property
    def batches_per_epoch(self) -> int:
        # windows from any offset < bptt: at least (len - 1 - (bptt - 1)) // bptt of them
        return (len(self.streams["train"]) - self.bptt) // self.bptt // self.batch_size

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        if self._epoch is None or self._epoch[0] != progress.epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch))
            offset = int(torch.randint(self.bptt, (), generator=gen))
            x, y = cut_windows(self.on_device["train"], self.bptt, offset)
            order = torch.randperm(len(x), generator=gen).to(self.device)
            self._epoch = (progress.epoch, (x[order], y[order]))
        x, y = self._epoch[1]
        rows = slice(progress.batch * self.batch_size, (progress.batch + 1) * self.batch_size)
        return self.shard({"x": x[rows], "y": y[rows]})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        if split not in ("val", "test"):
            raise ConfigError(f"unknown split {split!r}: use val or test")
        x, y = cut_windows(self.on_device[split], self.bptt)
        if len(x) == 0:  # a split shorter than one window: one short window
            stream = self.on_device[split]
            x, y = stream[None, :-1], stream[None, 1:]
        for i in range(0, len(x), self.eval_batch_size):
            yield {"x": x[i:i + self.eval_batch_size], "y": y[i:i + self.eval_batch_size]}
