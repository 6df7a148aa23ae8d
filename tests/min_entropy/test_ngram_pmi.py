"""The 2019 n-gram PMI method (kexue.fm/archives/6920) against a plain-Python transcription of its steps,
on random texts, and its settings refused with one line."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from test_kernels import random_lines

from engine.errors import ConfigError, ProjectError
from min_entropy.chinese_text import chunks
from min_entropy.ngram_pmi import NgramPMI, discover_ngram_pmi


def plain_ngram_pmi(lines: list[str], order: int, min_count: int, min_pmi: list[float]) -> dict[str, int]:
    """Dicts and strings, step by step as the module docstring states them."""
    grams = [Counter() for _ in range(order + 1)]
    for line in lines:
        for s in chunks(line):
            for k in range(1, order + 1):
                for i in range(len(s) - k + 1):
                    grams[k][s[i:i + k]] += 1
    total = sum(grams[1].values())
    kept = [{w: n for w, n in g.items() if n >= min_count} for g in grams]
    strong = set()
    for k in range(2, order + 1):
        for w, n in kept[k].items():
            pmi = min(math.log(total * n / (kept[j].get(w[:j], total) * kept[k - j].get(w[j:], total)))
                      for j in range(1, k))
            if pmi >= min_pmi[k - 2]:
                strong.add(w)
    pieces: Counter = Counter()
    for line in lines:
        for s in chunks(line):
            start, end = 0, 1
            for i in range(len(s)):
                if i == end:  # no strong n-gram reaches past here: the piece ends
                    pieces[s[start:end]] += 1
                    start, end = i, i + 1
                for j in range(i + 2, min(i + order, len(s)) + 1):
                    if s[i:j] in strong:
                        end = max(end, j)
            pieces[s[start:end]] += 1
    return {w: n for w, n in pieces.items() if n >= min_count and (
        len(w) < 3 or (len(w) <= order and w in strong)
        or (len(w) > order and all(w[k:k + order] in strong for k in range(len(w) - order + 1))))}


@pytest.mark.parametrize("seed", range(20))
def test_equals_the_plain_transcription(seed):
    rng = random.Random(seed)
    lines = random_lines(rng, rng.randint(10, 120))
    order = rng.choice([2, 3, 4])
    min_count = rng.choice([1, 2, 3])
    min_pmi = [rng.choice([0.0, 0.5, 1.0, 2.0]) for _ in range(order - 1)]
    if not any(chunks(line) for line in lines):
        return
    found = discover_ngram_pmi(lines, order, min_count, min_pmi)
    assert found.words == plain_ngram_pmi(lines, order, min_count, min_pmi)


def test_a_hand_worked_text():
    # 北京大学 x 3 and 大学生 x 3 in separate lines: every n-gram inside them is strong at min_pmi 0;
    # 北京大学生 would be one chain, but it never occurs; single characters of 啊 lines stay pieces alone
    lines = ["北京大学"] * 3 + ["大学生"] * 3 + ["啊，啊"]
    found = discover_ngram_pmi(lines, 4, 2, [0.0, 0.0, 0.0])
    assert found.words == {"北京大学": 3, "大学生": 3, "啊": 2}


def test_bad_settings_are_one_line():
    with pytest.raises(ConfigError, match=r"lexicon.order must be an integer in \[2, 5\)"):
        NgramPMI(order=5, min_pmi=[1, 2, 3, 4])
    with pytest.raises(ConfigError, match=r"lexicon.min_pmi must list 3 numbers \(nats\), one per order 2..4"):
        NgramPMI(min_pmi=[1.0, 2.0])
    with pytest.raises(ConfigError, match="lexicon.min_count must be an integer >= 1"):
        NgramPMI(min_count=0)
    with pytest.raises(ProjectError, match="no Chinese characters"):
        discover_ngram_pmi(["，。"])
