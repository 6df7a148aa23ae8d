"""The two counting passes of word discovery as mergeable accumulators (see ``min_entropy.engines``).

- :class:`NgramCounter`: characters (a fixed array over ``char_ids``) and n-grams of ``lo..hi``
  characters inside chunks (:class:`SortedCounts` of the packed n-grams);
- :class:`PieceCounter`: the pieces left after cutting each chunk (post 1: at weak pairs; 2019: at the
  ends of chains of strong n-grams), counted in a trie, so pieces of any length are exact.

Both pickle to their used entries only (a Dask worker sends back counts, not hash indexes).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from min_entropy import kernels
from min_entropy.char_ids import CODEPOINTS, MAX_PACKED, NUM_IDS, encode, pack
from min_entropy.hash_table import Table, graft, key_set


class _Pickled:
    """Pickle a ``Table`` attribute as its entries and rebuild its index on load."""

    tables: tuple[str, ...] = ()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in self.tables:
            state[name] = state[name].entries()
        return state

    def __setstate__(self, state: dict) -> None:
        for name in self.tables:
            state[name] = Table.from_entries(*state[name])
        self.__dict__.update(state)


class SortedCounts:
    """Counts of distinct int64 keys (with a depth each: the n-gram's length) as a few runs sorted by key.

    Each block's counted n-grams come sorted (``_unique``), so they are kept as a run and merged with the
    run before whenever it is at least half that one's size (as a binary counter carries): every merge is
    a sequential pass (``kernels.merge_runs``), about ``log2(blocks)`` per key in all, where adding each
    block to a hash table was a cache miss per distinct n-gram, and the table's index (twice the size of
    the counts) is never built. Pickles as its arrays.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, keys: np.ndarray, counts: np.ndarray, depth: np.ndarray) -> None:
        """Add counts of distinct keys sorted ascending."""
        self.runs.append((keys, counts, depth))
        while len(self.runs) > 1 and 2 * len(self.runs[-1][0]) >= len(self.runs[-2][0]):
            b, a = self.runs.pop(), self.runs.pop()
            self.runs.append(kernels.merge_runs(*a, *b))

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``keys`` (ascending), ``counts`` and ``depth`` of every key, as arrays of their own."""
        while len(self.runs) > 1:
            b, a = self.runs.pop(), self.runs.pop()
            self.runs.append(kernels.merge_runs(*a, *b))
        if not self.runs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        return tuple(x.copy() for x in self.runs[0])

    def __len__(self) -> int:
        return len(self.entries()[0])


class NgramCounter:
    """Character counts and the counts of every n-gram of ``lo..hi`` characters (``hi <= 4``)."""

    def __init__(self, lo: int = 2, hi: int = 2) -> None:
        self.lo, self.hi = lo, hi
        self.chars = np.zeros(NUM_IDS, dtype=np.int64)
        self.ngrams = SortedCounts()

    def add(self, text: str) -> None:
        ids = encode(text)
        chars = np.bincount(ids, minlength=NUM_IDS)
        chars[0] = 0  # id 0: the characters between chunks
        self.chars += chars
        code, inside = ids.astype(np.int64), ids > 0
        for k in range(2, self.hi + 1):  # the k-grams of the block, sorted and counted (no probing)
            code = code[:-1] * NUM_IDS + ids[k - 1:]
            inside = inside[:-1] & (ids[k - 1:] > 0)
            if k >= self.lo:
                keys, counts = _unique(code[inside], k)
                self.ngrams.add(keys, counts.astype(np.int64, copy=False), np.full(len(keys), k, dtype=np.int32))

    def merge(self, other: NgramCounter) -> None:
        self.chars += other.chars
        for run in other.ngrams.runs:
            self.ngrams.add(*run)

    @property
    def total_chars(self) -> int:
        return int(self.chars.sum())


class PieceCounter(_Pickled):
    """Pieces of the chunks after cutting, counted in a trie.

    A piece is a maximal chain of overlapping strong n-grams (packed codes in ``strong``) of up to
    ``order`` characters: ``order=2`` is post 1's cut at weak pairs, 4 the 2019 cut.
    Pieces of up to four characters are packed and counted by numpy first, so the trie sees each
    distinct one once per block; longer ones are walked one by one.
    """

    tables = ("trie", "strong")

    def __init__(self, strong: np.ndarray, order: int = 2) -> None:
        self.order = order
        self.strong = Table.from_entries(np.asarray(strong, dtype=np.int64))
        self.members = key_set(self.strong.keys[:len(self.strong)])  # what the cut probes: the compact set
        self.trie = Table()
        self.pieces = 0

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        del state["members"]  # rebuilt on load: not sent
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.members = key_set(self.strong.keys[:len(self.strong)])

    def add(self, text: str) -> None:
        ids = encode(text)
        starts, lengths = kernels.cut_into_chains(ids, self.order, self.members)
        self.pieces += len(starts)
        packed = []  # (length, distinct codes, their counts) of the pieces of up to four characters
        for length in range(1, MAX_PACKED + 1):
            at = starts[lengths == length]
            if length == 1:  # single characters: a fixed array of counts, no sort
                n = np.bincount(ids[at], minlength=NUM_IDS)
                code = np.flatnonzero(n)
                n = n[code]
            else:
                code = np.zeros(len(at), dtype=np.int64)
                for k in range(length):
                    code = code * NUM_IDS + ids[at + k]
                code, n = _unique(code, length)
            packed.append((length, code, n))
        long = lengths > MAX_PACKED
        at, size, nodes = starts[long], lengths[long], np.empty(int(long.sum()), dtype=np.int64)
        if not len(self.trie):  # the first block sizes the trie (about the nodes it makes), so that it is
            # not grown from nothing by doubling, each time a new index
            self.trie.reserve(sum(len(code) for _, code, _ in packed) + int(size.sum()))
        for length, code, n in packed:
            k = 0
            while (k := kernels.insert_codes(code, length, n, k, *self.trie.arrays())) < len(code):
                self.trie.grow()  # the trie was full: grow it and go on from there
        k = 0
        while (k := kernels.insert_spans(ids, at, size, np.ones_like(at), k, nodes, *self.trie.arrays())) < len(at):
            self.trie.grow()

    def merge(self, other: PieceCounter) -> None:
        self.pieces += other.pieces
        keys, counts, _ = other.trie.entries()
        self.trie.reserve(len(keys))
        graft(*self.trie.arrays(), keys, counts)


def _unique(codes: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct packed n-gram codes (int64) and their counts; pairs (below 2 ** 30) by a radix sort, faster."""
    if length == 2:
        return kernels.count_pairs(codes.astype(np.uint32))
    return np.unique(codes, return_counts=True)


def node_ids(trie: Table, nodes: np.ndarray, length: int) -> np.ndarray:
    """The ``(len(nodes), length)`` character ids of trie nodes that all have ``length`` characters."""
    out = np.empty((len(nodes), length), dtype=np.int64)
    v = np.asarray(nodes, dtype=np.int64)
    for p in range(length - 1, -1, -1):
        key = trie.keys[v]
        out[:, p] = key % NUM_IDS
        v = key // NUM_IDS - 1
    return out


def node_strings(trie: Table, nodes: np.ndarray) -> list[str]:
    """The strings of trie nodes, in the order given: spelled out by one compiled loop, decoded and split
    in C (a newline, never a word character, ends each), so no Python work per string."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if not len(nodes):
        return []
    points = kernels.spell(nodes, trie.keys, trie.depth, CODEPOINTS, ord("\n"))
    return points.tobytes().decode("utf-32-le").split("\n")[:-1]


def longest_first(trie: Table, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``nodes`` sorted by length (longest first), then count (highest first), then string; and their
    characters, concatenated in that order."""
    nodes = np.asarray(nodes, dtype=np.int64)
    depth, counts = trie.depth[nodes], trie.counts[nodes]
    order, chars = [], []
    for length in np.unique(depth)[::-1].tolist():
        group = nodes[depth == length]
        ids = node_ids(trie, group, length)
        packed = [pack(ids[:, p:p + MAX_PACKED]) for p in range(0, length, MAX_PACKED)]  # string order
        rank = np.lexsort(packed[::-1] + [-counts[depth == length]])
        order.append(group[rank])
        chars.append(ids[rank].ravel())
    if not order:
        return nodes, np.zeros(0, dtype=np.int64)
    return np.concatenate(order), np.concatenate(chars)


def char_counter(chars: np.ndarray) -> Counter:
    """``Counter({character: count})`` of a character-count array over ``char_ids`` (id 0 left out)."""
    ids = np.flatnonzero(chars[1:]) + 1
    return Counter(dict(zip(map(chr, CODEPOINTS[ids].tolist()), chars[ids].tolist())))
