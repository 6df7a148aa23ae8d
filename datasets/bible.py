"""A paraphrase-group corpus: the King James and World English Bibles, aligned by verse.

The text comes from the SWORD modules of Debian's ``sword-text-kjv`` / ``sword-text-web``, printed by
``diatheke -f plain -o fs`` (footnotes and cross-references shown inline, so that removing them
leaves the words around them apart; hidden, diatheke glues them: ``Godcreated``). Its plain output::

    Genesis 1:1: In the beginning, God [1:1 The Hebrew word ...] created the heavens and the earth.
    A Psalm by David, when he fled from Absalom his son.        <- a heading: the line just before
      Psalms 3:1: Yahweh, how my adversaries have increased!     <- an indented verse line
    Many are those who rise up against me.                      <- the verse goes on (poetry)
    (engWEB2015eb)                                              <- the module's name, last

diatheke 1.9 repeats the last psalm title before every later verse (through Revelation); a title
may come glued to a verse line as raw OSIS (``<title ...>...</title> <l .../>Romans 16:26:``); three
or more blank lines after a verse start end matter (WEB's glossary after Revelation 22:21).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ProjectError
from engine.files import write_atomic

BOOKS = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "I Samuel", "II Samuel",
    "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra", "Nehemiah", "Esther", "Job", "Psalms", "Proverbs",
    "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos",
    "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi",
    "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "I Corinthians", "II Corinthians", "Galatians", "Ephesians",
    "Philippians", "Colossians", "I Thessalonians", "II Thessalonians", "I Timothy", "II Timothy", "Titus", "Philemon",
    "Hebrews", "James", "I Peter", "II Peter", "I John", "II John", "III John", "Jude", "Revelation of John",
)  # the 66-book canon in order, named as diatheke's English locale prints them
_ORDER = {book: i for i, book in enumerate(BOOKS)}

# optional raw markup ending in '>', indentation, "Book C:V:", text; a book is capitalised words, maybe a roman
# numeral first and "of", "and", "the", "(Greek)" inside ("I Samuel", "Bel and the Dragon", "Esther (Greek)")
_VERSE = re.compile(r"^(?P<markup>.*>)?(?P<indent>\s*)"
                    r"(?P<book>(?:[IV]+ )?[A-Z][a-z]+(?: (?:[A-Z][a-z]+|of|and|the|\([A-Z][a-z]+\)))*)"
                    r" (?P<chapter>\d+):(?P<verse>\d+):(?P<text>.*)$")
_TRAILER = re.compile(r"^\((?P<module>[\w.-]+)\)\s*$")  # diatheke's last line: (module name)
_NOTE_START = re.compile(r"\[ ?\d+[:.]\d+")  # "[1:1 The Hebrew word ...]", "[ 5:3 Isaiah 57:15 ]" (WEB), "[1.4 ...]" (KJV)
_SPEAKER = re.compile(r"^\s*[A-Z][a-z]+\s{2,}(?=\S)")  # WEB's Song of Solomon speakers: "Friends  We will be glad"
_TAG = re.compile(r"<[^<>]*>|\\[a-z]+\*?(?=\s|$)")  # an OSIS tag; a USFM marker (KJV: "the \nd LORD")
_GLUE = (re.compile(r"(?<=[a-z][,;:!?])(?=[A-Za-z])"),  # "hear,the dead": a hidden note or markup removed
         re.compile(r"(?<=[a-z]\.)(?=[A-Z][a-z])"),  # "the world.He who follows me"
         re.compile(r"(?<=[a-z])(?=[A-Z])"))  # "in the days ofAchan"


class BibleDumpError(ProjectError):
    """A diatheke dump that is empty, from another module, or not diatheke's plain output."""


@dataclass
class Parsed:
    """One translation's verses (reference -> raw text, lines joined by newlines) and what was set aside."""

    verses: dict[str, str] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> lines
    unparsed: list[tuple[int, str]] = field(default_factory=list)  # (1-based line number, line)
    module: str | None = None  # the module named on the trailer line, if any


def parse_plain(text: str, module: str | None = None) -> Parsed:
    """Split ``diatheke -f plain`` output into verses; headings, end matter and the trailer are counted, not kept.

    A non-blank line just before an indented verse line is a heading (diatheke indents every verse it
    prints a heading for); lines before the first verse cannot be attributed and are returned as
    ``unparsed``. ``module``, when given, must match the trailer line (catches swapped dumps).
    """
    out, current, body, blanks, last_blank = Parsed(), None, [], 0, True
    aside: list[tuple[int, str]] = []  # non-blank lines outside any verse: before the first one, or after 3+ blanks

    def close() -> None:
        if current is None:
            out.unparsed.extend(aside)
            return
        while body and not body[-1].strip():
            body.pop()
        out.verses[current] = "\n".join(body)
        if aside:
            out.dropped["end matter after 3+ blank lines"] += len(aside)

    for number, line in enumerate(text.splitlines(), 1):
        verse, trailer, outside = _VERSE.match(line), _TRAILER.match(line), current is None or blanks >= 3
        if trailer:
            if module is not None and trailer["module"] != module:
                raise BibleDumpError(f"line {number}: dump of module {trailer['module']}, expected {module}")
            out.dropped["module name line"] += 1
            out.module = trailer["module"]
        elif verse:
            if verse["markup"]:
                out.dropped["raw markup heading glued to a verse line"] += 1
            elif verse["indent"] and not last_blank and (aside if outside else body[1:]):
                (aside if outside else body).pop()  # never the previous verse line itself
                out.dropped["heading line"] += 1
            close()
            current = f"{verse['book']} {verse['chapter']}:{verse['verse']}"
            if current in out.verses:
                raise BibleDumpError(f"line {number}: verse {current} appears twice (two dumps concatenated?)")
            body, blanks, aside = [verse["text"]], 0, []
        elif outside:
            if line.strip():
                aside.append((number, line))
        else:
            blanks = 0 if line.strip() else blanks + 1
            if blanks < 3:
                body.append(line)
        last_blank = not line.strip()
    close()
    if not out.verses:
        raise BibleDumpError("no verse line ('Book C:V: text') found: is this diatheke's plain output?")
    return out


def _strip_notes(text: str) -> tuple[str, int]:
    """Remove bracketed notes (nested brackets included), keeping one space where words met across them."""
    parts, i, notes = [], 0, 0
    while (m := _NOTE_START.search(text, i)) is not None:
        depth, j = 0, m.start()
        for j in range(m.start(), len(text)):
            depth += {"[": 1, "]": -1}.get(text[j], 0)
            if depth == 0:
                break
        if depth:  # never closed: not a note, leave the rest as it is
            break
        before, after = text[i:m.start()].rstrip(" "), text[j + 1:].lstrip(" ")
        parts.append(before)
        if before and after and not before.endswith(("\n", "“", "‘", "(")) and not after.startswith(
                ("\n", ",", ".", ";", ":", "!", "?", "’", "”", ")")):
            parts.append(" ")
        i, notes = len(text) - len(after), notes + 1
    return "".join(parts) + text[i:], notes


def clean_verse(text: str) -> tuple[str, Counter[str]]:
    """One verse's raw text as one clean line, with the fixes applied (kind -> occurrences).

    Kinds: ``note`` (a footnote or cross-reference removed), ``speaker label`` (a line-initial
    "Beloved  ..."), ``pilcrow``, ``markup`` (a leftover tag), ``glued word`` (a space put back),
    ``whitespace`` (a run of spaces or an odd space inside a line collapsed).
    """
    fixes: Counter[str] = Counter()
    text, fixes["note"] = _strip_notes(text)
    lines = []
    for line in text.split("\n"):
        if lines:  # not on the verse line itself
            line, n = _SPEAKER.subn("", line, count=1)
            fixes["speaker label"] += n
        lines.append(line.strip())
    text = " ".join(line for line in lines if line)
    fixes["whitespace"] = len(re.findall(r"(?! )\s| {2,}", text))
    text, fixes["pilcrow"] = re.subn(r"\s*¶\s*", " ", text)
    text, fixes["markup"] = _TAG.subn(" ", text)
    for glue in _GLUE:
        text, n = glue.subn(" ", text)
        fixes["glued word"] += n
    text = " ".join(text.split())
    return text, +fixes  # unary plus drops the kinds that did not apply


def align(first: Mapping[str, str], second: Mapping[str, str], names: tuple[str, str] = ("first", "second"),
          ) -> tuple[list[str], Counter[str]]:
    """References with a non-empty text in both, in canonical order; the others counted by reason."""
    dropped: Counter[str] = Counter()
    both = []
    for ref in dict.fromkeys([*first, *second]):
        book = ref.rsplit(" ", 1)[0]
        a, b = first.get(ref, ""), second.get(ref, "")
        if book not in _ORDER:
            dropped["outside the 66 books"] += 1
        elif ref not in first or ref not in second:
            dropped[f"only in {names[ref in second]}"] += 1
        elif not a or not b:
            dropped["empty in " + ("both" if not a and not b else names[0] if not a else names[1])] += 1
        else:
            both.append(ref)
    return sorted(both, key=_sort_key), dropped


def _sort_key(ref: str) -> tuple[int, int, int]:
    book, cv = ref.rsplit(" ", 1)
    chapter, verse = cv.split(":")
    return _ORDER[book], int(chapter), int(verse)


def tsv_lines(refs: Iterable[str], *translations: Mapping[str, str]) -> list[str]:
    """``ref<TAB>sentence`` lines, one per translation per reference, in the order given."""
    lines = []
    for ref in refs:
        for verses in translations:
            sentence = verses[ref]
            if not sentence or "\t" in sentence or "\n" in sentence:
                raise BibleDumpError(f"{ref}: sentence {sentence!r} is empty or holds a tab or newline")
            lines.append(f"{ref}\t{sentence}")
    return lines


def write_tsv(path: str | Path, lines: list[str]) -> None:
    """Write the lines atomically: an interrupted run leaves the previous file or none."""
    write_atomic(path, "".join(line + "\n" for line in lines))
