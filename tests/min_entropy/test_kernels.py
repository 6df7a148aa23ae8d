"""The compiled passes equal the plain-Python reference (min_entropy/reference.py) on random texts:
counts, strong pairs, cut candidates, truncation, de-redundancy (words, counts, gains, removal order),
and segmentation, which also equals brute force over every split."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from functools import partial

import numpy as np
import pytest

from min_entropy import kernels, reference
from min_entropy.char_ids import CODEPOINTS, NUM_IDS, encode, pack
from min_entropy.counts import NgramCounter, PieceCounter, node_strings
from min_entropy.engines import LocalEngine
from min_entropy.lexicon import discover, judge
from min_entropy.segmenter import Segmenter

# few characters, so that pairs repeat and words form; letters, digits, full-width digits and
# letters, punctuation (repeated runs too), spaces of several kinds, a character outside the BMP
HAN = "天地玄黄宇宙洪荒日月"
OTHER = ["，", "。", "——", "……", " ", "\u3000", "\t", "a", "B", "7", "１", "Ｚ", "😀", "\r", "·"]


def random_lines(rng: random.Random, n_lines: int, alphabet: str = HAN) -> list[str]:
    lines = []
    for _ in range(n_lines):
        parts = []
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.75:  # repeat a few "words" so that strong pairs exist
                parts.append(rng.choice(["天地", "玄黄", "宇宙洪荒", "日月", "天", "地玄", "黄宇"]) if rng.random() < 0.6
                             else "".join(rng.choices(alphabet, k=rng.randint(1, 4))))
            else:
                parts.append(rng.choice(OTHER))
        lines.append("".join(parts))
    return lines


def decode_pairs(counter: NgramCounter) -> dict[str, int]:
    keys, counts, _ = counter.ngrams.entries()
    out = {}
    for key, n in zip(keys.tolist(), counts.tolist()):
        out[chr(CODEPOINTS[key // len(CODEPOINTS)]) + chr(CODEPOINTS[key % len(CODEPOINTS)])] = n
    return out


@pytest.mark.parametrize("seed", range(12))
def test_counts_strong_pairs_and_cut_equal_the_reference(seed):
    rng = random.Random(seed)
    lines = random_lines(rng, rng.randint(1, 60))
    ref = reference.count_ngrams(lines)
    engine = LocalEngine(block_chars=rng.choice([8, 64, 1 << 20]))  # blocks of whole lines, small or not
    fast = engine.accumulate(lines, NgramCounter)
    assert {chr(c): int(fast.chars[i]) for i, c in enumerate(CODEPOINTS) if i and fast.chars[i]} == dict(ref.chars)
    assert decode_pairs(fast) == dict(ref.pairs)
    if not ref.pairs:
        return
    for min_prob, min_pmi in [(1e-7, 1.0), (1e-7, 0.0), (0.05, 0.5), (1e-7, 3.0)]:
        keys, counts, _ = fast.ngrams.entries()
        strong = kernels.strong_pairs(keys, counts, fast.chars, int(counts.sum()), fast.total_chars, min_prob, min_pmi)
        names = decode_pairs(fast)
        assert {p for p, s in zip(names, strong) if s} == reference.strong_pairs(ref, min_prob, min_pmi)
        pieces = engine.accumulate(lines, partial(PieceCounter, keys[strong]))
        nodes = np.flatnonzero(pieces.trie.counts[:len(pieces.trie)])
        got = dict(zip(node_strings(pieces.trie, nodes), pieces.trie.counts[nodes].tolist()))
        want = reference.cut_candidates(lines, reference.strong_pairs(ref, min_prob, min_pmi))
        assert got == dict(want) and pieces.pieces == sum(want.values())


@pytest.mark.parametrize("seed", range(25))
def test_discover_equals_the_reference_to_the_last_bit(seed):
    rng = random.Random(100 + seed)
    lines = random_lines(rng, rng.randint(5, 80))
    if not reference.count_ngrams(lines).chars:
        return
    min_prob = rng.choice([1e-7, 1e-3, 0.02])
    min_pmi = rng.choice([0.0, 0.5, 1.0, 2.0])
    rule = rng.choice(["constant", "length"])
    max_len = rng.choice([None, 3, 64])
    null_score = rng.choice([-100.0, -5.0])
    ref = reference.discover(lines, min_prob, min_pmi, rule, null_score, max_len)
    fast = discover(lines, min_prob, min_pmi, rule, null_score, max_len)
    assert fast.words == ref["words"]
    assert fast.gains == ref["gains"]  # exactly: the same float operations in the same order
    assert fast.removed == ref["removed"]
    assert fast.num_candidates == len(ref["candidates"]) and fast.num_truncated == len(ref["kept"])
    assert fast.num_strong_pairs == len(ref["strong"]) and fast.num_pairs == len(ref["counts"].pairs)


def test_de_redundancy_by_hand_through_the_trie():
    """The hand-worked cases of test_lexicon through the compiled pass: each word on its own lines, every
    pair inside a word strong, so that the pieces are the words with their counts."""
    cases = [({"甲": 10, "乙": 10, "甲乙": 1}, "constant"), ({"甲": 5, "乙": 5, "丙": 5, "甲乙丙": 2}, "length"),
             ({"甲乙丙": 1, "甲乙": 30, "丙": 30, "甲": 1, "乙": 1}, "constant"), ({"甲乙丙": 4, "丙": 1}, "length")]
    for words, rule in cases:
        lines = [w for w, n in words.items() for _ in range(n)]
        strong = np.unique([int(pack(encode(w[k:k + 2])[None])[0]) for w in words for k in range(len(w) - 1)])
        pieces = LocalEngine().accumulate(lines, partial(PieceCounter, strong))
        found = judge(pieces.trie, 1e-9, None, rule, -100.0)
        assert (found.words, found.gains, found.removed) == reference.remove_redundant(words, rule)


def brute_force(text: str, counts: dict[str, int], null_score: float, word_bonus: float = 0.0) -> float:
    log_total = math.log(sum(counts.values())) - word_bonus
    best = -math.inf
    for cuts in itertools.product([0, 1], repeat=len(text) - 1):
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [len(text)]
        score = 0.0
        for a, b in itertools.pairwise(bounds):
            w = text[a:b]
            score += (math.log(counts[w]) - log_total if w in counts
                      else null_score if b - a == 1 else -math.inf)
        best = max(best, score)
    return best


@pytest.mark.parametrize("word_bonus", [0.0, 3.0])
@pytest.mark.parametrize("seed", range(30))
def test_segmenter_equals_the_reference_and_brute_force(seed, word_bonus):
    rng = random.Random(seed)
    alphabet = "甲乙丙丁戊"
    counts = {"".join(rng.choices(alphabet, k=rng.randint(1, 4))): rng.randint(1, 50) for _ in range(12)}
    counts["甲，"] = 3  # a word with punctuation can never match inside a chunk, but counts in N
    fast = Segmenter(counts, null_score=-20.0, word_bonus=word_bonus)
    ref = reference.ReferenceSegmenter(counts, null_score=-20.0, word_bonus=word_bonus)
    log_total = math.log(sum(counts.values())) - word_bonus
    for _ in range(10):
        text = "".join(rng.choices(alphabet, k=rng.randint(1, 9)))
        words = fast.cut(text)
        assert words == ref.cut(text) and "".join(words) == text
        score = sum(math.log(counts[w]) - log_total if w in counts else -20.0 for w in words)
        assert score == pytest.approx(brute_force(text, counts, -20.0, word_bonus), abs=1e-9)
    lines = random_lines(rng, 20, alphabet) + ["", "  ", "\u3000"]
    assert fast.tokenize_lines(lines) == [ref.tokenize(line) for line in lines] == [fast.tokenize(x) for x in lines]


def test_segmenter_tally_and_empty_lexicon():
    seg = Segmenter({"我们": 5, "公园": 3, "去": 2})
    tally: Counter = Counter()
    assert seg.tokenize_lines(["我们去 公园！！", "", "去"], tally) == [["我们", "去", "公园", "！！"], [], ["去"]]
    assert tally == {"我们": 1, "去": 2, "公园": 1}
    assert Segmenter({}).tokenize("我们。") == reference.ReferenceSegmenter({}).tokenize("我们。") == ["我", "们", "。"]


@pytest.mark.parametrize("seed", range(3))
def test_sorted_counts_pair_radix_sort_and_key_set(seed):
    """The pieces the fast passes stand on: ``count_pairs`` is ``np.unique`` with counts; ``SortedCounts``
    (runs merged as blocks come) sums like a Counter, in any order of adding; ``key_set`` holds exactly its
    keys."""
    from min_entropy.counts import SortedCounts
    from min_entropy.hash_table import contains, key_set

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 21027 ** 2, 5000).astype(np.uint32)
    codes[:2000] = codes[2000:4000]  # repeats
    keys, counts = kernels.count_pairs(codes)
    want_keys, want_counts = np.unique(codes, return_counts=True)
    assert np.array_equal(keys, want_keys) and np.array_equal(counts, want_counts)
    assert kernels.count_pairs(codes[:0])[0].size == 0

    truth: Counter = Counter()
    table = SortedCounts()
    for _ in range(9):
        block = rng.integers(0, 300, rng.integers(0, 200))
        k, c = np.unique(block, return_counts=True)
        table.add(k, c, np.full(len(k), 2, dtype=np.int32))
        truth.update(block.tolist())
    k, c, d = table.entries()
    assert dict(zip(k.tolist(), c.tolist())) == truth and np.all(np.diff(k) > 0) and np.all(d == 2)
    assert len(table) == len(truth)

    members = key_set(np.array(sorted(truth), dtype=np.int64))
    assert all(contains(members, x) == (x in truth) for x in range(-1, 320))
    assert not contains(key_set(np.zeros(0, dtype=np.int64)), 5)


def test_node_strings_in_any_order():
    """``node_strings`` spells each node (any length, any order, repeats) as the trie holds it: its parent's
    string and its own character."""
    lines = ["天地玄黄宇宙洪荒", "天地，日月", "天地玄黄"] * 3
    strong = LocalEngine().accumulate(lines, NgramCounter).ngrams.entries()[0]  # every pair: whole chunks
    trie = LocalEngine().accumulate(lines, partial(PieceCounter, strong)).trie
    nodes = np.arange(len(trie))[::-1]
    names = node_strings(trie, np.concatenate([nodes, nodes[:3]]))
    assert len(names) == len(nodes) + 3 and names[-3:] == names[:3] and "宇宙洪荒" in "".join(names)
    spelled = dict(zip(nodes.tolist(), names))
    for v, name in spelled.items():
        parent = int(trie.keys[v]) // NUM_IDS - 1
        assert name[-1] == chr(CODEPOINTS[trie.keys[v] % NUM_IDS]) and name[:-1] == spelled.get(parent, "")
    assert node_strings(trie, np.zeros(0, dtype=np.int64)) == []
