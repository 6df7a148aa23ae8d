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
from itertools import chain

import numpy as np
from tqdm import tqdm

from engine.errors import ConfigError, ProjectError, as_int
from engine.files import write_atomic
from min_entropy import template_kernels
from min_entropy.chinese_text import is_word, read_lines
from min_entropy.hash_table import Table

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
    """Steps 1-4 over tokenised sentences (a list of word lists, or an iterable that can be iterated twice).

    The words are int-coded once (in order of first occurrence) and every step runs in compiled loops
    (``min_entropy.template_kernels``); ``min_entropy.template_reference`` is the same in plain Python.
    The number of maximal paths can grow exponentially with a clause's length when most of its
    skip-grams are strong (a small corpus, where rare pairs all have a high PMI). A clause with more
    than ``max_paths`` paths is skipped, and counted in ``num_skipped``, rather than enumerated.
    """
    window = as_int("templates.window", window, 1)
    if not 0 < min_prob < 1:
        raise ConfigError(f"templates.min_prob must be a probability in (0, 1), got {min_prob!r}")
    if iter(sentences) is sentences:
        raise TypeError("find_templates reads the sentences twice: pass a list, not an iterator")
    names, ids, starts = _encode(sentences, progress)
    v = len(names)
    word_counts, _, distinct, strong_a, strong_b = template_kernels.skip_gram_stats(
        ids, starts, v, window, float(min_prob), float(min_pmi))
    strong = Table.from_entries(strong_a * v + strong_b)
    trie = Table()
    first = np.zeros(trie.keys.size, dtype=np.int64)  # beside the trie's arrays: grown with them
    singles, single_first = np.zeros(4 * v, dtype=np.int64), np.zeros(4 * v, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)  # template instances so far, clauses skipped, room needed
    s, max_paths = 0, min(max_paths, template_kernels.BIG)
    while (s := template_kernels.count_templates(ids, starts, s, strong.index, v, window, max_paths, *trie.arrays(),
                                                 first, singles, single_first, state)) < len(starts) - 1:
        trie.reserve(int(state[2]))  # room for clause s's templates: then go on from there
        first = np.concatenate([first, np.zeros(trie.keys.size - first.size, dtype=np.int64)])
    counts = trie.counts[:len(trie)]
    total = int(singles.sum() + counts.sum())
    kept_singles = np.flatnonzero(singles > min_prob * total)  # int64 against float64: exact below 2 ** 53
    kept_nodes = np.flatnonzero(counts > min_prob * total)
    templates = [(*([None] if k & 2 else []), names[k >> 2], *([None] if k & 1 else []))
                 for k in kept_singles.tolist()]
    tokens, offsets = template_kernels.spell(trie.keys, trie.depth, kept_nodes, v + 1)
    tokens, offsets = tokens.tolist(), offsets.tolist()
    templates += [tuple(names[t - 1] if t else None for t in tokens[a:b]) for a, b in zip(offsets, offsets[1:])]
    order = np.argsort(np.concatenate([single_first[kept_singles], first[kept_nodes]]), kind="stable").tolist()
    tally = np.concatenate([singles[kept_singles], counts[kept_nodes]]).tolist()
    kept = {templates[k]: tally[k] for k in order}  # in order of first occurrence, as a Counter would hold them
    before_cut = int(np.count_nonzero(singles) + np.count_nonzero(counts))
    return TemplateStats(kept, v, distinct, len(strong_a), before_cut, len(starts) - 1, int(state[1]),
                         Counter(dict(zip(names, word_counts.tolist()))))


def _encode(sentences: Iterable[list[str]], progress: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The distinct words (in order of first occurrence), every word's id, and the sentences' offsets."""
    seq = list(tqdm(sentences, desc="reading", unit=" sentences", disable=not progress, mininterval=1.0))
    flat = list(chain.from_iterable(seq))
    names = list(dict.fromkeys(flat))
    ids = np.fromiter(map({w: i for i, w in enumerate(names)}.__getitem__, flat), dtype=np.int32, count=len(flat))
    starts = np.zeros(len(seq) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, seq), dtype=np.int64, count=len(seq)), out=starts[1:])
    return names, ids, starts


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
