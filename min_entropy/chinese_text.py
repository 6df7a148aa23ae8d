"""Raw and gold-segmented Chinese text: the corpora of the minimum-entropy posts (kexue.fm/archives/5476, /5577).

A *chunk* is a maximal run of "word characters": CJK ideographs U+4E00-U+9FA5 and Latin letters and
digits, ASCII or full-width (People's Daily writes numbers as ``１９９８年``). Statistics are counted
inside chunks only, as in the post's code, which splits on ``[^\\u4e00-\\u9fa50-9a-zA-Z]+``; full-width
letters and digits are added here because the 1998 corpus uses them in 1.2 % of its words.
Between chunks, every other character is a token of its own, except that a run of one repeated
character (``——``, ``……``) is one token, as in the PKU gold standard; whitespace is dropped.

A corpus is streamed from disk on every pass (line by line, or in blocks of whole lines for the
compiled passes), so memory does not grow with the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
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

    def byte_ranges(self, parts: int) -> list[tuple[int, int]]:
        """About ``parts`` byte ranges of the file that tile it; each is read by :meth:`blocks`."""
        size = Path(self.path).stat().st_size
        cuts = sorted({size * k // max(parts, 1) for k in range(max(parts, 1))} | {size})
        return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]

    def blocks(self, block_chars: int = 1 << 20, start: int = 0, end: int | None = None) -> Iterator[str]:
        """Raw text in blocks of whole lines (about ``block_chars`` each), lines joined by newlines.

        With ``start, end`` (a :meth:`byte_ranges` range) only the lines that begin inside the range,
        so that ranges read by different workers hold every line once. A ``text`` corpus is read in
        big byte blocks and decoded at once; the other formats (and ``max_lines``) line by line.
        """
        if self.format != "text" or self.max_lines is not None:
            if start > 0 or end is not None:
                raise ConfigError("only a corpus with format=text and max_lines=null can be read in byte ranges "
                                  "(lexicon.engine=dask); use lexicon.engine=local")
            yield from join_lines(self.lines(), block_chars)
            return
        with open(self.path, "rb") as f:
            a, b = _line_start(f, start), _line_start(f, end)
            f.seek(a)
            lineno = 1 if a == 0 else None  # line numbers are known when reading from the start
            carry, pos = b"", a
            while pos < b or carry:
                first = pos - len(carry)  # the file offset of data[0]
                data = carry + f.read(min(3 * block_chars, b - pos))
                pos = f.tell()
                cut = data.rfind(b"\n") + 1 if pos < b else len(data)
                if cut == 0:  # one line longer than a block: read on
                    carry = data
                    continue
                data, carry = data[:cut], data[cut:]
                if first == 0 and data.startswith(b"\xef\xbb\xbf"):
                    data, first = data[3:], 3
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as e:
                    line = None if lineno is None else lineno + data.count(b"\n", 0, e.start)
                    where = f":{line}" if line is not None else f" near byte {first + e.start}"
                    raise ProjectError(f"{self.path}{where} is not UTF-8 ({e.reason} at byte {first + e.start}); "
                                       "convert the file, e.g. iconv -f gb18030 -t utf-8") from None
                if lineno is not None:
                    lineno += data.count(b"\n")
                yield text[:-1] if text.endswith("\n") else text  # lines joined by newlines, as for a list


def join_lines(lines: Iterable[str], block_chars: int) -> Iterator[str]:
    """Lines joined by newlines into blocks of about ``block_chars`` characters."""
    batch, size = [], 0
    for line in lines:
        batch.append(line)
        size += len(line) + 1
        if size >= block_chars:
            yield "\n".join(batch)
            batch, size = [], 0
    if batch:
        yield "\n".join(batch)


def _line_start(f, offset: int | None) -> int:
    """The first line start at or after byte ``offset`` (``None``: the end of the file)."""
    if offset is None:
        return f.seek(0, 2)
    if offset == 0:
        return 0
    f.seek(offset - 1)
    f.readline()
    return f.tell()
