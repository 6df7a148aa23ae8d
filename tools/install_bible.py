"""Build ``<out>/kjv_web.tsv``: the King James and World English Bibles aligned by verse (``make data`` runs it).

Usage::

    python tools/install_bible.py data/bible                        # runs diatheke on the SWORD modules
    python tools/install_bible.py data/bible --dumps kjv.txt web.txt  # or reads its saved plain output

Each line is ``reference<TAB>sentence`` (``Genesis 1:1<TAB>In the beginning ...``), the KJV line then
the WEB line, verses in canonical order, only those with text in both. ``install_report.txt`` beside
it counts what was parsed, dropped and fixed (the same report is printed). Idempotent: with the TSV
already there it does nothing. Bad input: one ``error: ...`` line, exit 2.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from datasets.bible import BibleDumpError, align, clean_verse, parse_plain, tsv_lines, write_tsv
from engine.errors import DataMissingError, ProjectError
from engine.files import write_atomic

MODULES = {"KJV": ("KJV", "engKJV2006eb"), "WEB": ("WEB", "engWEB2015eb")}  # names the Debian packages have used
RANGE = "Genesis 1:1-Revelation 22:21"
OPTIONS = "fs"  # footnotes and cross-references shown: removed in cleaning, they leave no glued words
MIN_VERSES = 30_000  # about 31,095 align; far fewer means a truncated dump
INSTALL = "apt-get install diatheke sword-text-kjv sword-text-web (make data does it)"


def find_modules() -> dict[str, str]:
    """The installed module name of each translation, from ``diatheke -b system -k modulelist``."""
    if shutil.which("diatheke") is None:
        raise DataMissingError(f"diatheke is not installed: {INSTALL}")
    listing = subprocess.run(["diatheke", "-b", "system", "-k", "modulelist"], capture_output=True, text=True,
                             encoding="utf-8", check=True).stdout
    installed = {line.split(" : ")[0].strip() for line in listing.splitlines() if " : " in line}
    found = {}
    for label, names in MODULES.items():
        name = next((n for n in names if n in installed), None)
        if name is None:
            raise DataMissingError(f"no SWORD module {' or '.join(names)} among {sorted(installed)}: {INSTALL}")
        found[label] = name
    return found


def dump(modules: dict[str, str]) -> dict[str, str]:
    """diatheke's plain output of the whole Protestant canon of each module (both run at once)."""
    procs = {label: subprocess.Popen(["diatheke", "-b", name, "-f", "plain", "-o", OPTIONS, "-k", RANGE], text=True,
                                     encoding="utf-8", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for label, name in modules.items()}
    texts = {}
    for label, proc in procs.items():
        texts[label], err = proc.communicate()
        if proc.returncode:
            raise ProjectError(f"diatheke -b {modules[label]} exited with {proc.returncode}: {err.strip()[:200]}")
    return texts


def counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counter.most_common()) or "none"


def build(texts: dict[str, str], modules: dict[str, str | None], source: str) -> tuple[list[str], str]:
    """The TSV lines and the report from each translation's raw dump."""
    report = [f"source: {source}"]
    clean: dict[str, dict[str, str]] = {}
    for label, text in texts.items():
        parsed = parse_plain(text, modules[label])
        if parsed.module not in (None, *MODULES[label]):
            raise BibleDumpError(f"the {label} dump is of module {parsed.module}: dumps swapped?")
        fixes, verses_fixed = Counter(), Counter()
        clean[label] = {}
        for ref, raw in parsed.verses.items():
            clean[label][ref], applied = clean_verse(raw)
            fixes.update(applied)
            verses_fixed.update(applied.keys())
        report += [f"{label} ({modules[label] or 'from a dump'}): {len(parsed.verses):,} verses parsed",
                   f"  lines dropped: {counts(parsed.dropped)}",
                   f"  lines not parsed (before the first verse): {len(parsed.unparsed)}"
                   + "".join(f"\n    line {n}: {line[:100]!r}" for n, line in parsed.unparsed[:5]),
                   "  fixes: " + (", ".join(f"{k} {v:,} (in {verses_fixed[k]:,} verses)" for k, v in fixes.most_common())
                                  or "none")]
    first, second = clean
    refs, dropped = align(clean[first], clean[second], (first, second))
    report += [f"verses not written: {counts(dropped)}",
               f"verses written: {len(refs):,} ({2 * len(refs):,} lines)",
               "(heading lines: psalm titles, which diatheke repeats before every later verse; notes: footnotes and"
               " cross-references, shown by -o fs so that removing them glues no words)"]
    if len(refs) < MIN_VERSES:
        raise BibleDumpError(f"only {len(refs):,} verses in both translations (expected about 31,095): a truncated dump?")
    return tsv_lines(refs, clean[first], clean[second]), "\n".join(report) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="output folder (make data: data/bible)")
    p.add_argument("--dumps", nargs=2, type=Path, metavar=("KJV", "WEB"), help="saved diatheke -f plain -o fs output")
    args = p.parse_args(argv)
    tsv = args.out / "kjv_web.tsv"
    if tsv.exists():
        print(f"{tsv} exists: nothing to do")
        return 0
    try:
        if args.dumps:
            texts = {label: path.read_text(encoding="utf-8") for label, path in zip(MODULES, args.dumps)}
            modules: dict[str, str | None] = dict.fromkeys(MODULES)
            source = "dumps " + ", ".join(map(str, args.dumps))
        else:
            found = find_modules()
            texts, modules = dump(found), dict(found)
            source = "; ".join(f'diatheke -b {m} -f plain -o {OPTIONS} -k "{RANGE}"' for m in modules.values())
        lines, report = build(texts, modules, source)
    except (ProjectError, OSError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "install_report.txt", report)
    write_tsv(tsv, lines)  # last: its presence means the install finished
    print(report, end="")
    print(f"wrote {tsv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
