"""An int64-keyed hash table in flat numpy arrays, for the compiled passes of word discovery.

Keys live in a dense array in insertion order (entry ``d`` is ``keys[d]``, with ``counts[d]`` and
``depth[d]``); ``index`` is an open-addressing index (linear probing, Fibonacci hashing, load <= 1/2)
holding ``key, entry`` side by side, so that a probe touches one cache line. Two uses:

- an n-gram counter: the key is the packed n-gram (``char_ids.pack``), ``depth`` its length;
- a trie of strings of any length: entry ``d`` is a node whose key is ``(parent + 1) * NUM_IDS + char``
  (the root is ``-1``), so walking a string is one probe per character and no string is ever compared.

The njit functions take the arrays; :class:`Table` owns them and grows them between calls
(:meth:`Table.reserve`, :meth:`Table.grow`): a kernel that adds entries stops and returns where it got
to when the dense arrays are full, and its caller grows the table and calls it again from there.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from min_entropy.char_ids import NUM_IDS

_MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def home(key: int, mask: int) -> int:
    h = np.uint64(key) * _MIX
    h ^= h >> np.uint64(31)
    return np.int64(h & np.uint64(mask))


@njit(cache=True, inline="always")
def _probe(index: np.ndarray, key: int) -> int:
    """The slot holding ``key``, or the empty slot where it would go."""
    mask = index.size // 2 - 1
    i = home(key, mask)
    while index[2 * i] != key and index[2 * i] >= 0:
        i = (i + 1) & mask
    return i


@njit(cache=True, inline="always")
def find(index: np.ndarray, key: int) -> int:
    """The entry of ``key``, or -1."""
    i = _probe(index, key)
    return index[2 * i + 1] if index[2 * i] == key else -1


@njit(cache=True, inline="always")
def add(index: np.ndarray, keys: np.ndarray, size: np.ndarray, key: int) -> int:
    """The entry of ``key``, made (count 0) if it is new; the caller checks there is room."""
    i = _probe(index, key)
    if index[2 * i] != key:
        index[2 * i] = key
        index[2 * i + 1] = size[0]
        keys[size[0]] = key
        size[0] += 1
    return index[2 * i + 1]


@njit(cache=True, inline="always")
def add_child(index: np.ndarray, keys: np.ndarray, depth: np.ndarray, size: np.ndarray, node: int, char: int) -> int:
    """The trie node below ``node`` (-1: the root) by ``char``, made (with its depth) if it is new."""
    before = size[0]
    d = add(index, keys, size, (node + 1) * NUM_IDS + char)
    if size[0] > before:
        depth[d] = 1 if node < 0 else depth[node] + 1
    return d


@njit(cache=True, inline="always")
def child(index: np.ndarray, node: int, char: int) -> int:
    """The trie node below ``node`` (-1: the root) by ``char``, or -1."""
    return find(index, (node + 1) * NUM_IDS + char)


@njit(cache=True)
def key_set(keys: np.ndarray) -> np.ndarray:
    """A set of distinct int64 keys (>= 0) for membership tests only (``contains``): open addressing like the
    index, load <= 1/2, but one int64 per slot (no entry), so it is half the index's size and more of it
    stays in the cache."""
    slots = 2
    while slots < 2 * keys.size:
        slots *= 2
    out = np.full(slots, -1, dtype=np.int64)
    mask = slots - 1
    for k in range(keys.size):
        i = home(keys[k], mask)
        while out[i] >= 0 and out[i] != keys[k]:
            i = (i + 1) & mask
        out[i] = keys[k]
    return out


@njit(cache=True, inline="always")
def contains(members: np.ndarray, key: int) -> bool:
    """Whether ``key`` is in a ``key_set``."""
    mask = members.size - 1
    i = home(key, mask)
    while members[i] >= 0:
        if members[i] == key:
            return True
        i = (i + 1) & mask
    return False


@njit(cache=True)
def _index(index: np.ndarray, keys: np.ndarray, n: int) -> None:
    mask = index.size // 2 - 1
    for d in range(n):
        i = home(keys[d], mask)
        while index[2 * i] >= 0:
            i = (i + 1) & mask
        index[2 * i] = keys[d]
        index[2 * i + 1] = d


@njit(cache=True)
def insert_all(index: np.ndarray, keys: np.ndarray, counts: np.ndarray, depth: np.ndarray, size: np.ndarray,
               new_keys: np.ndarray, new_counts: np.ndarray, new_depth: np.ndarray) -> None:
    """Add ``new_counts`` to the entries of ``new_keys`` (n-gram tables: merging two counts); reserved."""
    for k in range(new_keys.size):
        d = add(index, keys, size, new_keys[k])
        counts[d] += new_counts[k]
        depth[d] = new_depth[k]


@njit(cache=True)
def graft(index: np.ndarray, keys: np.ndarray, counts: np.ndarray, depth: np.ndarray, size: np.ndarray,
          other_keys: np.ndarray, other_counts: np.ndarray) -> None:
    """Add another trie's nodes and counts (its nodes in creation order: parents first); reserved."""
    here = np.empty(other_keys.size, dtype=np.int64)
    for k in range(other_keys.size):
        parent = other_keys[k] // NUM_IDS - 1
        d = add_child(index, keys, depth, size, -1 if parent < 0 else here[parent], other_keys[k] % NUM_IDS)
        counts[d] += other_counts[k]
        here[k] = d


class Table:
    """Dense ``keys``, ``counts`` (int64) and ``depth`` (int32) of ``size`` entries, and the probe index."""

    def __init__(self, capacity: int = 1024) -> None:
        self.size = np.zeros(1, dtype=np.int64)
        self.keys = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.int64)
        self.depth = np.empty(0, dtype=np.int32)
        self.index = np.empty(0, dtype=np.int64)
        self.reserve(max(capacity, 1))

    def __len__(self) -> int:
        return int(self.size[0])

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more entries (the dense arrays hold half as many entries as the index slots)."""
        n, need = len(self), len(self) + int(extra)
        if need <= self.keys.size:
            return
        cap = 1 << max(int(need - 1).bit_length(), 10)
        for name, dtype in (("keys", np.int64), ("counts", np.int64), ("depth", np.int32)):
            grown = np.zeros(cap, dtype=dtype)
            grown[:n] = getattr(self, name)[:n]
            setattr(self, name, grown)
        self.index = np.full(4 * cap, -1, dtype=np.int64)  # 2 * cap slots of (key, entry)
        _index(self.index, self.keys, n)

    def grow(self) -> None:
        """Twice the room: for a kernel that stopped because the table was full."""
        self.reserve(self.keys.size)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(index, keys, counts, depth, size)``: the arguments the kernels take, in that order."""
        return self.index, self.keys, self.counts, self.depth, self.size

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the used ``keys, counts, depth`` (what a worker sends back)."""
        n = len(self)
        return self.keys[:n].copy(), self.counts[:n].copy(), self.depth[:n].copy()

    @classmethod
    def from_entries(cls, keys: np.ndarray, counts: np.ndarray | None = None,
                     depth: np.ndarray | None = None) -> Table:
        """A table of the given entries (distinct keys; counts and depth 0 unless given)."""
        n = len(keys)
        table = cls(n)
        table.keys[:n] = keys
        if counts is not None:
            table.counts[:n] = counts
        if depth is not None:
            table.depth[:n] = depth
        table.size[0] = n
        _index(table.index, table.keys, n)
        return table
