"""Numbers and Latin words as one symbol each, so that the statistics see ``<number>年`` as a pair.

A character n-gram model cannot learn that ``１９９７年`` is a word: the digits make it five characters,
and every year is another string. Written-out numbers are a closed class that word discovery need not
discover, so every *atom* is folded to one character before counting and segmenting (a rule about
character classes, written here; it uses no word list and no gold):

- a number: digits (ASCII or full-width) with inner decimal points, colons, slashes or middle dots
  (``３．５``, ``２０∶００``) and a trailing per-cent sign, or Chinese digits holding a zero (``二○○一``);
  folded to ``０`` (U+FF10);
- a Latin word: a run of ASCII or full-width letters (``APEC``, ``ＷＴＯ``); folded to ``Ａ`` (U+FF21).

The lexicon then holds ``０年``, ``０月``, ``０％``... learned from their counts like any other word, and
:func:`unfold` puts each atom's text back, in order, after segmentation.
"""

from __future__ import annotations

import re

NUMBER, LATIN = "\uff10", "\uff21"
_ATOM = re.compile(
    "(?P<number>[0-9\uff10-\uff19]+(?:[.\uff0e:\u2236/\uff0f\u00b7][0-9\uff10-\uff19]+)*[%\uff05]?"
    "|[零一二三四五六七八九○〇]*[○〇][零一二三四五六七八九○〇]*)"
    "|(?P<latin>[A-Za-z\uff21-\uff3a\uff41-\uff5a]+)")
_SYMBOL = re.compile(f"[{NUMBER}{LATIN}]")


def fold(line: str) -> tuple[str, list[str]]:
    """``line`` with every atom folded to its symbol, and the atoms' texts in order."""
    atoms: list[str] = []

    def symbol(m: re.Match) -> str:
        atoms.append(m.group())
        return NUMBER if m.group("number") else LATIN

    return _ATOM.sub(symbol, line), atoms


def unfold(words: list[str], atoms: list[str]) -> list[str]:
    """The words of a folded line with every symbol replaced by its atom's text, in order."""
    if not atoms:
        return words
    texts = iter(atoms)
    return [_SYMBOL.sub(lambda _: next(texts), w) if NUMBER in w or LATIN in w else w for w in words]
