"""Skip-gram pairs: word2vec's subsampling rule, the dynamic window against brute force, pure batches."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from datasets.skip_gram_data import SkipGramData, keep_probability, window_contexts
from engine.progress import Progress


def test_keep_probability_is_word2vecs_rule():
    counts = torch.tensor([1.0, 10.0, 1000.0, 50000.0], dtype=torch.float64)
    total, s = 100000, 1e-3
    expected = [min(1.0, (math.sqrt(c / (s * total)) + 1) * s * total / c) for c in counts.tolist()]
    torch.testing.assert_close(keep_probability(counts, total, s), torch.tensor(expected, dtype=torch.float64))
    assert keep_probability(counts, total, 0.0).eq(1).all()


def test_window_contexts_equal_brute_force():
    gen = torch.Generator().manual_seed(0)
    n, window = 200, 4
    ids = torch.randint(0, 30, (n,), generator=gen)
    lines = torch.randint(0, 6, (n,), generator=gen).sort().values
    radius = torch.randint(1, window + 1, (n,), generator=gen)
    x, y = window_contexts(ids, lines, radius, 37, 151, window)
    assert torch.equal(x, ids[37:151]) and y.shape == (114, 2 * window)
    pairs = sorted((int(x[r]), int(c)) for r in range(len(x)) for c in y[r] if c >= 0)
    brute = sorted((int(ids[i]), int(ids[j])) for i in range(37, 151) for j in range(n)
                   if 0 < abs(i - j) <= radius[i] and lines[i] == lines[j])
    assert pairs == brute


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    gen = torch.Generator().manual_seed(1)
    words = [f"w{int(i)}" for i in torch.randint(0, 40, (6000,), generator=gen)] + ["the"] * 4000
    order = torch.randperm(len(words), generator=gen).tolist()
    text = [" ".join(words[j] for j in order[i:i + 50]) for i in range(0, len(words), 50)]
    (tmp_path / "c.txt").write_text("\n".join(text) + "\n")
    return tmp_path / "c.txt"


def test_batches_are_pure_and_subsample_frequent_words(corpus: Path):
    data = SkipGramData(str(corpus), min_count=1, sample=1e-2, window=3, batch_size=500)
    data.setup("cpu", seed=3)
    p = Progress(0, 1, 2, 100, data.batches_per_epoch)
    a, b = data.train_batch(p), data.train_batch(p)
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    other = data.train_batch(Progress(0, 2, 2, 100, data.batches_per_epoch))
    assert not torch.equal(a["x"][:50], other["x"][:50])
    the = data.vocab.stoi["the"]
    kept, _, radius = data.epoch_stream(0)
    share = (kept == the).float().mean().item()
    expected = data.keep[the].item() * 4000 / (data.keep[data.streams["train"][0]].sum().item())
    assert share == pytest.approx(expected, rel=0.1)  # "the" (40 % of the text) kept at word2vec's rate
    # the dynamic window: radius uniform on 1..window
    freq = torch.bincount(radius, minlength=4)[1:].float() / len(radius)
    assert (freq - 1 / 3).abs().max() < 0.03
    assert data.batches_per_epoch == math.ceil(data.expected_words / 500)


def test_epoch_covers_every_kept_word_once(corpus: Path):
    data = SkipGramData(str(corpus), min_count=1, sample=0.0, window=1, batch_size=700)
    data.setup("cpu")
    pairs = sum(int((data.train_batch(Progress(0, 0, k, 100, data.batches_per_epoch))["y"] >= 0).sum())
                for k in range(data.batches_per_epoch))
    lines = 10000 // 50
    assert pairs == 2 * (10000 - lines)  # window 1, no subsampling: each adjacent pair in a line, both ways
