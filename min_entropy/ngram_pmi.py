"""Word discovery by n-gram PMI: the later method of 【中文分词系列】 8. 更好的新词发现算法 (Su Jianlin, 2019,
kexue.fm/archives/6920), as a second method beside post 1's (``min_entropy.pair_pmi``).

1. count the n-grams of 1..``order`` characters inside chunks, keep those seen ``min_count`` times;
2. an n-gram ``w`` of k >= 2 characters is *strong* if every way of cutting it in two is a strong bond:
   ``min_j ln(N n_w / (n_{w[:j]} n_{w[j:]})) >= min_pmi[k]``, with ``N`` the number of characters and
   a part below ``min_count`` counted as ``N`` (a weak part);
3. cut each chunk into pieces: a piece is a maximal chain of overlapping strong n-grams, a character
   no strong n-gram covers is a piece alone; count the pieces, keep those seen ``min_count`` times;
4. de-redundancy ("回溯"): a piece of 3..``order`` characters must itself be a strong n-gram, and a longer
   one must have every ``order``-character window strong; pieces of one or two characters stay.

The lexicon's counts are the pieces' counts; the same segmenter and metrics as post 1 apply.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from engine.errors import ConfigError, ProjectError, as_int, as_number
from min_entropy import kernels
from min_entropy.char_ids import MAX_PACKED, NUM_IDS, pack
from min_entropy.counts import NgramCounter, PieceCounter, char_counter, node_ids, node_strings
from min_entropy.engines import check_settings, make_engine
from min_entropy.hash_table import Table
from min_entropy.lexicon import Discovery


def strong_ngrams(codes: np.ndarray, counts: np.ndarray, orders: np.ndarray, chars: np.ndarray,
                  min_count: int, min_pmi: Sequence[float]) -> np.ndarray:
    """The packed codes of the strong n-grams (step 2) among the counted ones."""
    total = float(chars.sum())
    keep = counts >= min_count
    codes, counts, orders = codes[keep], counts[keep], orders[keep]
    kept = Table.from_entries(codes, counts)

    def count_of(sub: np.ndarray, length: int) -> np.ndarray:
        """Counts of the parts; a part below min_count counts as N (a weak part)."""
        n = chars[sub] if length == 1 else np.where((at := kernels.lookup(kept.index, sub)) >= 0, kept.counts[at], 0)
        return np.where(n >= min_count, n, total).astype(np.float64)

    strong = []
    for k in range(2, len(min_pmi) + 2):
        group = orders == k
        code, n = codes[group], counts[group].astype(np.float64)
        pmi = np.full(len(code), np.inf)
        for j in range(1, k):
            base = NUM_IDS ** (k - j)
            pmi = np.minimum(pmi, np.log(total * n / (count_of(code // base, j) * count_of(code % base, k - j))))
        strong.append(code[pmi >= min_pmi[k - 2]])
    return np.concatenate(strong) if strong else np.zeros(0, dtype=np.int64)


def discover_ngram_pmi(corpus: Iterable[str], order: int = 4, min_count: int = 32,
                       min_pmi: Sequence[float] = (2.0, 4.0, 6.0), progress: bool = False, engine=None) -> Discovery:
    """All four steps over ``corpus`` (a ``Corpus``, or lines that can be iterated twice).

    Defaults: the 2019 repository's (order 4, min_count 32, PMI thresholds 2, 4, 6 nats for 2-, 3-
    and 4-grams), sized there for corpora of tens of millions of characters.
    """
    min_pmi = check(order, min_count, min_pmi)
    engine = engine or make_engine()
    t0 = time.perf_counter()
    counts = engine.accumulate(corpus, partial(NgramCounter, 2, order), "counting", progress)
    if not counts.total_chars:
        raise ProjectError("the corpus has no Chinese characters, letters or digits to count")
    grams, n, orders = counts.ngrams.entries()
    strong = strong_ngrams(grams, n, orders, counts.chars, min_count, min_pmi)
    t1 = time.perf_counter()
    pieces = engine.accumulate(corpus, partial(PieceCounter, strong, order), "cutting", progress)
    t2 = time.perf_counter()
    trie = pieces.trie
    nodes = np.flatnonzero(trie.counts[:len(trie)] >= min_count)
    keep = np.ones(len(nodes), dtype=bool)
    depth = trie.depth[nodes]
    for length in np.unique(depth[depth >= 3]).tolist():
        where = np.flatnonzero(depth == length)
        ids = node_ids(trie, nodes[where], length)
        window = min(length, order)
        codes = np.stack([pack(ids[:, k:k + window]) for k in range(length - window + 1)], axis=1)
        keep[where] = (kernels.lookup(pieces.strong.index, codes.ravel()) >= 0).reshape(codes.shape).all(axis=1)
    words, dropped = nodes[keep], nodes[~keep]
    names = node_strings(trie, np.concatenate([words, dropped]))
    t3 = time.perf_counter()
    found = Discovery(words=dict(zip(names[:len(words)], trie.counts[words].tolist())), gains={},
                      removed=[(w, math.nan) for w in names[len(words):]], num_pairs=len(grams),
                      num_strong_pairs=len(strong), num_candidates=int(np.count_nonzero(trie.counts[:len(trie)])),
                      num_truncated=len(nodes))
    found.char_counts = char_counter(counts.chars)
    found.seconds = {"count": t1 - t0, "cut": t2 - t1, "truncate_deredundancy": t3 - t2, "total": t3 - t0}
    return found


def check(order: int, min_count: int, min_pmi: Sequence[float]) -> list[float]:
    order = as_int("lexicon.order", order, 2, MAX_PACKED + 1)
    min_count = as_int("lexicon.min_count", min_count, 1)
    values = [min_pmi] if isinstance(min_pmi, (int, float)) else list(min_pmi)
    if len(values) != order - 1 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           and math.isfinite(v) for v in values):
        raise ConfigError(f"lexicon.min_pmi must list {order - 1} numbers (nats), one per order 2..{order}, "
                          f"got {min_pmi!r}")
    return [float(v) for v in values]


@dataclass
class NgramPMI:
    """``lexicon=ngram_pmi``: the 2019 method with its settings and the engine that counts."""

    order: int = 4
    min_count: int = 32
    min_pmi: Sequence[float] = (2.0, 4.0, 6.0)
    null_score: float = -100.0
    word_bonus: float = 0.0  # nats added to every word's score when segmenting (min_entropy.segmenter)
    engine: str = "local"
    scheduler: str | None = None
    partitions: int | None = None

    def __post_init__(self) -> None:
        self.min_pmi = check(self.order, self.min_count, self.min_pmi)
        check_settings(self.engine, self.scheduler, self.partitions)
        self.word_bonus = as_number("lexicon.word_bonus", self.word_bonus)

    def discover(self, corpus: Iterable[str], progress: bool = False) -> Discovery:
        engine = make_engine(self.engine, self.scheduler, self.partitions)
        try:
            return discover_ngram_pmi(corpus, self.order, self.min_count, self.min_pmi, progress, engine)
        finally:
            engine.close()
