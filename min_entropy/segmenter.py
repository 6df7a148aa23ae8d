"""Unigram word segmentation by dynamic programming, and its word-level precision / recall / F1.

Segmentation as minimum total information (kexue.fm/archives/5476): among all ways to write a
chunk as words of the lexicon, take the one that maximises ``sum_k log p(w_k)`` with
``p(w) = n_w / N``. A character that no word covers scores ``null_score`` (the companion code's -100),
so it is used only where nothing else fits. ``word_bonus`` (nats, default 0) is added to every word's
score, ``log p(w) + word_bonus``: a prior on the number of words that moves the segmentation towards
shorter words (> 0) or longer ones (< 0) without changing the lexicon. The lexicon is a trie in a hash table and the DP a
compiled loop (``min_entropy.kernels.segment``); ``min_entropy.reference.ReferenceSegmenter`` is the
same in plain Python.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

from min_entropy import kernels
from min_entropy.char_ids import IS_SPACE, NUM_IDS, code_points, to_ids
from min_entropy.chinese_text import is_word
from min_entropy.hash_table import Table


class Segmenter:
    """Unigram segmenter over a fixed lexicon ``{word: count}``.

    ``tokenize(line)`` cuts each chunk of word characters by the unigram DP and keeps every other
    character as its own token, a run of one repeated character as one (``chinese_text.pieces``);
    ``tokenize_lines(lines)`` does many lines in one call.
    """

    def __init__(self, counts: Mapping[str, int], null_score: float = -100.0, word_bonus: float = 0.0) -> None:
        words = list(counts)
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(words))
        if (values <= 0).any():  # words without a positive count are left out (copying only then: it is slow)
            counts = {w: c for w, c in counts.items() if c > 0}
            words = list(counts)
            values = values[values > 0]
        self.word_bonus = float(word_bonus)
        # every word scores log n_w - log_total: the bonus enters as a smaller log_total
        self.log_total = (math.log(sum(counts.values())) if counts else 0.0) - self.word_bonus
        self.null_score = float(null_score)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        starts = np.zeros(len(words), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        self.trie = Table(2 * len(words))
        ids = to_ids(code_points("".join(words)))
        nodes = np.empty(len(words), dtype=np.int64)
        k = 0
        zero = np.zeros(len(words), dtype=np.int64)  # no counts: the trie only holds the words' paths
        while (k := kernels.insert_spans(ids, starts, lengths, zero, k, nodes, *self.trie.arrays())) < len(words):
            self.trie.grow()
        self.log_counts = np.full(len(self.trie), np.nan)  # NaN: a prefix of a word, not a word
        ok = nodes >= 0
        self.log_counts[nodes[ok]] = kernels.logs(values[ok])
        self.root = np.full(NUM_IDS, -1, dtype=np.int64)  # the first step of every walk, without a probe
        singles = np.flatnonzero(self.trie.depth[:len(self.trie)] == 1)
        self.root[self.trie.keys[singles]] = singles

    def _segment(self, text: str, split_lines: bool) -> str:
        """The tokens of ``text`` joined by ``TOKEN_END`` (``LINE_END`` between lines): one string, split in C."""
        points = code_points(text)
        out = np.empty(2 * len(points) + 1, dtype=np.uint32)
        m = kernels.segment(points, to_ids(points), IS_SPACE, self.root, self.trie.index, self.log_counts,
                            self.log_total, self.null_score, split_lines, out)
        return out[:m].tobytes().decode("utf-32-le")

    def tokenize(self, text: str, tally: Counter | None = None) -> list[str]:
        """Words of a raw line; their concatenation is the line without its whitespace.

        ``tally``, if given, counts the words cut from chunks (punctuation left out).
        """
        words = self._segment(text, False).split(_TOKEN_END)[:-1]
        if tally is not None:
            _tally(tally, words)
        return words

    def cut(self, chunk: str) -> list[str]:
        """The maximum-probability segmentation of one chunk of word characters."""
        return self.tokenize(chunk)

    def tokenize_lines(self, lines: Iterable[str], tally: Counter | None = None) -> list[list[str]]:
        """``[tokenize(line) for line in lines]`` in one compiled call (lines must not hold a newline)."""
        lines = list(lines)
        out = self._segment("\n".join(lines) + "\n", True).split(_LINE_END)[:-1] if lines else []
        if len(out) != len(lines):  # lines with no token at all: the slow way, to keep them in place
            return [self.tokenize(line, tally) for line in lines]
        words = [line.split(_TOKEN_END) if line else [] for line in out]
        if tally is not None:
            for w in words:
                _tally(tally, w)
        return words


_TOKEN_END, _LINE_END = chr(kernels.TOKEN_END), chr(kernels.LINE_END)


def _tally(tally: Counter, words: list[str]) -> None:
    tally.update(w for w in words if is_word(w))


def spans(words: Iterable[str]) -> set[tuple[int, int]]:
    """Character spans ``(start, end)`` of consecutive words."""
    out, start = set(), 0
    for w in words:
        out.add((start, start + len(w)))
        start += len(w)
    return out


def segmentation_scores(gold: Iterable[list[str]], predicted: Iterable[list[str]]) -> dict[str, float]:
    """Micro-averaged word precision, recall and F1: a word is right when its span matches a gold word's.

    Lines are paired in order; each pair must spell the same characters.
    """
    n_gold = n_pred = n_right = 0
    for lineno, (g, p) in enumerate(zip(gold, predicted, strict=True), 1):
        if "".join(g) != "".join(p):
            raise ValueError(f"line {lineno}: prediction spells {''.join(p)[:40]!r}, gold {''.join(g)[:40]!r}")
        gs, ps = spans(g), spans(p)
        n_gold, n_pred, n_right = n_gold + len(gs), n_pred + len(ps), n_right + len(gs & ps)
    precision = n_right / n_pred if n_pred else 0.0
    recall = n_right / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "gold_words": n_gold, "predicted_words": n_pred, "correct_words": n_right}
