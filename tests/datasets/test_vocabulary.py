"""One vocabulary for every text data module: order, specials, counts, streams and padded rows."""

from __future__ import annotations

import pytest
import torch

from datasets.vocabulary import EOS, PAD, UNK, Vocabulary
from engine.errors import ConfigError


def test_vocabulary_min_count_order_and_padding():
    vocab = Vocabulary([list("aaab"), list("aabc"), list("bd")], min_count=3, specials=(PAD, UNK))
    assert vocab.itos == ["<pad>", "<unk>", "a", "b"]  # a: 5, b: 3; c, d below min_count
    rows = vocab.encode_rows([list("abcd"), list("ba"), list("aaaaaa")], maxlen=4)
    assert rows.tolist() == [[2, 3, 1, 1], [3, 2, 0, 0], [2, 2, 2, 2]]
    assert rows.dtype == torch.long


def test_vocabulary_order_counts_and_specials():
    lines = [["b", "a", "a", "c"], ["a", "b", "d"]]
    vocab = Vocabulary(lines, min_count=2, specials=(UNK, EOS))
    assert vocab.itos == [UNK, EOS, "a", "b"]  # most frequent first, ties alphabetical
    assert vocab.counts.tolist() == [2, 2, 3, 2]  # <unk> stands in for c and d; </s> ends 2 lines
    ids, line = vocab.encode(lines, eos=True)
    assert ids.tolist() == [3, 2, 2, 0, 1, 2, 3, 0, 1] and line.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    plain = Vocabulary(lines, min_count=1, max_size=2)
    assert plain.itos == ["a", "b"]
    assert plain.encode(lines)[0].tolist() == [1, 0, 0, 0, 1]  # no <unk>: unknown words are dropped
    assert torch.equal(plain.counts, torch.tensor([3.0, 2.0], dtype=torch.float64))
    with pytest.raises(ConfigError, match="min_count"):
        Vocabulary(lines, min_count=9)


def test_padded_rows_need_the_pad_special():
    with pytest.raises(ConfigError, match="<pad>"):
        Vocabulary([["a", "a"]], min_count=1).encode_rows([["a"]], maxlen=2)
