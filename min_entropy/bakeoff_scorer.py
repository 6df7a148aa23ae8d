"""The SIGHAN bakeoff's word-segmentation score (Sproat & Emerson, "The First International Chinese Word
Segmentation Bakeoff", SIGHAN 2003; the same rules in the 2005 bakeoff, Emerson 2005), written here.

The bakeoff's scorer aligns each gold line with the predicted line word by word, as ``diff`` aligns
two files of one word per line: the words left unchanged are (nearly always) a longest common
subsequence of the two word sequences, words compared as strings, not as character spans
(:func:`lcs_pairs` says where diff's heuristic departs from it). Per line and summed over lines:

- ``recall = unchanged / gold words``, ``precision = unchanged / predicted words``, ``F1 = 2PR / (P + R)``;
- a gold word is out of vocabulary (OOV) when it is not in the training word list; ``OOV recall``
  is the fraction of OOV gold words left unchanged, ``IV recall`` the same for the others.

Lines are read in pairs; whitespace (and U+3000, the full-width space) separates words; a gold line
with no word is skipped. Unlike the bakeoff's script, a pair of lines that do not spell the same
characters, a file with another number of lines, an empty gold file or a line that is not UTF-8 is
refused with one line naming the file and the line: the script would score a misaligned file silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ProjectError
from min_entropy.chinese_text import read_lines

_SPACE = re.compile("[ \t\n\r\f\v\u3000]+")  # the script splits bytes on ASCII whitespace after mapping U+3000 to a space


@dataclass(frozen=True)
class BakeoffScore:
    """Totals over all lines, and the bakeoff's rates computed from them."""

    gold_words: int
    predicted_words: int
    correct_words: int
    oov_words: int
    oov_correct: int

    @property
    def recall(self) -> float:
        return self.correct_words / self.gold_words

    @property
    def precision(self) -> float:
        return self.correct_words / self.predicted_words if self.predicted_words else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def oov_rate(self) -> float:
        return self.oov_words / self.gold_words

    @property
    def oov_recall(self) -> float:
        return self.oov_correct / self.oov_words if self.oov_words else float("nan")

    @property
    def iv_recall(self) -> float:
        iv = self.gold_words - self.oov_words
        return (self.correct_words - self.oov_correct) / iv if iv else float("nan")

    def as_dict(self) -> dict[str, float]:
        rates = {k: getattr(self, k) for k in ("precision", "recall", "f1", "oov_rate", "oov_recall", "iv_recall")}
        return {**rates, **self.__dict__}


def words_of(line: str) -> list[str]:
    """The words of one segmented line."""
    return [w for w in _SPACE.split(line) if w]


def lcs_pairs(gold: list[str], pred: list[str]) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)`` of the words ``diff`` leaves unchanged, in order.

    As GNU diff aligns two files: common leading and trailing words are matched first; in the middle,
    words it finds confusing (:func:`confusing`) are set aside as changed, and the rest are aligned by
    a longest common subsequence (dynamic programming: lines hold tens of words, so the table is small).
    Setting words aside can lose a match, so this is not always the longest common subsequence of the
    two lines; it is what the bakeoff's scores count.
    """
    head = 0
    while head < min(len(gold), len(pred)) and gold[head] == pred[head]:
        head += 1
    tail = 0
    while tail < min(len(gold), len(pred)) - head and gold[-1 - tail] == pred[-1 - tail]:
        tail += 1
    a, b = gold[head:len(gold) - tail], pred[head:len(pred) - tail]
    keep_a = [i for i, c in enumerate(confusing(a, b)) if not c]
    keep_b = [j for j, c in enumerate(confusing(b, a)) if not c]
    middle = [(head + keep_a[i], head + keep_b[j]) for i, j in _lcs([a[i] for i in keep_a], [b[j] for j in keep_b])]
    return ([(k, k) for k in range(head)] + middle
            + [(len(gold) - tail + k, len(pred) - tail + k) for k in range(tail)])


def _lcs(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Index pairs of one longest common subsequence of ``a`` and ``b``."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]  # table[i][j]: the LCS length of a[i:], b[j:]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if a[i] == b[j] else max(below[j], row[j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def confusing(a: list[str], b: list[str]) -> list[bool]:
    """Which words of ``a`` GNU diff sets aside before aligning ``a`` with ``b`` (its speed heuristic).

    A word that ``b`` lacks is set aside. A word that ``b`` holds more than ``many`` times (5, doubled
    for every factor 4 of ``len(a) / 64``) is set aside only inside a run of set-aside words that
    begins and ends with a lacking word, and not when more than a quarter of the run is frequent
    words, nor in a row of ``minimum`` or more frequent words (``minimum`` - 1 about the fourth root of
    the run's length / 4), nor before the run's first three lacking words in a row (or the first
    lacking word 8 or more words in), counted from either end.
    """
    lacking, frequent, keep = 1, 2, 0
    counts = Counter(b)
    many = 5
    scale = len(a) // 64
    while (scale := scale >> 2) > 0:
        many *= 2
    flag = [lacking if counts[w] == 0 else frequent if counts[w] > many else keep for w in a]
    i = 0
    while i < len(a):
        if flag[i] == frequent:
            flag[i] = keep
        elif flag[i] == lacking:
            j, n_frequent = i, 0
            while j < len(a) and flag[j] != keep:
                n_frequent += flag[j] == frequent
                j += 1
            while j > i and flag[j - 1] == frequent:  # the run ends with a lacking word
                j -= 1
                flag[j] = keep
                n_frequent -= 1
            length = j - i
            run = range(i, j)
            if 4 * n_frequent > length:
                for k in run:
                    flag[k] = keep if flag[k] == frequent else flag[k]
            else:
                minimum, scale = 1, length >> 2
                while (scale := scale >> 2) > 0:
                    minimum <<= 1
                minimum += 1
                k, row = 0, 0
                while k < length:  # cancel every row of `minimum` or more frequent words
                    if flag[i + k] != frequent:
                        row = 0
                    else:
                        row += 1
                        if row == minimum:
                            k -= row  # back to the row's start: cancel it whole
                        elif row > minimum:
                            flag[i + k] = keep
                    k += 1
                _cancel_leading(flag, list(run), lacking, frequent, keep)
                _cancel_leading(flag, list(reversed(run)), lacking, frequent, keep)
                i += length - 1
        i += 1
    return [f != keep for f in flag]


def _cancel_leading(flag: list[int], order: list[int], lacking: int, frequent: int, keep: int) -> None:
    """Keep the frequent words of a run before its first three lacking words in a row (or its first lacking word 8 in)."""
    row = 0
    for n, k in enumerate(order):
        if n >= 8 and flag[k] == lacking:
            return
        if flag[k] == frequent:
            flag[k] = keep
            row = 0
        elif flag[k] == keep:
            row = 0
        else:
            row += 1
        if row == 3:
            return


def read_vocabulary(path: str | Path) -> set[str]:
    """The training word list: one word per line."""
    return {line.strip() for _, line in read_lines(path, "training word list")} - {""}


def score_line(gold: list[str], pred: list[str], vocabulary: set[str]) -> tuple[int, int, int]:
    """``(correct, oov, oov_correct)`` of one line: unchanged words, OOV gold words, unchanged OOV gold words."""
    pairs = lcs_pairs(gold, pred)
    oov = [w not in vocabulary for w in gold]
    return len(pairs), sum(oov), sum(1 for i, _ in pairs if oov[i])


def score_lines(gold: Iterable[str], pred: Iterable[str], vocabulary: set[str],
                gold_name: str = "gold", pred_name: str = "prediction") -> BakeoffScore:
    """Score segmented lines (words separated by spaces) against gold lines, paired in order."""
    totals = [0, 0, 0]
    n_gold = n_pred = 0
    gold_iter, pred_iter = iter(gold), iter(pred)
    lineno = 0
    for lineno, g in enumerate(gold_iter, 1):
        p = next(pred_iter, None)
        if p is None:
            raise ProjectError(f"{pred_name} ends at line {lineno - 1}, {gold_name} goes on: "
                               "write one predicted line per gold line")
        gw, pw = words_of(g), words_of(p)
        if not gw:
            continue
        if "".join(gw) != "".join(pw):
            raise ProjectError(f"{pred_name}:{lineno} spells {''.join(pw)[:30]!r}..., {gold_name}:{lineno} "
                               f"{''.join(gw)[:30]!r}...: the files are not the same text line by line")
        n_gold, n_pred = n_gold + len(gw), n_pred + len(pw)
        totals = [t + x for t, x in zip(totals, score_line(gw, pw, vocabulary))]
    if next(pred_iter, None) is not None:
        raise ProjectError(f"{pred_name} has more lines than {gold_name} ({lineno}): write one predicted line per gold line")
    if n_gold == 0:
        raise ProjectError(f"{gold_name} has no words: give the gold segmentation (words separated by spaces)")
    return BakeoffScore(n_gold, n_pred, *totals)


def score_files(words: str | Path, gold: str | Path, pred: str | Path) -> BakeoffScore:
    """The bakeoff's ``score WORDS GOLD PREDICTED`` on three files."""
    vocabulary = read_vocabulary(words)
    return score_lines((line for _, line in read_lines(gold, "gold file")),
                       (line for _, line in read_lines(pred, "prediction file")),
                       vocabulary, str(gold), str(pred))
