"""Paraphrase groups from the files a user brings, as ``(group, sentence)`` rows.

Three layouts (post 6, kexue.fm/archives/5743, and the LCQMC / BQ / AFQMC corpora):

- ``groups``: ``group_id<TAB>sentence`` per line (the post's ``tongyiju.csv``);
- ``pairs``: ``sentence1<TAB>sentence2<TAB>label`` per line, label 1 for a paraphrase, 0 otherwise;
- ``jsonl``: one JSON object per line with ``text1``, ``text2`` and ``label``.

Pairs become groups by joining every positive pair (union-find), so a-b and b-c give one group
{a, b, c}; a sentence that is in no positive pair belongs to no group. A malformed line (wrong field
count, empty sentence, bad label, bad JSON, not UTF-8) is skipped and reported with its file and line
number; every skipped line is counted in :class:`ReadReport`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ConfigError, DataMissingError, ProjectError

log = logging.getLogger(__name__)
FORMATS = ("auto", "groups", "pairs", "jsonl")
SHOWN = 5  # malformed lines quoted in the log; the rest are counted


@dataclass
class ReadReport:
    """What reading a file kept and skipped (``skipped``: reason -> line count; ``examples``: ``file:line: why``)."""

    lines: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    negative_pairs: int = 0
    ungrouped_sentences: int = 0

    def skip(self, path: Path, lineno: int, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < SHOWN:
            self.examples.append(f"{path}:{lineno}: {reason}")


def detect_format(path: Path) -> str:
    """``jsonl`` for ``.jsonl`` / ``.json`` files, else by the first line's tab-separated field count."""
    if path.suffix in (".jsonl", ".json"):
        return "jsonl"
    with open(path, "rb") as f:
        for raw in f:
            fields = raw.decode("utf-8-sig", errors="replace").rstrip("\r\n").split("\t")
            if fields != [""]:
                if len(fields) in (2, 3):
                    return "groups" if len(fields) == 2 else "pairs"
                break
    raise ConfigError(f"cannot tell the layout of {path} from its first line: give data.format=groups|pairs|jsonl")


def _lines(path: Path, report: ReadReport):
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            report.lines += 1
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                report.skip(path, lineno, "not UTF-8")
                continue
            if line.strip():
                yield lineno, line
            else:
                report.skip(path, lineno, "blank line")


def _label(value: object) -> int | None:
    text = str(value).strip()
    return int(text) if text in ("0", "1") else None


def read_groups(path: Path, report: ReadReport) -> list[tuple[str, str]]:
    rows = []
    for lineno, line in _lines(path, report):
        fields = line.split("\t")
        if len(fields) != 2:
            report.skip(path, lineno, f"{len(fields)} tab-separated fields, expected 2 (group_id, sentence)")
        elif not fields[1].strip():
            report.skip(path, lineno, "empty sentence")
        elif not fields[0].strip():
            report.skip(path, lineno, "empty group id")
        else:
            rows.append((fields[0].strip(), fields[1].strip()))
    return rows


def _pairs(path: Path, fmt: str, report: ReadReport):
    for lineno, line in _lines(path, report):
        if fmt == "pairs":
            fields = line.split("\t")
            if len(fields) != 3:
                report.skip(path, lineno, f"{len(fields)} tab-separated fields, expected 3 (sentence1, sentence2, label)")
                continue
            a, b, label = fields
        else:
            try:
                obj = json.loads(line)
                a, b, label = obj["text1"], obj["text2"], obj["label"]
            except (ValueError, KeyError, TypeError):
                report.skip(path, lineno, "not a JSON object with text1, text2 and label")
                continue
        a, b, y = str(a).strip(), str(b).strip(), _label(label)
        if not a or not b:
            report.skip(path, lineno, "empty sentence")
        elif y is None:
            report.skip(path, lineno, f"label {label!r} is not 0 or 1")
        else:
            yield a, b, y


def pairs_to_groups(pairs: list[tuple[str, str]]) -> list[list[str]]:
    """Connected components of the paraphrase graph (union-find with path halving), in order of first appearance."""
    parent: dict[str, str] = {}

    def find(s: str) -> str:
        parent.setdefault(s, s)
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    groups: dict[str, list[str]] = {}
    for s in parent:  # dicts keep insertion order: sentences in order of first appearance
        groups.setdefault(find(s), []).append(s)
    return list(groups.values())


def read_pairs(path: Path, fmt: str, report: ReadReport) -> list[tuple[str, str]]:
    positive, seen = [], set()
    for a, b, y in _pairs(path, fmt, report):
        seen.update((a, b))
        if y:
            positive.append((a, b))
        else:
            report.negative_pairs += 1
    groups = pairs_to_groups(positive)
    report.ungrouped_sentences = len(seen) - sum(len(g) for g in groups)
    return [(f"pair-group-{i}", s) for i, group in enumerate(groups) for s in group]


def read_sentence_groups(path: str | Path, fmt: str = "auto") -> tuple[list[tuple[str, str]], ReadReport]:
    """``(group_id, sentence)`` rows of ``path`` and the report of what was skipped (also logged)."""
    path = Path(str(path))
    if fmt not in FORMATS:
        raise ConfigError(f"data.format={fmt!r} is not one of {list(FORMATS)}")
    if not path.is_file():
        raise DataMissingError(f"{path} does not exist: `make data` installs the Bible groups (data/bible/kjv_web.tsv); "
                               "for your own file give data.path=<file>")
    fmt = detect_format(path) if fmt == "auto" else fmt
    report = ReadReport()
    rows = read_groups(path, report) if fmt == "groups" else read_pairs(path, fmt, report)
    for example in report.examples:
        log.warning("skipped %s", example)
    if report.skipped:
        log.warning("%s: skipped %d of %d lines (%s)", path, sum(report.skipped.values()), report.lines,
                    ", ".join(f"{n} {why}" for why, n in report.skipped.most_common()))
    if fmt != "groups":
        log.info("%s: %d negative pairs ignored; %d sentences in no positive pair belong to no group",
                 path, report.negative_pairs, report.ungrouped_sentences)
    if not rows:
        raise ProjectError(f"{path} holds no usable line (read as data.format={fmt}): check its layout")
    return rows, report
