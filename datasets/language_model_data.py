"""Next-word windows of a tokenised corpus, for the GRU language model of post 4 (kexue.fm/archives/5617).

The training lines become one stream of ids, each line ended by ``</s>``; words outside the vocabulary
become ``<unk>``. Each epoch the stream is cut into windows of ``bptt`` words starting at an offset drawn
from ``(seed, epoch)`` (so window boundaries move between epochs), the windows are shuffled with the same
generator, and batch ``k`` takes windows ``k * B .. (k + 1) * B - 1``. Every window starts from a zero hidden
state: no state is carried between batches, so a batch is a pure function of ``(seed, epoch, batch)`` and
resume needs nothing but the step. Validation and test windows are cut from offset 0, in order, likewise
from a zero state; perplexity is therefore that of a model reading windows of up to ``bptt`` words.

``carry_state=true``: truncated back-propagation through time, the hidden state carried from one window to
the next (the usual protocol for LM perplexity). Each epoch the stream from the offset drawn from
``(seed, epoch)`` is cut into ``B`` parallel streams (stream ``r`` is the ``r``-th contiguous ``1/B`` of it),
and batch ``k`` is window ``k`` of every stream, in order, with ``"reset"`` (B,) bools saying which rows start
a stream (all of them at the epoch's first batch, none after): the model (``model.carry_state``, which
follows this setting) starts those rows from zeros and the others from its state at the end of batch
``k - 1``. Batches stay a pure function of ``(seed, epoch, batch)``; the state is the model's, and in its
checkpoint. Validation and test are read the same way as ``eval_batch_size`` contiguous streams (every
target word of the split once; the last window may be shorter, and the rows that end early are padded
with targets ``-1``, which the perplexity leaves out), the state reset at the first batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from datasets.token_corpus import load_corpus
from engine.contracts import DataModule
from engine.errors import ConfigError, as_bool, as_int, as_number
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
    """Batches ``{"x": words (B, bptt), "y": next words (B, bptt)}``, plus ``"reset"`` (B,) with ``carry_state``.

    ``sizes()`` gives ``vocab_size``; ``noise_counts()`` the training counts of every word (``</s>`` and
    ``<unk>`` included: they are words to predict). The vocabulary equals ``SkipGramData``'s for the same
    file, ``min_count``, ``max_vocab`` and fractions.
    """

    unit = "tokens"

    def __init__(self, path: str, min_count: int = 1, max_vocab: int | None = None, bptt: int = 35,
                 batch_size: int = 64, val_fraction: float = 0.05, test_fraction: float = 0.05,
                 eval_batch_size: int = 256, carry_state: bool = False) -> None:
        self.path, self.min_count, self.max_vocab = path, as_int("data.min_count", min_count, 1), max_vocab
        self.bptt = as_int("data.bptt", bptt, 1)
        self.batch_size = as_int("data.batch_size", batch_size, 1)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.eval_batch_size = as_int("data.eval_batch_size", eval_batch_size, 1)
        self.carry_state = as_bool("data.carry_state", carry_state)
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
        # from any offset < bptt there are len - bptt targets or more: that many windows, or streams of that many
        targets = len(self.streams["train"]) - self.bptt
        if self.carry_state:
            return targets // self.batch_size // self.bptt
        return targets // self.bptt // self.batch_size

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        if self._epoch is None or self._epoch[0] != progress.epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch))
            offset = int(torch.randint(self.bptt, (), generator=gen))
            if self.carry_state:
                x, y = batchify(self.on_device["train"][offset:], self.batch_size)
            else:
                x, y = cut_windows(self.on_device["train"], self.bptt, offset)
                order = torch.randperm(len(x), generator=gen).to(self.device)
                x, y = x[order], y[order]
            self._epoch = (progress.epoch, (x, y))
        x, y = self._epoch[1]
        if self.carry_state:  # window k of every stream
            cols = slice(progress.batch * self.bptt, (progress.batch + 1) * self.bptt)
            reset = torch.full((self.batch_size,), progress.batch == 0, dtype=torch.bool, device=self.device)
            return self.shard({"x": x[:, cols].contiguous(), "y": y[:, cols].contiguous(), "reset": reset})
        rows = slice(progress.batch * self.batch_size, (progress.batch + 1) * self.batch_size)
        return self.shard({"x": x[rows], "y": y[rows]})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        if split not in ("val", "test"):
            raise ConfigError(f"unknown split {split!r}: use val or test")
        if self.carry_state:
            yield from self._carried_eval_batches(self.on_device[split])
            return
        x, y = cut_windows(self.on_device[split], self.bptt)
        if len(x) == 0:  # a split shorter than one window: one short window
            stream = self.on_device[split]
            x, y = stream[None, :-1], stream[None, 1:]
        for i in range(0, len(x), self.eval_batch_size):
            yield {"x": x[i:i + self.eval_batch_size], "y": y[i:i + self.eval_batch_size]}

    def _carried_eval_batches(self, stream: torch.Tensor) -> Iterator[dict[str, torch.Tensor]]:
        """The split as ``eval_batch_size`` contiguous streams (fewer for a split of fewer target words), whose
        lengths differ by one at most, read window by window; targets past a stream's end are ``-1``."""
        targets = len(stream) - 1
        if targets < 1:
            return
        rows = min(self.eval_batch_size, targets)
        lengths = torch.full((rows,), targets // rows, device=stream.device)
        lengths[: targets % rows] += 1
        starts = torch.cumsum(lengths, 0) - lengths
        pos = torch.arange(int(lengths.max()), device=stream.device)
        inside = pos[None] < lengths[:, None]
        at = (starts[:, None] + pos[None]).clamp_max(targets - 1)
        x = torch.where(inside, stream[at], 0)
        y = torch.where(inside, stream[at + 1], -1)
        for k in range(0, x.shape[1], self.bptt):
            reset = torch.full((rows,), k == 0, dtype=torch.bool, device=stream.device)
            yield {"x": x[:, k:k + self.bptt].contiguous(), "y": y[:, k:k + self.bptt].contiguous(), "reset": reset}


def batchify(stream: torch.Tensor, streams: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``, each ``(streams, n)``: row ``r`` is the ``r``-th contiguous ``n``-word stretch of ``stream``
    (``n = (len - 1) // streams``) and ``y`` its shift by one, so that columns ``k * bptt .. (k + 1) * bptt - 1``
    are window ``k`` of every stream."""
    n = (len(stream) - 1) // streams
    return stream[: streams * n].view(streams, n), stream[1: streams * n + 1].view(streams, n)
