"""Find sentence templates: ``python tools/find_templates.py [corpus=...] [tokens=gold|lexicon|chars]``.

Lines are tokenised (the corpus's gold words, a discovered lexicon, or characters), cut into
clauses at punctuation, and mined for templates (``min_entropy.templates``). Writes to
``runs/find_templates/<corpus>/<date_time>/``:

- ``templates.tsv``: ``template, count, log_prob, trivial`` (words separated by spaces, ``[X]`` placeholders);
- ``words.tsv``: the token counts, a lexicon for a unigram segmenter of new sentences (for ``tokens=gold``
  an approximation of the gold segmentation, not the same);
- ``parses.txt``: parse trees of ``examples``;
- ``metrics.json``: counts after each step, wall time, peak memory, the top templates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import hydra
from omegaconf import DictConfig

from engine.cli import print_result, run_guarded
from engine.errors import ConfigError, as_bool, as_int, as_number
from engine.files import write_atomic
from engine.instantiate import build
from engine.memory import peak_rss_mb
from min_entropy.chinese_text import Corpus
from min_entropy.lexicon import save_lexicon
from min_entropy.segmenter import Segmenter
from min_entropy.sentences import TOKENIZERS, parse_sentences, text_list, text_tokenizer
from min_entropy.templates import (
    Parser,
    find_templates,
    is_trivial,
    save_templates,
    split_clauses,
    template_str,
)


class Clauses:
    """The clauses of a corpus, tokenised anew on every pass (memory stays flat)."""

    def __init__(self, corpus: Corpus, kind: str, lexicon_path) -> None:
        if kind == "gold" and not corpus.has_gold:
            raise ConfigError(f"tokens=gold needs a segmented corpus; {corpus.path} has format=text "
                              "(use tokens=lexicon lexicon_path=... or tokens=chars)")
        self.corpus, self.kind = corpus, kind
        self.tokenize = None if kind == "gold" else text_tokenizer(kind, lexicon_path)

    def __iter__(self) -> Iterator[list[str]]:
        lines = self.corpus.gold() if self.tokenize is None else map(self.tokenize, self.corpus.lines())
        for tokens in lines:
            yield from split_clauses(tokens)


def run(cfg: DictConfig, out: Path) -> tuple[dict, str]:
    corpus = build("corpus", cfg.corpus)
    if cfg.tokens not in TOKENIZERS:
        raise ConfigError(f"tokens={cfg.tokens!r} is not one of {', '.join(TOKENIZERS)}")
    clauses = Clauses(corpus, str(cfg.tokens), cfg.lexicon_path)
    t = cfg.templates
    start = time.perf_counter()
    found = find_templates(clauses, as_int("templates.window", t.window, 1), as_number("templates.min_prob", t.min_prob),
                           as_number("templates.min_pmi", t.min_pmi), as_int("templates.max_paths", t.max_paths, 1),
                           as_bool("progress", cfg.progress))
    seconds = time.perf_counter() - start
    save_templates(out / "templates.tsv", found.templates)
    save_lexicon(out / "words.tsv", found.word_counts)
    ranked = sorted(found.templates.items(), key=lambda kv: (-kv[1], template_str(kv[0], " ")))
    top = as_int("top", cfg.top)
    m = {"corpus": corpus.name or corpus.path, "tokens": str(cfg.tokens), **{k: t[k] for k in t},
         "word_types": found.num_words, "distinct_skip_grams": found.num_skip_grams,
         "strong_skip_grams": found.num_strong, "templates_before_cut": found.num_templates_before_cut,
         "templates": len(found.templates), "clauses": found.num_clauses, "clauses_skipped": found.num_skipped,
         "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
         "top": [[template_str(k), c] for k, c in ranked[:top]],
         "top_nontrivial": [[template_str(k), c] for k, c in ranked if not is_trivial(k)][:top]}
    write_atomic(out / "metrics.json", json.dumps(m, indent=1, ensure_ascii=False) + "\n")

    if not found.templates:
        return m, (f"no templates kept ({found.num_clauses:,} clauses, {found.num_words:,} word types): lower "
                   "templates.min_prob or templates.min_pmi, or use a larger corpus; the examples are not parsed")
    parser = Parser(found.templates, as_number("null_score", cfg.null_score))
    segment = Segmenter(found.word_counts).tokenize if cfg.tokens == "gold" else clauses.tokenize
    examples = text_list(cfg.examples)
    trees = [t.render() for _, _, t in parse_sentences(parser, segment, examples, as_int("max_words", cfg.max_words, 1))]
    write_atomic(out / "parses.txt", "\n\n".join(trees) + "\n")
    return m, "\n\n".join(trees)


def summary(m: dict, trees: str, out: Path) -> str:
    lines = [f"{m['corpus']} ({m['tokens']} tokens): {m['word_types']:,} word types, "
             f"{m['distinct_skip_grams']:,} skip-grams, {m['strong_skip_grams']:,} strong -> "
             f"{m['templates']:,} templates (of {m['templates_before_cut']:,}) in {m['seconds']:.2f} s, "
             f"peak memory {m['peak_rss_mb']:.0f} MB; {m['clauses_skipped']:,} of {m['clauses']:,} clauses skipped "
             f"(more than templates.max_paths paths)",
             "  top: " + "  ".join(f"{t} {c}" for t, c in m["top"]),
             "  top without [X] w [X]: " + "  ".join(f"{t} {c}" for t, c in m["top_nontrivial"]),
             trees, f"outputs: {out}/ (templates.tsv, words.tsv, parses.txt, metrics.json)"]
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../configs", config_name="find_templates")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(lambda c, out: summary(*run(c, out), out), cfg,
                             "rerun the same command: template mining is deterministic"))


if __name__ == "__main__":
    main()
