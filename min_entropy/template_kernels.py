"""The compiled loops of template mining (post 2, ``min_entropy.templates.find_templates``), on int-coded words.

The clauses come in as one array of word ids (``0 .. V - 1``, V distinct words) with the clauses' start
offsets. Each loop does what the plain Python of ``min_entropy.template_reference`` does, float
operation for float operation, so the strong skip-grams and the template counts are the same (the
tests check both on random clauses; the benchmark pins People's Daily's templates).

- :func:`skip_gram_stats` counts skip-grams grouped by their first word (a counting sort of the
  positions by word, then a stamp array over the second word: no hash table over all pairs) and keeps
  the strong ones;
- :func:`count_templates` builds each clause's DAG of strong skip-grams, counts its maximal paths and,
  unless there are more than ``max_paths``, spells one template per path in the reference's order. A
  template of one word (most of them) is counted in a flat array by word and open ends; longer ones
  in a trie of tokens (``hash_table``: node key ``(parent + 1) * base + token``, token ``word + 1`` or
  ``0`` for a placeholder).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from min_entropy.hash_table import add, find

BIG = 2 ** 60  # where the path and token counts of a clause saturate (no int64 overflow)


@njit(cache=True)
def skip_gram_stats(ids, starts, num_words, window, min_prob, min_pmi):
    """Word counts, the number of skip-grams and of distinct ones, and the strong ``(a, b)`` pairs.

    A skip-gram ``(w_i, w_j)`` has ``0 < j - i <= window`` inside one clause (``starts``: the clauses'
    offsets into ``ids``, ending with ``ids.size``). Strong: ``ln p_12 > ln min_prob`` and
    ``ln(p_12 / (p_1 p_2)) > min_pmi``. Returns ``(word_counts, total, distinct, strong_a, strong_b)``.
    """
    n = ids.size
    word_counts = np.zeros(num_words, dtype=np.int64)
    end_of = np.empty(n, dtype=np.int64)  # the end of each position's clause
    for s in range(starts.size - 1):
        for i in range(starts[s], starts[s + 1]):
            end_of[i] = starts[s + 1]
            word_counts[ids[i]] += 1
    first = np.zeros(num_words + 1, dtype=np.int64)  # positions grouped by word (counting sort)
    for w in range(num_words):
        first[w + 1] = first[w] + word_counts[w]
    fill = first[:-1].copy()
    positions = np.empty(n, dtype=np.int64)
    for i in range(n):
        positions[fill[ids[i]]] = i
        fill[ids[i]] += 1
    total = 0
    for i in range(n):
        total += min(window, end_of[i] - i - 1)
    strong_a = np.empty(0, dtype=np.int64)
    strong_b = np.empty(0, dtype=np.int64)
    if total == 0:
        return word_counts, total, 0, strong_a, strong_b
    log_words = math.log(n)
    log_grams = math.log(total)
    log_min = math.log(min_prob)
    stamp = np.full(num_words, -1, dtype=np.int64)
    count = np.zeros(num_words, dtype=np.int64)
    touched = np.empty(num_words, dtype=np.int64)  # the distinct second words of the current first word
    out_a = []
    out_b = []
    distinct = 0
    for a in range(num_words):
        m = 0
        for q in range(first[a], first[a + 1]):
            i = positions[q]
            for j in range(i + 1, min(end_of[i], i + 1 + window)):
                b = ids[j]
                if stamp[b] != a:
                    stamp[b] = a
                    count[b] = 0
                    touched[m] = b
                    m += 1
                count[b] += 1
        distinct += m
        if m == 0:
            continue
        log_pa = math.log(word_counts[a]) - log_words
        for k in range(m):
            b = touched[k]
            lp = math.log(count[b]) - log_grams
            if lp > log_min and lp - log_pa - (math.log(word_counts[b]) - log_words) > min_pmi:
                out_a.append(a)
                out_b.append(b)
    if len(out_a):
        strong_a = np.array(out_a)
        strong_b = np.array(out_b)
    return word_counts, total, distinct, strong_a, strong_b


@njit(cache=True, inline="always")
def _emit(path, depth, ids, lo, hi, base, index, keys, counts, tdepth, size, first, singles, single_first, seq):
    """Count the template of one maximal path ``path[:depth]`` (positions ``lo <= p < hi``)."""
    left_open = path[0] > lo
    right_open = path[depth - 1] < hi - 1
    if depth == 1:
        k = 4 * ids[path[0]] + 2 * np.int64(left_open) + np.int64(right_open)
        if singles[k] == 0:
            single_first[k] = seq
        singles[k] += 1
        return
    node = -1
    if left_open:
        node = _child(index, keys, tdepth, size, node, 0, base)
    for q in range(depth):
        if q > 0 and path[q] - path[q - 1] > 1:
            node = _child(index, keys, tdepth, size, node, 0, base)
        node = _child(index, keys, tdepth, size, node, ids[path[q]] + 1, base)
    if right_open:
        node = _child(index, keys, tdepth, size, node, 0, base)
    if counts[node] == 0:
        first[node] = seq
    counts[node] += 1


@njit(cache=True, inline="always")
def _child(index, keys, depth, size, node, token, base):
    before = size[0]
    d = add(index, keys, size, (node + 1) * base + token)
    if size[0] > before:
        depth[d] = 1 if node < 0 else depth[node] + 1
    return d


@njit(cache=True)
def count_templates(ids, starts, first_clause, strong_index, num_words, window, max_paths, index, keys, counts,
                    depth, size, first, singles, single_first, state):
    """Templates of the clauses from ``first_clause`` on: one per maximal path of each clause's DAG of
    strong skip-grams (``strong_index``: a ``hash_table`` index of the codes ``a * num_words + b``).

    One-word templates go to ``singles[4 * word + 2 * left_open + right_open]``, longer ones to the
    trie (``index .. size``; ``first[node]``: the number of the first instance, for the reference's
    order). ``state``: ``[instances so far, clauses skipped, room needed]``, updated. Returns the next
    clause: short of the end when the trie may not have room for that clause's templates (the caller
    reserves ``state[2]`` more entries and calls again from there).
    """
    base = num_words + 1
    has_out = np.zeros(num_words, dtype=np.bool_)
    for slot in range(0, strong_index.size, 2):
        if strong_index[slot] >= 0:
            has_out[strong_index[slot] // num_words] = True
    longest = 1
    for s in range(starts.size - 1):
        longest = max(longest, starts[s + 1] - starts[s])
    edge_start = np.empty(longest + 1, dtype=np.int64)
    edges = np.empty(longest * min(window, longest) + 1, dtype=np.int64)
    has_in = np.zeros(longest, dtype=np.bool_)
    ways = np.empty(longest, dtype=np.int64)  # maximal paths from each position
    nodes = np.empty(longest, dtype=np.int64)  # positions on them, all paths together
    path = np.empty(longest, dtype=np.int64)
    nxt = np.empty(longest, dtype=np.int64)
    cap = min(max_paths + 1, BIG)  # path counts saturate here: enough to compare with max_paths
    for s in range(first_clause, starts.size - 1):
        lo, hi = starts[s], starts[s + 1]
        n = hi - lo
        e = 0
        for i in range(n):
            has_in[i] = False
        for i in range(n):  # edges[edge_start[i]:edge_start[i + 1]]: the positions after i it links to
            edge_start[i] = e
            a = ids[lo + i]
            if has_out[a]:
                for j in range(i + 1, min(n, i + 1 + window)):
                    if find(strong_index, a * num_words + ids[lo + j]) >= 0:
                        edges[e] = j
                        e += 1
                        has_in[j] = True
        edge_start[n] = e
        paths = tokens = 0
        for i in range(n - 1, -1, -1):
            if edge_start[i] == edge_start[i + 1]:
                ways[i] = nodes[i] = 1
            else:
                w = v = 0
                for k in range(edge_start[i], edge_start[i + 1]):
                    w = min(w + ways[edges[k]], cap)
                    v = min(v + nodes[edges[k]], BIG)
                ways[i], nodes[i] = w, min(v + w, BIG)  # each path from i adds i to the paths from j
            if not has_in[i]:
                paths = min(paths + ways[i], cap)
                tokens = min(tokens + 2 * nodes[i] + ways[i], BIG)
        if paths > max_paths:
            state[1] += 1
            continue
        if size[0] + tokens > keys.size:  # room for every token of every template (at most 2 per word + 1)
            state[2] = tokens
            return s
        for start in range(n):
            if has_in[start]:
                continue
            path[0] = lo + start
            d = 1
            if edge_start[start] == edge_start[start + 1]:
                _emit(path, 1, ids, lo, hi, base, index, keys, counts, depth, size, first, singles, single_first,
                      state[0])
                state[0] += 1
                continue
            nxt[0] = edge_start[start]
            while d > 0:  # depth-first, the smaller next position first: the reference's order
                node = path[d - 1] - lo
                if nxt[d - 1] == edge_start[node + 1]:
                    d -= 1
                    continue
                j = edges[nxt[d - 1]]
                nxt[d - 1] += 1
                path[d] = lo + j
                nxt[d] = edge_start[j]
                d += 1
                if edge_start[j] == edge_start[j + 1]:
                    _emit(path, d, ids, lo, hi, base, index, keys, counts, depth, size, first, singles,
                          single_first, state[0])
                    state[0] += 1
                    d -= 1
    return starts.size - 1


@njit(cache=True)
def spell(keys, depth, nodes, base):
    """The tokens of trie nodes, concatenated, and their offsets (token ``0``: a placeholder)."""
    offsets = np.zeros(nodes.size + 1, dtype=np.int64)
    for k in range(nodes.size):
        offsets[k + 1] = offsets[k] + depth[nodes[k]]
    tokens = np.empty(offsets[-1], dtype=np.int64)
    for k in range(nodes.size):
        v = nodes[k]
        for p in range(offsets[k + 1] - 1, offsets[k] - 1, -1):
            tokens[p] = keys[v] % base
            v = keys[v] // base - 1
    return tokens, offsets
