"""Sentences to fixed-length id rows, as in post 6 (kexue.fm/archives/5743): characters by default.

Text is normalised (full-width forms to half-width, lower case), split into tokens (characters,
words, or the words of a discovered lexicon), and mapped to ids: ``0`` pads, ``1`` is unknown, and
every token seen at least ``min_count`` times in the training sentences gets an id of its own
(most frequent first). Rows are cut at ``maxlen`` and padded after the text with ``0``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from engine.errors import ConfigError, as_int

PAD, UNK = "<pad>", "<unk>"
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


class Vocabulary:
    """Token ids: ``<pad>`` 0, ``<unk>`` 1, then the tokens seen ``min_count`` times or more, most frequent first."""

    pad_id, unk_id = 0, 1

    def __init__(self, token_lists: Iterable[list[str]], min_count: int = 5) -> None:
        min_count = as_int("data.min_count", min_count, 1)
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        self.itos = [PAD, UNK, *kept]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, token_lists: list[list[str]], maxlen: int) -> torch.Tensor:
        """``(N, maxlen)`` int64 ids: cut at ``maxlen``, padded after the text with 0."""
        rows = torch.zeros(len(token_lists), maxlen, dtype=torch.long)
        for i, tokens in enumerate(token_lists):
            ids = [self.stoi.get(t, self.unk_id) for t in tokens[:maxlen]]
            rows[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return rows
