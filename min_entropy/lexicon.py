"""Unsupervised lexicon by minimum entropy: "当机立断"之词库构建 (Su Jianlin, kexue.fm/archives/5476).

Memorising a corpus word by word costs ``L = H / l`` bits per character (eqs. 2.6-2.7), with
``H = -sum_w p_w log p_w`` and ``l = sum_w p_w l_w``. Merging two adjacent units ``a, b`` changes it by
exactly ``-F_ab / l`` (eq. 2.11), and ``F_ab >= F*_ab = p_ab (ln(p_ab / (p_a p_b)) - 1)`` (eq. 2.15).
So strong adjacent pairs (high PMI) should be merged, and words are found in four passes:

1. count characters and adjacent pairs inside chunks (:func:`count_ngrams`);
2. cut between two characters wherever ``p_ab < min_prob`` or ``ln(p_ab / (p_a p_b)) < min_pmi``;
   each run left uncut is a candidate word (:func:`cut_candidates`);
3. drop candidates whose frequency is not above ``min_prob`` (:func:`truncate`);
4. de-redundancy, longest first: re-segment each candidate with the rest of the lexicon and keep it
   only if ``ln p(w) - sum_k ln p(sub_k)`` reaches the threshold; otherwise its count goes to its
   sub-words (:func:`remove_redundant`). The post's threshold is 1 (eq. 2.17); the companion code
   (nlp-zero's ``Word_Finder``) uses ``len(w) - 1``, which also penalises long words.

Probabilities: ``p_ab`` = pair count / all pairs, ``p_a`` = character count / all characters, as in the
companion code. Logarithms are natural except in :func:`information_per_char` (bits).
"""

from __future__ import annotations

import math
import operator
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from engine.errors import ConfigError, ProjectError
from engine.files import write_atomic
from min_entropy.chinese_text import chunks, read_lines
from min_entropy.segmenter import unigram_dp

RULES = ("constant", "length")
_BLOCK = 1 << 20  # characters counted per block: bounded memory however large the corpus


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


def count_ngrams(lines: Iterable[str], progress: bool = False) -> NgramCounts:
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

    for line in tqdm(lines, desc="counting", unit=" lines", disable=not progress, mininterval=1.0):
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
    check_thresholds(min_prob, min_pmi)
    log_min = math.log(min_prob)
    return {ab for ab, (lp, pmi) in pair_pmi(counts).items() if lp >= log_min and pmi >= min_pmi}


def cut_candidates(lines: Iterable[str], strong: set[str], progress: bool = False) -> Counter:
    """Cut every chunk at its weak joints and count the pieces ("当机立断")."""
    candidates: Counter = Counter()
    for line in tqdm(lines, desc="cutting", unit=" lines", disable=not progress, mininterval=1.0):
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


def remove_redundant(words: Mapping[str, int], rule: str = "constant", null_score: float = -100.0,
                     progress: bool = False) -> tuple[dict[str, int], dict[str, float], list[tuple[str, float]]]:
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
    for w in tqdm(order, desc="de-redundancy", unit=" words", disable=not progress, mininterval=1.0):
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


@dataclass
class Discovery:
    """A discovered lexicon and what each pass did."""

    words: dict[str, int]
    gains: dict[str, float]
    removed: list[tuple[str, float]]
    num_pairs: int
    num_strong_pairs: int
    num_candidates: int
    num_truncated: int
    char_counts: Counter = field(repr=False, default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each pass


def discover(corpus: Iterable[str], min_prob: float = 1e-7, min_pmi: float = 1.0, rule: str = "constant",
             null_score: float = -100.0, max_len: int | None = 64, progress: bool = False) -> Discovery:
    """All four passes over ``corpus`` (an iterable of lines that can be iterated twice).

    ``max_len`` drops candidates longer than that many characters at truncation; the longest on
    People's Daily at (1e-7, 1) has 37, so the default 64 changes nothing there.
    """
    check_thresholds(min_prob, min_pmi)
    if iter(corpus) is corpus:
        raise TypeError("discover reads the corpus twice: pass a list or a Corpus, not an iterator")
    t0 = time.perf_counter()
    counts = count_ngrams(corpus, progress)
    if not counts.chars:
        raise ProjectError("the corpus has no Chinese characters, letters or digits to count")
    t1 = time.perf_counter()
    strong = strong_pairs(counts, min_prob, min_pmi)
    candidates = cut_candidates(corpus, strong, progress)
    t2 = time.perf_counter()
    kept = truncate(candidates, min_prob, max_len)
    words, gains, removed = remove_redundant(kept, rule, null_score, progress)
    t3 = time.perf_counter()
    seconds = {"count": t1 - t0, "cut": t2 - t1, "truncate_deredundancy": t3 - t2, "total": t3 - t0}
    return Discovery(words, gains, removed, len(counts.pairs), len(strong), len(candidates), len(kept),
                     counts.chars, seconds)


def check_thresholds(min_prob: float, min_pmi: float) -> None:
    if isinstance(min_prob, bool) or not isinstance(min_prob, (int, float)) or not 0 < min_prob < 1:
        raise ConfigError(f"lexicon.min_prob must be a probability in (0, 1), got {min_prob!r}")
    if isinstance(min_pmi, bool) or not isinstance(min_pmi, (int, float)) or not math.isfinite(min_pmi):
        raise ConfigError(f"lexicon.min_pmi must be a number (nats), got {min_pmi!r}")


def information_per_char(counts: Mapping[str, int], base: float = 2.0) -> float:
    """The post's ``L = H / l`` (eqs. 2.6-2.7): the information of the corpus per character.

    With token counts ``n_w`` (``N = sum n_w``): ``L = -sum_w n_w log(n_w / N) / sum_w n_w len(w)``.
    Character counts give the cost of memorising the text character by character.
    """
    total = sum(counts.values())
    chars = sum(n * len(w) for w, n in counts.items())
    bits = -sum(n * math.log(n / total) for n in counts.values() if n > 0)
    return bits / chars / math.log(base) + 0.0  # + 0.0: one word type gives 0, not -0


def merge_gain(p_a: float, p_b: float, p_ab: float) -> float:
    """``F_ab`` of eq. 2.11: merging ``a, b`` lowers ``L`` (nats per character) by exactly ``F_ab / l``."""
    f = p_ab * math.log(p_ab / (p_a * p_b)) - (1 - p_ab) * math.log1p(-p_ab)
    return f + sum((p - p_ab) * math.log1p(-p_ab / p) for p in (p_a, p_b) if p > p_ab)


def merge_gain_approx(p_a: float, p_b: float, p_ab: float) -> float:
    """``F*_ab = p_ab (ln(p_ab / (p_a p_b)) - 1)`` of eq. 2.15, a lower bound of ``F_ab``."""
    return p_ab * (math.log(p_ab / (p_a * p_b)) - 1.0)


def save_lexicon(path: Path, words: Mapping[str, int], gains: Mapping[str, float] | None = None) -> None:
    """``word<TAB>count<TAB>ln p<TAB>gain`` sorted by count (gain empty for single characters)."""
    total = sum(words.values())
    gains = gains or {}
    rows = [f"{w}\t{n}\t{math.log(n / total):.4f}\t{f'{gains[w]:.4f}' if w in gains else ''}\n"
            for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))]
    write_atomic(path, "word\tcount\tlog_prob\tgain\n" + "".join(rows))


def load_lexicon(path: str | Path) -> dict[str, int]:
    """``{word: count}`` from a lexicon TSV (``save_lexicon``'s, or any ``word<TAB or space>count`` file).

    A folder means its ``lexicon.tsv`` (a ``tools/discover_words.py`` run folder).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "lexicon.tsv"
    if not path.is_file():
        raise ProjectError(f"lexicon file {path} does not exist: make one with `python tools/discover_words.py`")
    words: dict[str, int] = {}
    for lineno, line in read_lines(path, "lexicon file"):
        fields = line.split()
        if not fields or (lineno == 1 and fields[:2] == ["word", "count"]):
            continue
        try:
            count = int(fields[1])
            if count < 1:
                raise ValueError
        except (IndexError, ValueError):
            raise ProjectError(f"{path}:{lineno}: expected 'word<TAB>count' with a positive count, "
                               f"got {line.strip()[:60]!r}") from None
        words[fields[0]] = words.get(fields[0], 0) + count
    if not words:
        raise ProjectError(f"lexicon file {path} has no words")
    return words
