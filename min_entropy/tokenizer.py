"""Word-level tokenizer for the neural models, built from a discovered lexicon (kexue.fm/archives/5476).

Text is segmented by the lexicon's unigram segmenter (``min_entropy.segmenter.Segmenter``); the ids are
the ``vocab_size`` most frequent words after the special tokens. A word outside the vocabulary
(a rare word, or a character no lexicon word covers) maps to ``<unk>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from datasets.vocabulary import PAD, UNK, Vocabulary
from engine.errors import as_int
from min_entropy.chinese_text import is_word
from min_entropy.lexicon import load_lexicon
from min_entropy.segmenter import Segmenter


class WordTokenizer:
    """``tokenize`` (text -> words), ``encode`` (text -> ids) and ``decode`` (ids -> words).

    ``vocab_size`` counts the special tokens ``<pad>`` (id 0) and ``<unk>`` (id 1); ``None`` keeps every
    word with at least ``min_count`` occurrences. ``keep_punctuation=False`` drops tokens that hold no
    Chinese character, letter or digit.
    """

    def __init__(self, words: Mapping[str, int], vocab_size: int | None = None, min_count: int = 1,
                 keep_punctuation: bool = True, null_score: float = -100.0) -> None:
        if vocab_size is not None:
            vocab_size = as_int("tokenizer.vocab_size", vocab_size, 3)
        self.segmenter = Segmenter(words, null_score)
        # the one vocabulary of the text data modules, over the lexicon's word counts
        self.vocab = Vocabulary.from_counts(words, min_count, (PAD, UNK), None if vocab_size is None else vocab_size - 2,
                                            setting="tokenizer")
        self.itos, self.stoi = self.vocab.itos, self.vocab.stoi
        self.keep_punctuation = keep_punctuation

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> WordTokenizer:
        """From a lexicon TSV written by ``tools/discover_words.py`` (``runs/.../lexicon.tsv``)."""
        return cls(load_lexicon(path), **kwargs)

    pad_id, unk_id = 0, 1

    def __len__(self) -> int:
        return len(self.itos)

    def tokenize(self, text: str) -> list[str]:
        words = self.segmenter.tokenize(text)
        return words if self.keep_punctuation else [w for w in words if is_word(w)]

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, self.unk_id) for w in self.tokenize(text)]

    def decode(self, ids: Iterable[int]) -> list[str]:
        out = []
        for i in ids:
            if not 0 <= i < len(self.itos):
                raise IndexError(f"token id {i} is outside the vocabulary (0 .. {len(self.itos) - 1})")
            out.append(self.itos[i])
        return out
