"""A tokenised corpus: one sentence (or paragraph, or article) per line, tokens separated by spaces.

This is the input of word2vec and of the language model (post 4, kexue.fm/archives/5617): the
user's own corpus in this layout works as is. Lines are split, in file order, into contiguous
training, validation and test parts (the last lines are held out, as newspaper corpora are ordered by
date); the vocabulary counts the training lines only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from datasets.vocabulary import EOS, UNK, Vocabulary
from engine.errors import ConfigError, DataMissingError, ProjectError, as_number

log = logging.getLogger(__name__)


def read_token_lines(path: str | Path, install_hint: str = "make data") -> tuple[tuple[str, ...], ...]:
    """The token tuples of a file's non-empty lines; a missing or non-UTF-8 file is one clear error.

    Read once per process while the file is unchanged (keyed by its path, size and modification time):
    the data module, the tests' configs and the tools that load the same corpus share one copy.
    """
    path = Path(str(path))
    if not path.is_file():
        raise DataMissingError(f"{path} does not exist: `{install_hint}` installs the shipped corpora, or point "
                               "data.path at your own file (one sentence per line, tokens separated by spaces)")
    stat = path.stat()
    return _read(path.resolve(), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=2)
def _read(path: Path, size: int, mtime_ns: int) -> tuple[tuple[str, ...], ...]:
    lines = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                tokens = raw.decode("utf-8").split()
            except UnicodeDecodeError as e:
                raise ProjectError(f"{path}:{number}: not UTF-8 ({e.reason} at byte {e.start}); re-encode the file "
                                   "as UTF-8 (e.g. iconv -f GB18030 -t UTF-8)") from None
            if tokens:
                lines.append(tuple(tokens))
    if not lines:
        raise ProjectError(f"{path} holds no tokens: expected one sentence per line, tokens separated by spaces")
    return tuple(lines)


def split_lines(lines: Sequence[Sequence[str]], val_fraction: float, test_fraction: float
                ) -> dict[str, Sequence[Sequence[str]]]:
    """Contiguous ``train`` / ``val`` / ``test`` parts: the last ``test_fraction`` of the lines is test,
    the ``val_fraction`` before it validation (a fraction of 0 gives an empty part)."""
    val_fraction = as_number("data.val_fraction", val_fraction)
    test_fraction = as_number("data.test_fraction", test_fraction)
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} must be in [0, 1) "
                          "and leave some training lines")
    n = len(lines)
    n_test, n_val = math.ceil(n * test_fraction), math.ceil(n * val_fraction)
    if n - n_test - n_val < 1:
        raise ConfigError(f"the corpus has {n} lines: too few to hold out {n_val} validation and {n_test} test lines")
    return {"train": lines[: n - n_val - n_test], "val": lines[n - n_val - n_test: n - n_test], "test": lines[n - n_test:]}


def load_corpus(path: str | Path, min_count: int, max_vocab: int | None, val_fraction: float,
                test_fraction: float) -> tuple[dict[str, Sequence[Sequence[str]]], Vocabulary]:
    """The split lines and their vocabulary (``<unk>``, ``</s>``, then the training words): one function for
    word2vec and the language model, so the same file and settings give both the same word ids."""
    parts = split_lines(read_token_lines(path), val_fraction, test_fraction)
    vocab = Vocabulary(parts["train"], min_count, (UNK, EOS), max_vocab)
    vocab.log_summary(str(path))
    return parts, vocab
