"""Raw and gold-segmented Chinese text: the corpora of the minimum-entropy posts (kexue.fm/archives/5476, /5577).

A *chunk* is a maximal run of "word characters": CJK ideographs U+4E00-U+9FA5 and Latin letters and
digits, ASCII or full-width (People's Daily writes numbers as ``１９９８年``). Statistics are counted
inside chunks only, as in the post's code, which splits on ``[^\\u4e00-\\u9fa50-9a-zA-Z]+``; full-width
letters and digits are added here because the 1998 corpus uses them in 1.2 % of its words.
Between chunks, every other character is a token of its own, except that a run of one repeated
character (``——``, ``……``) is one token, as in the PKU gold standard; whitespace is dropped.

A corpus is read line by line on every pass, so memory does not grow with the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError, DataMissingError, ProjectError

WORD_CHARS = "\u4e00-\u9fa50-9a-zA-Z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_CHUNK = re.compile(f"[{WORD_CHARS}]+")
_PIECE = re.compile(f"([{WORD_CHARS}]+)|(\\s+)|((.)\\4*)", re.S)
FORMATS = ("text", "segmented", "peoples_daily")


def chunks(line: str) -> list[str]:
    """The runs of word characters of ``line``, in order."""
    return _CHUNK.findall(line)


def is_word(token: str) -> bool:
    """Whether ``token`` holds a character, letter or digit (a word, not punctuation)."""
    return _CHUNK.search(token) is not None


def pieces(line: str) -> Iterator[tuple[str, bool]]:
    """``(piece, is_chunk)`` for every chunk and every non-word token of ``line``, whitespace dropped."""
    for m in _PIECE.finditer(line):
        if m.group(1):
            yield m.group(1), True
        elif m.group(3):
            yield m.group(3), False


def read_lines(path: str | Path, what: str = "file") -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file (BOM allowed), newline stripped; one line for any problem."""
    path = Path(path)
    if path.is_dir():
        raise ProjectError(f"{what} {path} is a folder: give a text file")
    if not path.is_file():
        raise DataMissingError(f"{what} {path} does not exist")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise ProjectError(f"{path}:{lineno} is not UTF-8 ({e.reason} at byte {e.start} of the line); "
                                   "convert the file, e.g. iconv -f gb18030 -t utf-8") from None
            yield lineno, line.rstrip("\r\n")


def gold_words(line: str, fmt: str, lineno: int = 0, path: str = "") -> list[str]:
    """The gold words of one line: ``word/POS`` tokens (People's Daily) or words separated by spaces."""
    tokens = line.split()
    if fmt == "segmented":
        return tokens
    words = []
    for token in tokens:
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not tag:
            raise ProjectError(f"{path}:{lineno}: token {token!r} is not word/POS; is corpus.format right?")
        words.append(word)
    return words


@dataclass(frozen=True)
class Corpus:
    """A text file read one line at a time.

    ``format``: ``text`` (raw lines), ``segmented`` (gold words separated by spaces) or
    ``peoples_daily`` (gold ``word/POS`` tokens). Raw lines of a segmented corpus are its words
    joined without spaces, so ``lines()`` always yields what a segmenter sees.
    """

    path: str
    format: str = "text"
    max_lines: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"corpus.format={self.format!r} is not one of {', '.join(FORMATS)}")
        if self.max_lines is not None and (not isinstance(self.max_lines, int) or self.max_lines < 1):
            raise ConfigError(f"corpus.max_lines must be a positive integer or null, got {self.max_lines!r}")
        path = Path(self.path)
        if path.is_dir():
            raise ConfigError(f"corpus.path={path} is a folder: give a UTF-8 text file")
        if not path.is_file():
            hint = ("install it with `make data` (tools/install_data.sh)" if "data/chinese" in str(path)
                    else "give corpus.path=<a UTF-8 text file>")
            raise DataMissingError(f"corpus file {path} does not exist: {hint}")

    @property
    def has_gold(self) -> bool:
        return self.format != "text"

    def _raw(self) -> Iterator[tuple[int, str]]:
        n = 0
        for lineno, line in read_lines(self.path, "corpus file"):
            if line.strip():
                yield lineno, line
                n += 1
                if self.max_lines is not None and n >= self.max_lines:
                    return

    def gold(self) -> Iterator[list[str]]:
        """The gold words of each non-empty line."""
        if not self.has_gold:
            raise ConfigError(f"corpus {self.path} has format=text: no gold segmentation to evaluate against")
        for lineno, line in self._raw():
            yield gold_words(line, self.format, lineno, self.path)

    def lines(self) -> Iterator[str]:
        """Each non-empty line as raw text (a segmented line's words joined without spaces)."""
        if not self.has_gold:
            for _, line in self._raw():
                yield line
        else:
            for words in self.gold():
                yield "".join(words)

    def __iter__(self) -> Iterator[str]:
        return self.lines()
