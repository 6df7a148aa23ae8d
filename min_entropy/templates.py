"""Sentence templates and nested-template parsing: "飞象过河"之句模版和语言结构 (Su Jianlin, kexue.fm/archives/5577).

A template is a word sequence with placeholders ``[X]`` (``None`` here), e.g. ``[X]的[X]`` or
``[X]是什么意思``. Templates generalise the adjacent merge of the lexicon post to words up to
``window`` apart:

1. count words and skip-grams ``(w1, w2)`` with ``w2`` among the next ``window`` words
   (:func:`count_skip_grams`);
2. a skip-gram is strong if ``p_12 > min_prob`` and ``ln(p_12 / (p_1 p_2)) > min_pmi``, with ``p_12``
   over all skip-grams and ``p_w`` over all words (:func:`strong_skip_grams`);
3. in each sentence, strong skip-grams are the edges of a DAG over word positions; every maximal
   path (isolated words included) becomes a template, with one ``[X]`` for each gap and at an end the
   path does not reach (:func:`sentence_templates`);
4. templates whose frequency is above ``min_prob`` are kept.

Parsing ("every sentence is nested templates"): cover the sentence with one main template whose
placeholders are again blocks, recursively, maximising the total ``sum log p(template)``. A block no
template matches scores ``null_score * (len - 1)`` (the companion code's -20 per extra word).
Ties are broken as in the companion code, scores rounded to 4 decimals and then more template words,
and then (where the companion code takes whichever it found first) the main template whose words
lie further right, so ``A和B和C`` reads ``[[A]和[B]]和[C]``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from tqdm import tqdm

from engine.errors import ConfigError, ProjectError, as_int
from engine.files import write_atomic
from min_entropy.chinese_text import is_word, read_lines

Template = tuple  # of words and None (a placeholder [X]); consecutive placeholders collapse to one
_END = ""  # trie key of a complete template: no word is empty


def make_template(tokens: Iterable[str | None]) -> Template:
    """A template from words and ``None``s, consecutive ``None``s collapsed."""
    out: list[str | None] = []
    for t in tokens:
        if t is not None or not out or out[-1] is not None:
            out.append(t)
    return tuple(out)


def parse_template(text: str) -> Template:
    """``"[X]的[X]"`` or ``"[X] 是 什么 意思"`` -> a template; words are split on spaces where there are any."""
    parts = text.replace("[X]", " \0 ").split()
    if not parts:
        raise ConfigError(f"empty template {text!r}")
    return make_template(None if p == "\0" else p for p in parts)


def template_str(t: Template, sep: str = "") -> str:
    """The post's notation: ``[X]的[X]``."""
    return sep.join("[X]" if w is None else w for w in t)


def is_trivial(t: Template) -> bool:
    """``[X] w [X]``: one word with placeholders on both sides says nothing about structure."""
    return len(t) == 3 and t[0] is None and t[2] is None


def split_clauses(tokens: Iterable[str]) -> Iterator[list[str]]:
    """Runs of tokens between punctuation: tokens holding no character, letter or digit end a clause."""
    clause: list[str] = []
    for t in tokens:
        if is_word(t):
            clause.append(t)
        elif clause:
            yield clause
            clause = []
    if clause:
        yield clause


def save_templates(path, templates: Mapping[Template, int]) -> None:
    """``template<TAB>count<TAB>log_prob<TAB>trivial``, words of a template separated by spaces."""
    total = sum(templates.values())
    rows = [f"{template_str(t, ' ')}\t{c}\t{math.log(c / total):.4f}\t{int(is_trivial(t))}\n"
            for t, c in sorted(templates.items(), key=lambda kv: (-kv[1], template_str(kv[0], " ")))]
    write_atomic(path, "template\tcount\tlog_prob\ttrivial\n" + "".join(rows))


def load_templates(path) -> dict[Template, int]:
    """``{template: count}`` from :func:`save_templates`'s TSV."""
    if not os.path.isfile(path):
        raise ProjectError(f"template file {path} does not exist: make one with `python tools/find_templates.py`")
    out: dict[Template, int] = {}
    for lineno, line in read_lines(path, "template file"):
        fields = line.split("\t")
        if not line.strip() or (lineno == 1 and fields[0] == "template"):
            continue
        try:
            t, count = parse_template(fields[0]), int(fields[1])
            if count < 1 or all(w is None for w in t):
                raise ValueError
        except (IndexError, ValueError, ConfigError):
            raise ProjectError(f"{path}:{lineno}: expected 'template<TAB>count' with at least one word and a "
                               f"positive count, got {line.strip()[:60]!r}") from None
        out[t] = count
    if not out:
        raise ProjectError(f"template file {path} has no templates")
    return out


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


@dataclass
class TemplateStats:
    """Templates with their counts, and what each pass found."""

    templates: dict[Template, int]
    num_words: int
    num_skip_grams: int
    num_strong: int
    num_templates_before_cut: int
    num_clauses: int
    num_skipped: int  # clauses with more than max_paths maximal paths
    word_counts: Counter = field(repr=False, default_factory=Counter)


def find_templates(sentences: Iterable[list[str]], window: int = 5, min_prob: float = 1e-5, min_pmi: float = 2.0,
                   max_paths: int = 10_000, progress: bool = False) -> TemplateStats:
    """Steps 1-4 over tokenised sentences (an iterable that can be iterated twice).

    The number of maximal paths can grow exponentially with a clause's length when most of its
    skip-grams are strong (a small corpus, where rare pairs all have a high PMI). A clause with more
    than ``max_paths`` paths is skipped, and counted in ``num_skipped``, rather than enumerated.
    """
    window = as_int("templates.window", window, 1)
    if not 0 < min_prob < 1:
        raise ConfigError(f"templates.min_prob must be a probability in (0, 1), got {min_prob!r}")
    if iter(sentences) is sentences:
        raise TypeError("find_templates reads the sentences twice: pass a list, not an iterator")
    words, grams = count_skip_grams(sentences, window, progress)
    strong = strong_skip_grams(words, grams, min_prob, min_pmi)
    counts: Counter = Counter()
    clauses = skipped = 0
    for ws in tqdm(sentences, desc="templates", unit=" sentences", disable=not progress, mininterval=1.0):
        clauses += 1
        edges = skip_gram_dag(ws, strong, window)
        if count_paths(edges) > max_paths:
            skipped += 1
            continue
        counts.update(sentence_templates(ws, strong, window, edges))
    total = sum(counts.values())
    kept = {t: c for t, c in counts.items() if c > min_prob * total}
    return TemplateStats(kept, len(words), len(grams), len(strong), len(counts), clauses, skipped, words)


class TemplateTrie:
    """Templates in a trie whose placeholders match one or more consecutive words.

    A template matches a span exactly: each word is a template word or lies inside a placeholder.
    (The companion code's ``XTrie`` also lets any word be skipped without a placeholder, which reads
    like an off-by-one in its "already in a placeholder" test; that is not reproduced here.)
    """

    def __init__(self, templates: Mapping[Template, int]) -> None:
        self.root: dict = {}
        if not templates:
            raise ConfigError("no templates to parse with: the template table is empty")
        for t, c in templates.items():
            if isinstance(c, bool) or not isinstance(c, int) or c < 1 or all(w is None for w in t):
                raise ConfigError(f"template {template_str(t)!r} needs at least one word and a positive count, got {c!r}")
        self.total = sum(templates.values())
        for t, c in templates.items():
            node = self.root
            for w in t:
                node = node.setdefault(w, {})
            node[_END] = c

    def matches(self, ws: list[str]) -> dict[tuple[int, int], list[tuple[tuple[int, ...], int]]]:
        """``{(start, end): [(positions of the template's words, count), ...]}`` for every span a template covers."""
        out: dict[tuple[int, int], list] = {}
        n = len(ws)
        for start in range(n):
            # state: trie node, next position, positions matched by words, last token was a placeholder
            stack = [(self.root, start, (), False)]
            while stack:
                node, pos, hits, in_x = stack.pop()
                if pos > start and _END in node:
                    out.setdefault((start, pos), []).append((hits, node[_END]))
                if pos == n:
                    continue
                if ws[pos] in node:
                    stack.append((node[ws[pos]], pos + 1, hits + (pos,), False))
                if None in node:
                    stack.append((node[None], pos + 1, hits, True))
                if in_x:  # the same placeholder absorbs one more word
                    stack.append((node, pos + 1, hits, True))
        return out


@dataclass
class Tree:
    """A parsed block: its main template, the words it covers, and one subtree per placeholder."""

    template: Template
    words: list[str]
    children: list[Tree]
    score: float
    matched: bool = True  # False: no template covers this block (scored by the null score)

    def render(self, indent: str = "") -> str:
        """Text drawing, one block per line: its words, then its main template."""
        label = "".join(self.words)
        if len(self.words) == 1:
            head = label
        else:
            head = f"{label}    {template_str(self.template) if self.matched else '(no template)'}"
        lines = [head]
        for k, child in enumerate(self.children):
            last = k == len(self.children) - 1
            sub = child.render(indent + ("    " if last else "│   ")).split("\n")
            lines.append(indent + ("└── " if last else "├── ") + sub[0])
            lines.extend(sub[1:])
        return "\n".join(lines)

    def bracketed(self) -> str:
        """``[[苹果]的[颜色]]是什么呢`` style: each placeholder's block in brackets."""
        out, k = [], 0
        for w in self.template:
            if w is None:
                out.append(f"[{self.children[k].bracketed()}]")
                k += 1
            else:
                out.append(w)
        return "".join(out)


class Parser:
    """Cover a tokenised sentence with nested templates of maximum total log-probability."""

    def __init__(self, templates: Mapping[Template, int], null_score: float = -20.0) -> None:
        self.trie = TemplateTrie(templates)
        self.log_total = math.log(self.trie.total)
        self.null_score = float(null_score)

    def parse(self, ws: list[str]) -> Tree:
        if not ws:
            raise ValueError("cannot parse an empty sentence")
        matches = self.trie.matches(ws)
        memo: dict[tuple[int, int], Tree] = {}

        def best(s: int, e: int) -> Tree:
            if (s, e) in memo:
                return memo[s, e]
            options = []
            for hits, count in matches.get((s, e), ()):
                score = math.log(count) - self.log_total
                children, tokens, marks = [], [], (s - 1, *hits, e)
                for a, b in zip(marks, marks[1:]):
                    if b - a > 1:
                        child = best(a + 1, b)
                        children.append(child)
                        score += child.score
                        tokens.append(None)
                    if b < e:
                        tokens.append(ws[b])
                options.append((round(score, 4), len(hits), hits, Tree(tuple(tokens), ws[s:e], children, score)))
            if options:
                tree = max(options, key=lambda o: o[:3])[3]
            else:
                tree = Tree(tuple(ws[s:e]), ws[s:e], [], self.null_score * (e - s - 1) + 0.0, matched=False)
            memo[s, e] = tree
            return tree

        return best(0, len(ws))
