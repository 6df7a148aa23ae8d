"""Template mining (post 2) in plain Python over words: the reference the compiled miner is tested against.

``min_entropy.templates.find_templates`` runs the same steps on int-coded words in compiled loops
(``min_entropy.template_kernels``); :func:`find_templates_reference` is the miner as first written, dicts
and tuples of strings like nlp-zero's ``Template_Finder``. The tests hold the two equal (templates,
counts and every count in ``TemplateStats``) on random clauses, and the benchmark pins the 15,143
templates of People's Daily's gold words.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator

from tqdm import tqdm

from engine.errors import ConfigError, as_int
from min_entropy.templates import Template, TemplateStats, make_template


def count_skip_grams(sentences: Iterable[list[str]], window: int, progress: bool = False) -> tuple[Counter, Counter]:
    """Word counts and counts of ``(w_i, w_j)`` for ``0 < j - i <= window``."""
    words: Counter = Counter()
    grams: Counter = Counter()
    for ws in tqdm(sentences, desc="skip-grams", unit=" sentences", disable=not progress, mininterval=1.0):
        words.update(ws)
        for k in range(1, window + 1):
            grams.update(zip(ws, ws[k:]))
    return words, grams


def strong_skip_grams(words: Counter, grams: Counter, min_prob: float, min_pmi: float) -> set[tuple[str, str]]:
    """Skip-grams with ``ln p_12 > ln min_prob`` and ``ln(p_12 / (p_1 p_2)) > min_pmi``."""
    if not grams:
        return set()
    log_words, log_grams, log_min = math.log(sum(words.values())), math.log(sum(grams.values())), math.log(min_prob)
    log_p = {w: math.log(n) - log_words for w, n in words.items()}
    strong = set()
    for (a, b), n in grams.items():
        lp = math.log(n) - log_grams
        if lp > log_min and lp - log_p[a] - log_p[b] > min_pmi:
            strong.add((a, b))
    return strong


def _maximal_paths(edges: list[list[int]], n: int) -> Iterator[list[int]]:
    """Every path from a node without incoming edges to a node without outgoing ones."""
    has_in = {j for out in edges for j in out}
    for s in range(n):
        if s in has_in:
            continue
        stack = [(s, [s])]
        while stack:
            node, path = stack.pop()
            if not edges[node]:
                yield path
            for j in reversed(edges[node]):
                stack.append((j, path + [j]))


def count_paths(edges: list[list[int]]) -> int:
    """The number of maximal paths, by dynamic programming from the right (no enumeration)."""
    n = len(edges)
    ways = [0] * n
    for i in range(n - 1, -1, -1):
        ways[i] = sum(ways[j] for j in edges[i]) if edges[i] else 1
    has_in = {j for out in edges for j in out}
    return sum(ways[i] for i in range(n) if i not in has_in)


def skip_gram_dag(ws: list[str], strong: set[tuple[str, str]], window: int) -> list[list[int]]:
    """``edges[i]``: the positions ``j`` in ``i + 1 .. i + window`` with ``(ws[i], ws[j])`` strong."""
    n = len(ws)
    return [[j for j in range(i + 1, min(n, i + 1 + window)) if (ws[i], ws[j]) in strong] for i in range(n)]


def sentence_templates(ws: list[str], strong: set[tuple[str, str]], window: int,
                       edges: list[list[int]] | None = None) -> Iterator[Template]:
    """The templates of one sentence: one per maximal path of its strong-skip-gram DAG."""
    n = len(ws)
    edges = skip_gram_dag(ws, strong, window) if edges is None else edges
    for path in _maximal_paths(edges, n):
        tokens: list[str | None] = [None] if path[0] > 0 else []
        for prev, j in zip([path[0] - 1] + path[:-1], path):
            if j - prev > 1 and tokens:
                tokens.append(None)
            tokens.append(ws[j])
        if path[-1] < n - 1:
            tokens.append(None)
        yield make_template(tokens)


def find_templates_reference(sentences: Iterable[list[str]], window: int = 5, min_prob: float = 1e-5,
                             min_pmi: float = 2.0, max_paths: int = 10_000) -> TemplateStats:
    """``find_templates`` step by step over dicts of strings (slow; for the tests)."""
    window = as_int("templates.window", window, 1)
    if not 0 < min_prob < 1:
        raise ConfigError(f"templates.min_prob must be a probability in (0, 1), got {min_prob!r}")
    words, grams = count_skip_grams(sentences, window)
    strong = strong_skip_grams(words, grams, min_prob, min_pmi)
    counts: Counter = Counter()
    clauses = skipped = 0
    for ws in sentences:
        clauses += 1
        edges = skip_gram_dag(ws, strong, window)
        if count_paths(edges) > max_paths:
            skipped += 1
            continue
        counts.update(sentence_templates(ws, strong, window, edges))
    total = sum(counts.values())
    kept = {t: c for t, c in counts.items() if c > min_prob * total}
    return TemplateStats(kept, len(words), len(grams), len(strong), len(counts), clauses, skipped, words)
