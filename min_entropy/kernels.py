"""The compiled loops of word discovery and segmentation (numba), on int-coded text (``char_ids``).

Each loop does, character for character and float operation for float operation, what the plain
Python of ``min_entropy.reference`` does (the tests check both on random texts and pin the lexicons
of the real corpora), so the lexicon and every tie-break are the same; only the speed differs.
Tables are ``hash_table`` arrays. A kernel that adds entries takes the item to start from and
returns the item it reached: short of the end when the table is full (the caller grows it and calls
again from there).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from min_entropy.char_ids import NUM_IDS
from min_entropy.hash_table import add_child, child, contains, find


@njit(cache=True)
def strong_pairs(keys, counts, chars, total_pairs, total_chars, min_prob, min_pmi):
    """Post 1's test of each counted pair: ``ln p_ab >= ln min_prob`` and ``ln(p_ab / (p_a p_b)) >= min_pmi``."""
    log_pairs = math.log(total_pairs)
    log_chars = math.log(total_chars)
    log_min = math.log(min_prob)
    out = np.zeros(keys.size, dtype=np.bool_)
    for d in range(keys.size):
        lp = math.log(counts[d]) - log_pairs
        a, b = keys[d] // NUM_IDS, keys[d] % NUM_IDS
        pmi = lp - (math.log(chars[a]) - log_chars) - (math.log(chars[b]) - log_chars)
        out[d] = lp >= log_min and pmi >= min_pmi
    return out


@njit(cache=True)
def count_pairs(codes):
    """The distinct codes of ``codes`` (packed pairs as uint32: below ``NUM_IDS ** 2 < 2 ** 30``), ascending,
    and how often each occurs: what ``np.unique(codes, return_counts=True)`` gives, by two passes of an
    LSD radix sort on 15-bit digits (linear time; about 3x faster than numpy's comparison sort here)."""
    n = codes.size
    bits = 15
    mask = (1 << bits) - 1
    low = np.zeros((1 << bits) + 1, dtype=np.int64)  # bucket starts, by the low digit
    high = np.zeros((1 << bits) + 1, dtype=np.int64)  # and by the high one
    for i in range(n):
        c = np.int64(codes[i])
        low[(c & mask) + 1] += 1
        high[(c >> bits) + 1] += 1
    for b in range(1 << bits):
        low[b + 1] += low[b]
        high[b + 1] += high[b]
    by_low = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = np.int64(codes[i])
        by_low[low[c & mask]] = c
        low[c & mask] += 1
    ordered = np.empty(n, dtype=np.int64)
    for i in range(n):  # stable by the high digit: sorted
        c = by_low[i]
        ordered[high[c >> bits]] = c
        high[c >> bits] += 1
    keys = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if m > 0 and ordered[i] == keys[m - 1]:
            counts[m - 1] += 1
        else:
            keys[m] = ordered[i]
            counts[m] = 1
            m += 1
    return keys[:m], counts[:m]


@njit(cache=True)
def merge_runs(keys_a, counts_a, depth_a, keys_b, counts_b, depth_b):
    """Two runs of distinct keys sorted ascending (with counts and depths) merged into one, the counts of a
    key in both added."""
    n = keys_a.size + keys_b.size
    keys = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    depth = np.empty(n, dtype=np.int32)
    i = j = m = 0
    while i < keys_a.size and j < keys_b.size:
        if keys_a[i] < keys_b[j]:
            keys[m], counts[m], depth[m] = keys_a[i], counts_a[i], depth_a[i]
            i += 1
        elif keys_b[j] < keys_a[i]:
            keys[m], counts[m], depth[m] = keys_b[j], counts_b[j], depth_b[j]
            j += 1
        else:
            keys[m], counts[m], depth[m] = keys_a[i], counts_a[i] + counts_b[j], depth_a[i]
            i += 1
            j += 1
        m += 1
    for k in range(i, keys_a.size):
        keys[m], counts[m], depth[m] = keys_a[k], counts_a[k], depth_a[k]
        m += 1
    for k in range(j, keys_b.size):
        keys[m], counts[m], depth[m] = keys_b[k], counts_b[k], depth_b[k]
        m += 1
    return keys[:m].copy(), counts[:m].copy(), depth[:m].copy()


@njit(cache=True)
def spell(nodes, keys, depth, codepoints, sep):
    """The code points of trie nodes' strings, each followed by ``sep``, in one array (decoded at once).

    A node's characters are read from its key and its parents' keys (``hash_table``: ``(parent + 1) *
    NUM_IDS + char``), last first, and written into place."""
    total = 0
    for k in range(nodes.size):
        total += depth[nodes[k]] + 1
    out = np.empty(total, dtype=np.uint32)
    end = 0
    for k in range(nodes.size):
        v = nodes[k]
        end += depth[v]
        p = end - 1
        while v >= 0:
            key = keys[v]
            out[p] = codepoints[key % NUM_IDS]
            v = key // NUM_IDS - 1
            p -= 1
        out[end] = sep
        end += 1
    return out


@njit(cache=True)
def cut_into_chains(ids, order, strong):
    """Cut each chunk into maximal chains of overlapping strong n-grams (orders 2..``order``, packed codes
    in the ``hash_table.key_set`` ``strong``); a character no strong n-gram covers is a piece alone. With ``order=2`` this is post
    1's cut (between two characters unless their pair is strong), with 4 the 2019 one
    (kexue.fm/archives/6920). Returns the pieces' starts and lengths."""
    n = ids.size
    starts = np.empty(n, dtype=np.int64)
    lengths = np.empty(n, dtype=np.int64)
    t = 0
    i = 0
    while i < n:
        if ids[i] == 0:
            i += 1
            continue
        end = i + 1
        j = i
        while j < end:  # extend while a strong n-gram starting inside the piece reaches past its end
            code = ids[j]
            for k in range(1, order):
                if j + k >= n or ids[j + k] == 0:
                    break
                code = code * NUM_IDS + ids[j + k]
                if j + k + 1 > end and contains(strong, code):
                    end = j + k + 1
            j += 1
        starts[t], lengths[t] = i, end - i
        t += 1
        i = end
    return starts[:t], lengths[:t]


@njit(cache=True)
def insert_spans(ids, starts, lengths, weights, first, nodes, index, keys, counts, depth, size):
    """Walk (adding nodes) the trie path of each string ``ids[starts[k]:starts[k] + lengths[k]]`` from
    item ``first`` on, add ``weights[k]`` to its count and write its node into ``nodes[k]`` (-1 for a
    string holding an id 0: it can never match inside a chunk). Returns the next item: short of the
    end when the trie is full."""
    for k in range(first, starts.size):
        if size[0] + lengths[k] > keys.size:
            return k
        node = -1
        for p in range(starts[k], starts[k] + lengths[k]):
            if ids[p] == 0:
                node = -1
                break
            node = add_child(index, keys, depth, size, node, ids[p])
        nodes[k] = node
        if node >= 0:
            counts[node] += weights[k]
    return starts.size


@njit(cache=True)
def insert_codes(codes, length, weights, first, index, keys, counts, depth, size):
    """``insert_spans`` for strings of ``length`` characters given as packed codes (``char_ids.pack``).

    The codes come sorted (``np.unique``), so a string mostly shares its first characters with the one
    before: their nodes are taken from that walk (the same nodes, made in the same order) and only the
    rest is probed."""
    chars = np.empty(length, dtype=np.int64)
    prev = np.full(length, -1, dtype=np.int64)  # the characters of the string before, and its path
    path = np.empty(length, dtype=np.int64)
    for k in range(first, codes.size):
        if size[0] + length > keys.size:
            return k
        code = codes[k]
        for p in range(length - 1, -1, -1):
            chars[p] = code % NUM_IDS
            code //= NUM_IDS
        same = 0
        while same < length and chars[same] == prev[same]:
            same += 1
        node = path[same - 1] if same > 0 else -1
        for p in range(same, length):
            node = add_child(index, keys, depth, size, node, chars[p])
            path[p] = node
            prev[p] = chars[p]
        counts[node] += weights[k]
    return codes.size


@njit(cache=True)
def lookup(index, codes):
    """The entry of each code in the table, or -1."""
    out = np.empty(codes.size, dtype=np.int64)
    for k in range(codes.size):
        out[k] = find(index, codes[k])
    return out


@njit(cache=True)
def remove_redundant(order, lengths, starts, chars, length_rule, null_score, total, root, index, keys, counts, depth,
                     size):
    """Post 1's de-redundancy over the trie's words (count > 0), in ``order`` (longest first).

    Each word is re-segmented without itself (unigram DP over every substring that is a word, a
    character no word covers scoring ``null_score``); its gain ``ln p(w) - sum_k ln p(sub_k)`` must reach
    1, or ``len(w) - 1`` with ``length_rule``, else its count goes to its sub-words. Word ``k`` of the
    order is ``chars[starts[k]:starts[k] + lengths[k]]`` (spelled out beforehand, read in sequence).
    Returns the gain of each word of the order, the positions in the order of the words removed (in
    the order removed), and the new total. ``root[c]``: the node of the one-character string ``c``
    (-1: none), the first step of every walk without a probe; the walk from the first character follows
    the word's own parents instead (no probe at all: ~45% of the probes on People's Daily). The log of
    each count is taken once (and again when the count changes), not at every substring that reaches it.
    """
    log_counts = np.full(keys.size, np.nan)  # NaN: not a word (count 0)
    for v in range(size[0]):
        if counts[v] > 0:
            log_counts[v] = math.log(counts[v])
    gains = np.empty(order.size)
    removed = np.empty(order.size, dtype=np.int64)
    n_removed = 0
    longest = 1
    for k in range(order.size):
        longest = max(longest, lengths[k])
    best = np.empty(longest + 1)
    back = np.zeros(longest + 1, dtype=np.int64)
    prefix = np.empty(longest + 1, dtype=np.int64)
    for q in range(order.size):
        w = order[q]
        length = lengths[q]
        buf = chars[starts[q]:starts[q] + length]
        v = w
        for j in range(length, 0, -1):  # the nodes of w's prefixes: its parents, read from keys, not probed
            prefix[j] = v
            v = keys[v] // NUM_IDS - 1
        best[0] = 0.0
        for k in range(1, length + 1):
            best[k] = -np.inf
        log_total = math.log(total)
        for i in range(length):
            base = best[i] - log_total
            covered = False
            node = -1
            for j in range(i + 1, length + 1):
                if i == 0:
                    node = prefix[j]
                else:
                    node = root[buf[i]] if j == i + 1 else child(index, node, buf[j - 1])
                if node < 0:
                    break
                lc = log_counts[node]
                if math.isnan(lc) or node == w:
                    continue
                if j == i + 1:
                    covered = True
                if base + lc > best[j]:
                    best[j] = base + lc
                    back[j] = i
            if not covered and best[i] + null_score > best[i + 1]:
                best[i + 1] = best[i] + null_score
                back[i + 1] = i
        gain = log_counts[w] - log_total - best[length]
        gains[q] = gain
        if gain >= (length - 1.0 if length_rule else 1.0):
            continue
        n = counts[w]
        counts[w] = 0
        log_counts[w] = np.nan
        removed[n_removed] = q
        n_removed += 1
        j = length
        parts = 0
        while j > 0:
            i = back[j]
            node = root[buf[i]]
            for p in range(i + 1, j):
                node = child(index, node, buf[p])
            if node < 0:  # a character no word covers becomes a word (only single characters are missing)
                node = add_child(index, keys, depth, size, -1, buf[i])
                root[buf[i]] = node
            counts[node] += n
            log_counts[node] = math.log(counts[node])
            parts += 1
            j = i
        total += (parts - 1) * n
    return gains, removed[:n_removed], total


TOKEN_END, LINE_END = 0x1F, 0x1E  # whitespace, so never inside a token: the output's separators


@njit(cache=True)
def segment(points, ids, is_space, root, index, log_counts, log_total, null_score, split_lines, out):
    """Tokens of a text: chunks of word characters cut by the unigram DP over the lexicon trie (nodes
    with a NaN log count are prefixes only), each run of one repeated other character a token,
    whitespace dropped. Writes the tokens' code points into ``out``, each followed by ``TOKEN_END``
    (``LINE_END`` after a line's last token, where the text has a newline, with ``split_lines``);
    returns the length written. ``root[c]``: the trie node of the one-character prefix ``c``."""
    n = ids.size
    best = np.empty(n + 1)
    back = np.empty(n + 1, dtype=np.int64)
    cuts = np.empty(n + 1, dtype=np.int64)
    m = 0
    i = 0
    while i < n:
        if ids[i] == 0:
            c = points[i]
            if c < is_space.size and is_space[c]:
                if split_lines and c == 10:
                    if m > 0 and out[m - 1] == TOKEN_END:
                        out[m - 1] = LINE_END
                    else:
                        out[m] = LINE_END
                        m += 1
                i += 1
                continue
            j = i + 1
            while j < n and points[j] == c:
                j += 1
            for _ in range(i, j):
                out[m] = c
                m += 1
            out[m] = TOKEN_END
            m += 1
            i = j
            continue
        e = i
        while e < n and ids[e] != 0:
            e += 1
        length = e - i  # the chunk is ids[i:e]; best[k] covers its first k characters
        best[0] = 0.0
        for k in range(1, length + 1):
            best[k] = -np.inf
        for a in range(length):
            base = best[a] - log_total
            covered = False
            node = root[ids[i + a]]
            b = a + 1
            while node >= 0:
                lc = log_counts[node]
                if not math.isnan(lc):
                    if b == a + 1:
                        covered = True
                    if base + lc > best[b]:
                        best[b] = base + lc
                        back[b] = a
                if b == length:
                    break
                node = child(index, node, ids[i + b])
                b += 1
            if not covered and best[a] + null_score > best[a + 1]:
                best[a + 1] = best[a] + null_score
                back[a + 1] = a
        k = length
        t = 0
        while k > 0:
            cuts[t] = k
            t += 1
            k = back[k]
        start = 0
        for q in range(t - 1, -1, -1):
            for p in range(i + start, i + cuts[q]):
                out[m] = points[p]
                m += 1
            out[m] = TOKEN_END
            m += 1
            start = cuts[q]
        i = e
    return m


@njit(cache=True)
def logs(values):
    """``math.log`` of each value (numpy's vector log may differ in the last bit: ties must match)."""
    out = np.empty(values.size)
    for k in range(values.size):
        out[k] = math.log(values[k])
    return out
