"""Parse sentences into nested templates: ``python tools/parse.py templates=<find_templates run folder>``.

Each sentence is tokenised (by ``words.tsv`` beside the templates, another lexicon, or characters),
cut into clauses at punctuation, and each clause is parsed (``min_entropy.templates.Parser``). The trees
are printed and written to ``runs/parse/<date_time>/parses.txt``, with one bracketed line per clause
in ``parses.tsv`` (``sentence, clause, bracketed, score``).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from engine.cli import print_result, run_guarded
from engine.errors import ConfigError, as_int, as_number
from engine.files import write_atomic
from min_entropy.chinese_text import read_lines
from min_entropy.sentences import parse_sentences, text_list, text_tokenizer
from min_entropy.templates import Parser, load_templates


def read_sentences(cfg: DictConfig) -> list[str]:
    if cfg.file:
        return [line.strip() for _, line in read_lines(str(cfg.file), "file") if line.strip()]
    sentences = text_list(cfg.sentences)
    if not sentences:
        raise ConfigError("nothing to parse: give sentences='[...]' or file=<one sentence per line>")
    return sentences


def run(cfg: DictConfig, out: Path) -> str:
    if OmegaConf.is_missing(cfg, "templates"):
        raise ConfigError("templates has no value: give templates=<a find_templates run folder or templates TSV>")
    source = Path(str(cfg.templates))
    table = source / "templates.tsv" if source.is_dir() else source
    lexicon = cfg.lexicon_path or table.parent / "words.tsv"
    parser = Parser(load_templates(table), as_number("null_score", cfg.null_score))
    tokenize = text_tokenizer(str(cfg.tokens), lexicon)
    trees, rows = [], ["sentence\tclause\tbracketed\tscore"]
    for sentence, k, tree in parse_sentences(parser, tokenize, read_sentences(cfg), as_int("max_words", cfg.max_words, 1)):
        trees.append(tree.render())
        rows.append(f"{sentence}\t{k}\t{tree.bracketed()}\t{tree.score:.4f}")
    if not trees:
        raise ConfigError("nothing to parse: the sentences hold no Chinese characters, letters or digits")
    write_atomic(out / "parses.txt", "\n\n".join(trees) + "\n")
    write_atomic(out / "parses.tsv", "\n".join(rows) + "\n")
    return "\n\n".join(trees) + f"\noutputs: {out}/ (parses.txt, parses.tsv)"


@hydra.main(version_base="1.3", config_path="../configs", config_name="parse")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(run, cfg, "rerun the same command"))


if __name__ == "__main__":
    main()
