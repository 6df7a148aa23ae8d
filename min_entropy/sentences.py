"""Sentences to tokens and parse trees: the shared steps of ``tools/find_templates.py`` and ``tools/parse.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from engine.errors import ConfigError
from min_entropy.chinese_text import pieces
from min_entropy.lexicon import load_lexicon
from min_entropy.segmenter import Segmenter
from min_entropy.templates import Parser, Tree, split_clauses

TOKENIZERS = ("gold", "lexicon", "chars")


def char_tokens(text: str) -> list[str]:
    """One token per character of each chunk; other pieces as they are."""
    return [t for piece, is_chunk in pieces(text) for t in (piece if is_chunk else [piece])]


def text_tokenizer(kind: str, lexicon_path) -> Callable[[str], list[str]]:
    """Raw text -> tokens, for ``tokens=lexicon`` (a lexicon TSV or a discover_words run folder) or ``tokens=chars``."""
    if kind == "chars":
        return char_tokens
    if kind == "lexicon":
        if not lexicon_path:
            raise ConfigError("tokens=lexicon needs lexicon_path=<lexicon.tsv> (python tools/discover_words.py writes one)")
        return Segmenter(load_lexicon(lexicon_path)).tokenize
    raise ConfigError(f"tokens={kind!r}: raw text is tokenised with tokens=lexicon or tokens=chars")


def text_list(value) -> list[str]:
    """A list of sentences from the config; a lone string is one sentence, not a list of characters."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [str(v) for v in items if str(v).strip()]


def parse_sentences(parser: Parser, tokenize: Callable[[str], list[str]], sentences: list[str],
                    max_words: int) -> Iterator[tuple[str, int, Tree]]:
    """``(sentence, clause number, tree)`` for each clause of each sentence."""
    for sentence in sentences:
        for k, clause in enumerate(split_clauses(tokenize(sentence))):
            if len(clause) > max_words:
                raise ConfigError(f"a clause of {len(clause)} words is longer than max_words={max_words} "
                                  f"({''.join(clause[:8])}...): parsing costs grow with the cube of the length; "
                                  "split the sentence or raise max_words")
            yield sentence, k, parser.parse(clause)
