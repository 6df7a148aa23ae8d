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
