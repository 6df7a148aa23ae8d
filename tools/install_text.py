"""Install three tokenised text corpora for word2vec / language-model runs under ``<root>`` (``make data`` runs it).

Usage::

    python tools/install_text.py data                       # downloads what it needs (pip, apt-get)
    python tools/install_text.py data --wheel gensim.whl --deb dict-gcide.deb   # or reads saved copies

Writes ``english/wiki.txt`` (gensim 4.4.0's Wikipedia test sample: one article a line, lower-case alphabetic
tokens of 2-15 letters, at most 10,000 a line) with ``wordsim353.tsv``, ``simlex999.txt`` and
``questions-words.txt`` copied from the same wheel; ``gcide/gcide.txt`` (Debian's dict-gcide, one dictionary
entry a line, the same tokeniser); ``chinese/peoples_daily_words.txt`` (the gold words of ``chinese/199801.txt``,
one paragraph a line). Each corpus has a report of counts beside it. Every file goes through a temp file +
rename, the corpus last, so its presence means that corpus is done: an existing corpus is skipped.
Only the standard library: it runs before anything else is installed. Bad input: one ``error: ...`` line, exit 2.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import html
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import IO

GENSIM = "gensim==4.4.0"
TEST_DATA = "gensim/test/test_data/"
WIKI = TEST_DATA + "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
EVAL_FILES = ("wordsim353.tsv", "simlex999.txt", "questions-words.txt")
MAX_LINE_TOKENS = 10_000  # gensim's sentence cap
FILE_LINK = re.compile(r"\[\[\s*(file|image|media|category)\s*:", re.I)
DROPPED_LINKS = re.compile(r"(file|image|media|category|[a-z]{2,3}(-[a-z]+)?):", re.I)  # and interlanguage links
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ID_TOKEN = re.compile(r"^\d{8}-\d{2}-\d{3}-\d{3}/m$")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write through ``<path>.tmp`` + rename: an interrupted install leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    tmp.replace(path)


def tokenize(text: str) -> list[str]:
    """Lower-case maximal runs of unicode letters, kept when 2 to 15 long."""
    runs = []
    for run in re.findall(r"[^\W\d_]+", text.lower()):  # \w less digits and _: letters, plus rare numerals like ²
        runs += [run] if run.isalpha() else ["".join(g) for alpha, g in groupby(run, str.isalpha) if alpha]
    return [t for t in runs if 2 <= len(t) <= 15]


def drop_nested(text: str, opener: str, closer: str, start: re.Pattern | None = None) -> str:
    """``text`` without its balanced ``opener ... closer`` spans (nested ones inside), only those at which
    ``start`` matches if given; an unclosed span stays."""
    out, depth, begin, pos = [], 0, 0, 0
    for m in re.finditer(re.escape(opener) + "|" + re.escape(closer), text):
        if m.group() == opener and (depth or start is None or start.match(text, m.start())):
            if depth == 0:
                begin = m.start()
            depth += 1
        elif m.group() == closer and depth:
            depth -= 1
            if depth == 0:
                out.append(text[pos:begin])
                pos = m.end()
    return "".join(out) + text[pos:]


def link_text(m: re.Match) -> str:
    target, _, text = m.group(1).partition("|")
    if DROPPED_LINKS.match(target.strip()):
        return ""
    return text.rpartition("|")[2] or target if text else target


def strip_wiki(text: str) -> str:
    """Plain text of MediaWiki markup (comments, refs, tags, templates, tables, file links, formatting)."""
    text = re.sub(r"<!--.*?(-->|$)", " ", text, flags=re.S)
    text = re.sub(r"<ref[^>]*/>|<(ref|math|gallery|timeline|score)\b[^>]*>.*?</\1\s*>", " ", text, flags=re.S | re.I)
    text = re.sub(r"</?[a-zA-Z][^>\n]*>", " ", text)
    text = drop_nested(drop_nested(text, "{{", "}}"), "{|", "|}")
    text = drop_nested(text, "[[", "]]", FILE_LINK)  # captions may hold links and stray brackets
    while True:  # innermost links first, so a caption's links do not end its file link early
        text, n = re.subn(r"\[\[([^\[\]]*)\]\]", link_text, text)
        if not n:
            break
    text = re.sub(r"\[(?:https?|ftp)://[^\s\]]*\s*([^\]]*)\]", r"\1", text)
    text = re.sub(r"(?:https?|ftp)://\S+|__[A-Z]+__|'{2,}", " ", text)
    text = re.sub(r"^(=+)\s*(.*?)\s*\1\s*$", r"\2", text, flags=re.M)
    return html.unescape(text)


def read_pages(stream: IO[bytes]) -> Iterator[tuple[str, str, str]]:
    """``(ns, title, text)`` of each page of a MediaWiki XML dump (any namespace URI); ``text`` is ``#REDIRECT``
    for a redirect (a ``<redirect>`` element or text starting so)."""
    for _, elem in ET.iterparse(stream, events=("end",)):
        if elem.tag.rsplit("}", 1)[-1] == "page":
            fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in elem.iter()}
            text = fields.get("text", "")
            redirect = "redirect" in fields or text.upper().startswith("#REDIRECT")
            yield fields.get("ns", "0"), fields.get("title", ""), "#REDIRECT" if redirect else text
            elem.clear()


def cut(tokens: list[str]) -> list[str]:
    return [" ".join(tokens[i:i + MAX_LINE_TOKENS]) for i in range(0, len(tokens), MAX_LINE_TOKENS)]


def wiki_lines(stream: IO[bytes], report: Counter) -> list[str]:
    lines = []
    for ns, _, text in read_pages(stream):
        if ns != "0":
            report["pages in other namespaces dropped"] += 1
        elif text == "#REDIRECT":
            report["redirects dropped"] += 1
        elif tokens := tokenize(strip_wiki(text)):
            report["articles"] += 1
            lines += cut(tokens)
        else:
            report["empty articles dropped"] += 1
    return lines


ACCENT = re.compile(r"\[(['`\"=.^~,*:-]{0,2})([a-zA-Z]{1,2})(['`\"=.^~,*:-]{0,2})\]")
CITATION = re.compile(r"\[[^\[\]]*(?:Webster|WordNet|PJC|RHUD)[^\[\]]*\]")


def unaccent(m: re.Match) -> str:
    """``[='a]``-style accent codes to their letters; ``[R.]``-style abbreviations stay."""
    marks = m.group(1) + m.group(3)
    if (marks and not (m.group(1) == "" and m.group(3) == ".")) or m.group(2).lower() in ("ae", "oe"):
        return m.group(2)
    return m.group()


def strip_gcide(text: str) -> str:
    """Plain text of a dictd GCIDE entry: no pronunciations, citations, accent codes, tags or entities."""
    text = re.sub(r"\\[^\\\n]*\\", " ", text)  # \Ca*lor"ic\ pronunciation fields
    text = CITATION.sub(" ", text)  # [1913 Webster], [WordNet 1.5 +PJC], ...
    text = ACCENT.sub(unaccent, text)
    text = re.sub(r"\[(imac|eth|thorn)\]", lambda m: {"imac": "i"}.get(m.group(1), "th"), text)
    text = re.sub(r"(?<=[^\W\d_])[*`](?=[^\W\d_])", "", text)  # syllable and accent marks inside words
    text = re.sub(r"</?\w+/?>|&\w+;|\[[a-z]+\]", " ", text)  # tags, entities, symbol codes like [deg]
    return text.replace("{", " ").replace("}", " ")


def dictd_number(s: str) -> int:
    """A dictd index offset or length (base 64, most significant digit first)."""
    n = 0
    for ch in s:
        n = n * 64 + B64.index(ch)
    return n


def gcide_lines(dict_text: str, index_text: str, report: Counter) -> list[str]:
    """One line per dictionary entry (the index's distinct blocks, in file order; no 00-database-* blocks)."""
    blocks = set()
    for row in index_text.splitlines():
        head, off, size = row.split("\t")[:3]
        if not head.startswith("00-database") and not head.startswith("00database"):
            blocks.add((dictd_number(off), dictd_number(size)))
    lines = []
    for off, size in sorted(blocks):
        report["entries"] += 1
        tokens = tokenize(strip_gcide(dict_text[off:off + size]))
        lines += cut(tokens) if tokens else []
        report["entries without tokens dropped"] += not tokens
    return lines


def peoples_daily_words(line: str) -> str:
    """The gold words of one PKU-tagged line: no date id, no ``/POS`` tags, compounds' brackets dropped."""
    tokens = line.split()
    if tokens and ID_TOKEN.match(tokens[0]):
        tokens = tokens[1:]
    words = (re.sub(r"\][a-zA-Z]*$", "", t.lstrip("[")).rpartition("/") for t in tokens)
    return " ".join(w if sep else tag for w, sep, tag in words)


def corpus_report(lines: list[str], report: Counter, source: str) -> str:
    counts = Counter(t for line in lines for t in line.split())
    report.update({"lines": len(lines), "tokens": sum(counts.values()), "types": len(counts),
                   "types with count >= 5": sum(c >= 5 for c in counts.values())})
    return f"source: {source}\n" + "".join(f"{k}: {v:,}\n" for k, v in report.items())


def fetch(cmd: list[str], tmp: Path, pattern: str) -> Path:
    done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)  # quiet: pip and apt warn harmlessly
    if done.returncode:
        raise OSError(f"{' '.join(cmd)} exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    found = sorted(tmp.glob(pattern))
    if not found:
        raise FileNotFoundError(f"{' '.join(cmd)} left no {pattern} in {tmp}")
    return found[0]


def install_english(out: Path, wheel: Path | None, tmp: Path) -> str:
    wheel = wheel or fetch([sys.executable, "-m", "pip", "download", "-q", "--no-deps", GENSIM, "-d", str(tmp)],
                           tmp, "gensim-*.whl")
    report = Counter()
    with zipfile.ZipFile(wheel) as whl:
        for name in EVAL_FILES:
            write_atomic(out / name, whl.read(TEST_DATA + name))
        with whl.open(WIKI) as raw, bz2.open(raw) as stream:
            lines = wiki_lines(stream, report)
    text = corpus_report(lines, report, f"{wheel.name}:{WIKI}")
    write_atomic(out / "install_report.txt", text)
    write_atomic(out / "wiki.txt", "\n".join(lines) + "\n")
    return text


def install_gcide(out: Path, deb: Path | None, tmp: Path) -> str:
    if deb is None:
        if not list(Path("/var/lib/apt/lists").glob("*Packages*")):
            subprocess.run(["sudo", "apt-get", "update", "-qq"], check=True)
        deb = fetch(["apt-get", "download", "-qq", "dict-gcide"], tmp, "dict-gcide_*.deb")
    subprocess.run(["dpkg", "-x", str(deb), str(tmp / "x")], check=True)
    folder = tmp / "x/usr/share/dictd"
    with gzip.open(folder / "gcide.dict.dz") as f:
        dict_text = f.read().decode("latin-1")  # ASCII but for 3 stray bytes; latin-1 keeps offsets = bytes
    report = Counter()
    lines = gcide_lines(dict_text, (folder / "gcide.index").read_text(encoding="latin-1"), report)
    text = corpus_report(lines, report, f"{deb.name}:usr/share/dictd/gcide.dict.dz")
    write_atomic(out / "install_report.txt", text)
    write_atomic(out / "gcide.txt", "\n".join(lines) + "\n")
    return text


def install_chinese(zh: Path) -> str:
    source = zh / "199801.txt"
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing: tools/install_data.sh installs it first")
    lines = [w for line in source.read_text(encoding="utf-8").splitlines() if (w := peoples_daily_words(line))]
    text = corpus_report(lines, Counter(), str(source))
    write_atomic(zh / "peoples_daily_report.txt", text)
    write_atomic(zh / "peoples_daily_words.txt", "\n".join(lines) + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path, nargs="?", default=Path("data"), help="data root (make data: data)")
    p.add_argument("--wheel", type=Path, help="a saved gensim 4.4.0 wheel (else pip download)")
    p.add_argument("--deb", type=Path, help="a saved dict-gcide .deb (else apt-get download)")
    args = p.parse_args(argv)
    # the default corpora of the experiments first; one that fails does not stop the others
    jobs = {args.root / "english/wiki.txt": lambda tmp: install_english(args.root / "english", args.wheel, tmp),
            args.root / "chinese/peoples_daily_words.txt": lambda tmp: install_chinese(args.root / "chinese"),
            args.root / "gcide/gcide.txt": lambda tmp: install_gcide(args.root / "gcide", args.deb, tmp)}
    tests = [args.root / "english" / name for name in ("wordsim353.tsv", "simlex999.txt", "questions-words.txt")]
    failed = []
    for target, job in jobs.items():
        if target.exists() and (target.parent.name != "english" or all(t.exists() for t in tests)):
            print(f"{target} exists: nothing to do")
            continue
        try:
            with tempfile.TemporaryDirectory() as tmp:
                print(job(Path(tmp)), end="")
            print(f"wrote {target}")
        except (OSError, KeyError, ValueError, ET.ParseError, subprocess.CalledProcessError, zipfile.BadZipFile) as e:
            print(f"error: {target} not installed: {e}", file=sys.stderr)
            failed.append(target)
    return 2 if failed else 0

if __name__ == "__main__":
    raise SystemExit(main())
