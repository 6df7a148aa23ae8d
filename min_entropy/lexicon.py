"""Unsupervised lexicon by minimum entropy: "当机立断"之词库构建 (Su Jianlin, kexue.fm/archives/5476).

Memorising a corpus word by word costs ``L = H / l`` bits per character (eqs. 2.6-2.7), with
``H = -sum_w p_w log p_w`` and ``l = sum_w p_w l_w``. Merging two adjacent units ``a, b`` changes it by
exactly ``-F_ab / l`` (eq. 2.11), and ``F_ab >= F*_ab = p_ab (ln(p_ab / (p_a p_b)) - 1)`` (eq. 2.15).
So strong adjacent pairs (high PMI) should be merged, and words are found in four passes:

1. count characters and adjacent pairs inside chunks;
2. cut between two characters wherever ``p_ab < min_prob`` or ``ln(p_ab / (p_a p_b)) < min_pmi``;
   each run left uncut is a candidate word;
3. drop candidates whose frequency is not above ``min_prob``;
4. de-redundancy, longest first: re-segment each candidate with the rest of the lexicon and keep it
   only if ``ln p(w) - sum_k ln p(sub_k)`` reaches the threshold; otherwise its count goes to its
   sub-words. The post's threshold is 1 (eq. 2.17); the companion code (nlp-zero's ``Word_Finder``)
   uses ``len(w) - 1``, which also penalises long words.

Probabilities: ``p_ab`` = pair count / all pairs, ``p_a`` = character count / all characters, as in the
companion code. Logarithms are natural except in :func:`information_per_char` (bits).

The passes run on int-coded text in compiled loops (``min_entropy.kernels``), the two counting passes
streamed block by block through an engine (``min_entropy.engines``: this process, or a Dask cluster).
``min_entropy.reference`` is the same algorithm in plain Python; the tests hold the two equal.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from engine.errors import ConfigError, ProjectError
from engine.files import write_atomic
from min_entropy import kernels
from min_entropy.char_ids import NUM_IDS
from min_entropy.chinese_text import Corpus, read_lines
from min_entropy.counts import NgramCounter, PieceCounter, char_counter, longest_first, node_strings
from min_entropy.engines import LocalEngine, blocks
from min_entropy.hash_table import Table

RULES = ("constant", "length")


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
             null_score: float = -100.0, max_len: int | None = 64, progress: bool = False,
             engine=None) -> Discovery:
    """All four passes over ``corpus`` (a ``Corpus``, or lines that can be iterated twice).

    ``max_len`` drops candidates longer than that many characters at truncation; the longest on
    People's Daily at (1e-7, 1) has 37, so the default 64 changes nothing there. ``engine``: where the
    two counting passes run (``engines.make_engine``; default: this process).
    """
    check_thresholds(min_prob, min_pmi)
    if rule not in RULES:
        raise ConfigError(f"lexicon.rule={rule!r} is not one of {', '.join(RULES)}")
    if iter(corpus) is corpus:
        raise TypeError("discover reads the corpus twice: pass a list or a Corpus, not an iterator")
    engine = engine or LocalEngine()
    t0 = time.perf_counter()
    if isinstance(engine, LocalEngine) and not isinstance(corpus, Corpus):  # lines in memory: joined into
        corpus = list(blocks(corpus, engine.block_chars))  # blocks once for both passes (the same blocks)
    counts = engine.accumulate(corpus, NgramCounter, "counting", progress)
    if not counts.total_chars:
        raise ProjectError("the corpus has no Chinese characters, letters or digits to count")
    keys, pair_counts, _ = counts.ngrams.entries()
    strong = kernels.strong_pairs(keys, pair_counts, counts.chars, int(pair_counts.sum()), counts.total_chars,
                                  float(min_prob), float(min_pmi)) if len(keys) else np.zeros(0, dtype=bool)
    t1 = time.perf_counter()
    pieces = engine.accumulate(corpus, partial(PieceCounter, keys[strong]), "cutting", progress)
    t2 = time.perf_counter()
    found = judge(pieces.trie, min_prob, max_len, rule, null_score)
    t3 = time.perf_counter()
    found.char_counts = char_counter(counts.chars)
    found.num_pairs, found.num_strong_pairs = len(keys), int(strong.sum())
    found.seconds = {"count": t1 - t0, "cut": t2 - t1, "truncate_deredundancy": t3 - t2, "total": t3 - t0}
    return found


def judge(trie: Table, min_prob: float, max_len: int | None, rule: str, null_score: float) -> Discovery:
    """Passes 3 and 4 on the counted pieces of a trie (its counts change in place)."""
    n = len(trie)
    counts = trie.counts[:n]
    num_candidates = int(np.count_nonzero(counts))
    total = int(counts.sum())
    keep = counts > min_prob * total  # frequency n_w / sum n above min_prob
    if max_len is not None:
        keep &= trie.depth[:n] <= max_len
    counts[~keep] = 0
    kept = np.flatnonzero(keep)
    order, chars = longest_first(trie, kept[trie.depth[kept] > 1])
    lengths = trie.depth[order].astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    trie.reserve(NUM_IDS)  # de-redundancy may add single characters no word covered
    root = np.full(NUM_IDS, -1, dtype=np.int64)
    singles = np.flatnonzero(trie.depth[:n] == 1)
    root[trie.keys[singles]] = singles
    gains, at, _ = kernels.remove_redundant(order, lengths, starts, chars, rule == "length", float(null_score),
                                            int(counts.sum()), root, *trie.arrays())
    words = np.flatnonzero(trie.counts[:len(trie)])  # in node order, as before de-redundancy
    stayed = np.ones(len(order), dtype=bool)
    stayed[at] = False
    # The strings are decoded twice (the words, and the judged ones in the order judged), so that each dict
    # and list is built reading its strings in the order they were made: fast, where gathering them from
    # one list in another order was slow (a cache miss per string)
    judged = np.array(node_strings(trie, order), dtype=object)
    return Discovery(words=dict(zip(node_strings(trie, words), trie.counts[words].tolist())),
                     gains=dict(zip(judged[stayed].tolist(), gains[stayed].tolist())),
                     removed=list(zip(judged[at].tolist(), gains[at].tolist())),
                     num_pairs=0, num_strong_pairs=0, num_candidates=num_candidates, num_truncated=len(kept))


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
