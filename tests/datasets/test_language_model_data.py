"""Language-model windows: next-word targets, </s> between lines, pure batches, whole validation stream."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datasets.language_model_data import LanguageModelData, cut_windows
from engine.errors import ConfigError
from engine.progress import Progress


def test_cut_windows_shift_by_one():
    stream = torch.arange(23)
    x, y = cut_windows(stream, 5, offset=2)
    assert x.tolist()[0] == [2, 3, 4, 5, 6] and y.tolist()[0] == [3, 4, 5, 6, 7]
    assert len(x) == 4 and y[-1, -1] == 22


@pytest.fixture
def data(tmp_path: Path) -> LanguageModelData:
    gen = torch.Generator().manual_seed(0)
    lines = [" ".join(f"w{int(i)}" for i in torch.randint(0, 50, (int(n),), generator=gen))
             for n in torch.randint(3, 12, (400,), generator=gen)]
    lines[330] += " unseen"  # a validation line (lines 320-359) with a word training never saw
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n")
    d = LanguageModelData(str(tmp_path / "c.txt"), min_count=2, bptt=7, batch_size=4, val_fraction=0.1, test_fraction=0.1)
    d.setup("cpu", seed=5)
    return d


def test_batches_predict_the_next_word_and_are_pure(data: LanguageModelData):
    p = Progress(0, 1, 3, 100, data.batches_per_epoch)
    a, b = data.train_batch(p), data.train_batch(p)
    assert torch.equal(a["x"], b["x"]) and a["x"].shape == (4, 7)
    stream = data.on_device["train"]
    for x, y in zip(a["x"], a["y"]):  # each window is a stretch of the stream and its shift by one
        starts = [s for s in range(len(stream) - 7) if torch.equal(stream[s:s + 7], x)]
        assert any(torch.equal(stream[s + 1:s + 8], y) for s in starts)
    eos = data.vocab.stoi["</s>"]
    assert (stream == eos).sum() == 320  # one </s> per training line


def test_validation_windows_cover_the_split_in_order(data: LanguageModelData):
    xs = torch.cat([b["x"] for b in data.eval_batches("val")])
    stream = data.on_device["val"]
    assert torch.equal(xs.flatten(), stream[: xs.numel()]) and len(stream) - 1 - xs.numel() < 7
    assert (stream == data.vocab.stoi["<unk>"]).any()  # words unseen in training are <unk>


def test_fractions_of_zero_are_refused(tmp_path: Path):
    (tmp_path / "c.txt").write_text("a b c\n" * 100)
    with pytest.raises(ConfigError, match="val_fraction=0"):
        LanguageModelData(str(tmp_path / "c.txt"), val_fraction=0.0).setup("cpu")


@pytest.fixture
def carried(data: LanguageModelData) -> LanguageModelData:
    d = LanguageModelData(data.path, min_count=2, bptt=7, batch_size=4, val_fraction=0.1, test_fraction=0.1,
                          eval_batch_size=3, carry_state=True)
    d.setup("cpu", seed=5)
    return d


def test_carried_batches_read_parallel_streams_in_order(carried: LanguageModelData):
    stream = carried.on_device["train"]
    for epoch in (0, 1):
        batches = [carried.train_batch(Progress(0, epoch, k, 100, carried.batches_per_epoch))
                   for k in range(carried.batches_per_epoch)]
        assert [b["reset"].tolist() for b in batches] == [[True] * 4] + [[False] * 4] * (len(batches) - 1)
        for a, b in zip(batches, batches[1:]):  # batch k + 1, row r continues batch k, row r
            assert torch.equal(b["x"][:, 0], a["y"][:, -1])
        x, y = torch.cat([b["x"] for b in batches], 1), torch.cat([b["y"] for b in batches], 1)
        assert x.shape == (4, 7 * carried.batches_per_epoch)
        # stream r: the r-th contiguous quarter of the stream from the epoch's offset, and its shift by one
        (offset,) = [s for s in range(7) if torch.equal(stream[s:s + x.shape[1]], x[0])]
        n = (len(stream) - offset - 1) // 4
        for r in range(4):
            assert torch.equal(x[r], stream[offset + r * n: offset + r * n + x.shape[1]])
            assert torch.equal(y[r], stream[offset + r * n + 1: offset + r * n + 1 + x.shape[1]])
        assert n - x.shape[1] < 7 + 2  # what an epoch leaves out of each stream: less than a window (and a word)
    again = carried.train_batch(Progress(0, 1, 2, 100, carried.batches_per_epoch))
    assert all(torch.equal(again[k], batches[2][k]) for k in again), "a pure function of (seed, epoch, batch)"


def test_carried_batches_shard_their_rows_and_resets(carried: LanguageModelData):
    p = Progress(0, 0, 1, 100, carried.batches_per_epoch)
    whole = carried.train_batch(p)
    for rank in (0, 1):
        carried.setup("cpu", rank=rank, world_size=2, seed=5)
        part = carried.train_batch(p)
        assert all(torch.equal(part[k], whole[k][2 * rank: 2 * rank + 2]) for k in whole)


@pytest.mark.parametrize("split", ["val", "test"])
def test_carried_evaluation_reads_every_word_of_the_split_in_order(carried: LanguageModelData, split: str):
    batches = list(carried.eval_batches(split))
    assert [b["reset"].tolist() for b in batches] == [[True] * 3] + [[False] * 3] * (len(batches) - 1)
    assert all(b["x"].shape[1] == 7 for b in batches[:-1])
    x, y = torch.cat([b["x"] for b in batches], 1), torch.cat([b["y"] for b in batches], 1)
    inside = y >= 0
    assert all(bool(row[:k].all()) and not bool(row[k:].any()) for row, k in zip(inside, inside.sum(1)))
    stream = carried.on_device[split]
    # row by row, the real targets are the split's words 1 .. N in order, each once, behind the words before them
    assert torch.equal(x[inside], stream[:-1]) and torch.equal(y[inside], stream[1:])
    assert inside.sum(1).max() - inside.sum(1).min() <= 1


def test_carry_state_is_a_switch(tmp_path: Path):
    (tmp_path / "c.txt").write_text("a b c\n" * 100)
    with pytest.raises(ConfigError, match="data.carry_state must be true or false, got 'yes'"):
        LanguageModelData(str(tmp_path / "c.txt"), carry_state="yes")
