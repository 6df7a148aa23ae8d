"""Sentences to fixed-length id rows, as in post 6 (kexue.fm/archives/5743): characters by default.

Text is normalised (full-width forms to half-width, lower case), split into tokens (characters,
words, or the words of a discovered lexicon); ``datasets.vocabulary.Vocabulary`` maps them to ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from engine.errors import ConfigError

TOKENS = ("char", "word", "lexicon")
_WORD = re.compile(r"\w+|[^\w\s]")


def to_half_width(text: str) -> str:
    """Full-width ASCII forms (U+FF01-U+FF5E) to their ASCII twins, the ideographic space to a space."""
    return "".join(" " if c == "\u3000" else chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in text)


def normalise(text: str, half_width: bool = True, lower: bool = True) -> str:
    text = to_half_width(text) if half_width else text
    return text.lower() if lower else text


def splitter(tokens: str, lexicon: str | Path | None = None) -> Callable[[str], list[str]]:
    """``char``: every character (spaces too); ``word``: runs of letters and digits, and each punctuation
    mark; ``lexicon``: the words of a lexicon TSV from ``tools/discover_words.py`` (for Chinese)."""
    if tokens == "char":
        return list
    if tokens == "word":
        return _WORD.findall
    if tokens == "lexicon":
        if lexicon is None:
            raise ConfigError("data.tokens=lexicon needs data.lexicon=<a lexicon TSV or discover_words run folder>")
        from min_entropy.tokenizer import WordTokenizer  # only the lexicon tokens need the segmenter

        path = Path(str(lexicon))
        return WordTokenizer.from_file(path / "words.tsv" if path.is_dir() else path).tokenize
    raise ConfigError(f"data.tokens={tokens!r} is not one of {list(TOKENS)}")
