"""Word discovery and segmentation in plain Python: the readable reference of the compiled path.

This is the first implementation of post 1 (kexue.fm/archives/5476), kept as it was written: strings,
dicts and ``Counter``. ``min_entropy.lexicon`` and ``min_entropy.segmenter`` do the same on int-coded
text with compiled loops; the tests check that both give the same counts, candidates, lexicon,
gains and segmentations on random texts, and pin the lexicons of the real corpora.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from engine.errors import ConfigError
from min_entropy.chinese_text import chunks, pieces

RULES = ("constant", "length")
_BLOCK = 1 << 20  # characters counted per block


@dataclass
class NgramCounts:
    """Character and adjacent-pair counts inside chunks."""

    chars: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)

    @property
    def total_chars(self) -> int:
        return sum(self.chars.values())

    @property
    def total_pairs(self) -> int:
        return sum(self.pairs.values())


def count_ngrams(lines: Iterable[str]) -> NgramCounts:
    """Count characters and adjacent pairs of the chunks of ``lines``.

    Chunks are joined with a newline into blocks of about a million characters so that counting
    runs in C (``Counter`` over ``map(operator.add, ...)``); pairs that straddle a newline are dropped.
    """
    counts = NgramCounts()
    buf: list[str] = []
    size = 0

    def flush() -> None:
        text = "\n".join(buf)
        counts.chars.update(text)
        counts.pairs.update(map(operator.add, text, text[1:]))

    for line in lines:
        for c in chunks(line):
            buf.append(c)
            size += len(c) + 1
        if size >= _BLOCK:
            flush()
            buf, size = [], 0
    if buf:
        flush()
    counts.chars.pop("\n", None)
    for pair in [p for p in counts.pairs if "\n" in p]:
        del counts.pairs[pair]
    return counts


def pair_pmi(counts: NgramCounts) -> dict[str, tuple[float, float]]:
    """``{ab: (ln p_ab, ln(p_ab / (p_a p_b)))}`` for every counted pair."""
    if not counts.pairs:  # no chunk has two characters
        return {}
    log_pairs, log_chars = math.log(counts.total_pairs), math.log(counts.total_chars)
    log_p = {c: math.log(n) - log_chars for c, n in counts.chars.items()}
    out = {}
    for ab, n in counts.pairs.items():
        lp = math.log(n) - log_pairs
        out[ab] = (lp, lp - log_p[ab[0]] - log_p[ab[1]])
    return out


def strong_pairs(counts: NgramCounts, min_prob: float, min_pmi: float) -> set[str]:
    """Pairs that are *not* cut: ``p_ab >= min_prob`` and ``ln(p_ab / (p_a p_b)) >= min_pmi``."""
    log_min = math.log(min_prob)
    return {ab for ab, (lp, pmi) in pair_pmi(counts).items() if lp >= log_min and pmi >= min_pmi}


def cut_candidates(lines: Iterable[str], strong: set[str]) -> Counter:
    """Cut every chunk at its weak joints and count the pieces ("当机立断")."""
    candidates: Counter = Counter()
    for line in lines:
        pieces = []
        for s in chunks(line):
            start = 0
            for i in range(len(s) - 1):
                if s[i:i + 2] not in strong:
                    pieces.append(s[start:i + 1])
                    start = i + 1
            pieces.append(s[start:])
        candidates.update(pieces)
    return candidates


def truncate(candidates: Mapping[str, int], min_prob: float, max_len: int | None = None) -> dict[str, int]:
    """Keep the candidates whose frequency ``n_w / sum n`` is above ``min_prob`` (and, with ``max_len``,
    no longer than that: a guard against text with no weak joint, such as a long repeated pattern)."""
    total = sum(candidates.values())
    return {w: n for w, n in candidates.items() if n > min_prob * total and (max_len is None or len(w) <= max_len)}


def remove_redundant(words: Mapping[str, int], rule: str = "constant",
                     null_score: float = -100.0) -> tuple[dict[str, int], dict[str, float], list[tuple[str, float]]]:
    """De-redundancy ("去冗"): longest words first, drop a word its sub-words already explain.

    A word ``w`` (two or more characters) is re-segmented by :func:`unigram_dp` with the lexicon
    without ``w``. Its gain is ``ln p(w) - sum_k ln p(sub_k)``, with all probabilities over the current
    total count. It stays if the gain is at least 1 (``rule="constant"``, the post's eq. 2.17) or
    ``len(w) - 1`` (``rule="length"``, the companion code); otherwise it is deleted and its count is
    added to each of its sub-words. Returns the lexicon, the gain of every kept word of two or more
    characters, and the removed words with their gains, in the order they were removed.
    """
    if rule not in RULES:
        raise ConfigError(f"lexicon.rule={rule!r} is not one of {', '.join(RULES)}")
    counts = dict(words)
    log_counts = {w: math.log(n) for w, n in counts.items()}  # every substring is tried: words are short
    total = sum(counts.values())
    gains: dict[str, float] = {}
    removed: list[tuple[str, float]] = []
    order = sorted((w for w in counts if len(w) > 1), key=lambda w: (-len(w), -counts[w], w))
    for w in order:
        log_total = math.log(total)
        subwords, sub_score = unigram_dp(w, log_counts, log_total, null_score, exclude=w)
        gain = math.log(counts[w]) - log_total - sub_score
        if gain >= (1.0 if rule == "constant" else len(w) - 1.0):
            gains[w] = gain
            continue
        n = counts.pop(w)
        del log_counts[w]
        removed.append((w, gain))
        for sub in subwords:
            counts[sub] = counts.get(sub, 0) + n
            log_counts[sub] = math.log(counts[sub])
        total += (len(subwords) - 1) * n
    return counts, gains, removed


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


class ReferenceSegmenter:
    """Unigram segmenter over a fixed lexicon ``{word: count}``.

    ``tokenize(line)`` segments each chunk of word characters by :func:`unigram_dp` and keeps every
    other character as its own token (``min_entropy.chinese_text.pieces``).
    """

    def __init__(self, counts: Mapping[str, int], null_score: float = -100.0, word_bonus: float = 0.0) -> None:
        counts = {w: c for w, c in counts.items() if c > 0}
        # each word scores log p(w) + word_bonus
        self.log_total = (math.log(sum(counts.values())) if counts else 0.0) - word_bonus
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




def discover(lines: list[str], min_prob: float = 1e-7, min_pmi: float = 1.0, rule: str = "constant",
             null_score: float = -100.0, max_len: int | None = 64) -> dict:
    """All four passes: ``{"counts", "strong", "candidates", "kept", "words", "gains", "removed"}``."""
    counts = count_ngrams(lines)
    strong = strong_pairs(counts, min_prob, min_pmi)
    candidates = cut_candidates(lines, strong)
    kept = truncate(candidates, min_prob, max_len)
    words, gains, removed = remove_redundant(kept, rule, null_score)
    return {"counts": counts, "strong": strong, "candidates": candidates, "kept": kept, "words": words,
            "gains": gains, "removed": removed}
