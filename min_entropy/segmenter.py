"""Unigram word segmentation by dynamic programming, and its word-level precision / recall / F1.

Segmentation as minimum total information (kexue.fm/archives/5476): among all ways to write a
chunk as words of the lexicon, take the one that maximises ``sum_k log p(w_k)`` with
``p(w) = n_w / N``. A character that no word covers scores ``null_score`` (the companion code's -100),
so it is used only where nothing else fits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from min_entropy.chinese_text import pieces

_MISSING = object()


def unigram_dp(text: str, log_counts: Mapping[str, float | None], log_total: float, null_score: float,
               complete: bool = False, exclude: str | None = None) -> tuple[list[str], float]:
    """The segmentation of ``text`` maximising ``sum_k (log n_{w_k} - log N)``, and that score.

    ``log_counts`` maps each word to ``log n_w``. If ``complete``, it also maps every prefix of a word
    that is not itself a word to ``None``, so the scan from a position stops at the first substring it
    does not hold; otherwise every substring is tried, which suits short strings. ``exclude`` is a
    word that may not be used (the de-redundancy pass re-segments a word without itself).
    """
    n = len(text)
    best = [0.0] + [-math.inf] * n
    back = [0] * (n + 1)
    get = log_counts.get  # the hot loop: one dict lookup per substring
    for i in range(n):
        base = best[i] - log_total
        covered = False
        for j in range(i + 1, n + 1):
            lc = get(text[i:j], _MISSING)
            if lc is _MISSING:
                if complete:
                    break
                continue
            if lc is None or (exclude is not None and j - i == len(exclude) and text[i:j] == exclude):
                continue
            if j == i + 1:
                covered = True
            if base + lc > best[j]:
                best[j] = base + lc
                back[j] = i
        if not covered and best[i] + null_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + null_score, i
    words, j = [], n
    while j > 0:
        words.append(text[back[j]:j])
        j = back[j]
    return words[::-1], best[n]


class Segmenter:
    """Unigram segmenter over a fixed lexicon ``{word: count}``.

    ``tokenize(line)`` segments each chunk of word characters by :func:`unigram_dp` and keeps every
    other character as its own token (``min_entropy.chinese_text.pieces``).
    """

    def __init__(self, counts: Mapping[str, int], null_score: float = -100.0) -> None:
        counts = {w: c for w, c in counts.items() if c > 0}
        self.log_total = math.log(sum(counts.values())) if counts else 0.0
        # every prefix of a word maps to None unless it is a word itself: one lookup per substring
        self.table: dict[str, float | None] = {w[:k]: None for w in counts for k in range(1, len(w))}
        self.table.update((w, math.log(c)) for w, c in counts.items())
        self.null_score = float(null_score)

    def cut(self, chunk: str) -> list[str]:
        """The maximum-probability segmentation of one chunk."""
        return unigram_dp(chunk, self.table, self.log_total, self.null_score, complete=True)[0]

    def tokenize(self, text: str, tally: Counter | None = None) -> list[str]:
        """Words of a raw line; their concatenation is the line without its whitespace.

        ``tally``, if given, counts the words cut from chunks (punctuation left out).
        """
        out: list[str] = []
        for piece, is_chunk in pieces(text):
            if is_chunk:
                words = self.cut(piece)
                out.extend(words)
                if tally is not None:
                    tally.update(words)
            else:
                out.append(piece)
        return out


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
