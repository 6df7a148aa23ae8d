"""datasets/bible.py and tools/install_bible.py on hand-written imitations of diatheke's plain output, and the
installed data/bible/kjv_web.tsv when there is one."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import REPO

from datasets.bible import BOOKS, BibleDumpError, align, clean_verse, parse_plain, tsv_lines, write_tsv
from tools.install_bible import main as install_main

# Trailing spaces are written \x20, as diatheke prints them.
# KJV-like: a psalm title repeated before every later verse (diatheke 1.9), pilcrow, footnote, \nd marker
KJV = """\
Genesis 1:1: In the beginning God created the heaven and the earth.
Genesis 1:2: ¶ And the earth was without form, and void. [1.2 void: Heb. empty]\x20\x20
A Psalm of David.
   Psalms 3:1: LORD, how are they increased that trouble me!\x20
A Psalm of David.
   Psalms 3:2: Many there be which say of my soul, There is no help for him in the \\nd LORD.\x20



A Psalm of David.
   Psalms 3:3: But thou, O LORD, art a shield for me.\x20
(engKJV2006eb)
"""

# WEB-like: a stray line first, a note between words (hidden, diatheke would print "Godcreated"), poetry,
# a speaker label, a verse line glued to raw OSIS, an empty verse, a book outside the 66, end matter
WEB = """\
garbage before any verse
Genesis 1:1: In the beginning, God [1:1 The Hebrew word rendered “God” is “אֱלֹהִ֑ים” (Elohim).] created the heavens.
Genesis 1:2: The earth was formless and empty.\x20\x20
A Psalm by David.
  Psalms 3:1: Yahweh, how my adversaries have increased!
Many are those who rise up against me.\x20

A Psalm by David.
  Psalms 3:2: Many there are who say of my soul,
Friends  “There is no help for him in God.”
Selah.
<title canonical="true" type="psalm">A Psalm by David.</title> <l level="1" sID="gen1"/>Psalms 3:3:\x20
Tobit 1:1: The book of the words of Tobit.
A Psalm by David.
  Psalms 3:4: With my voice I call to Yahweh.



   The following words used in the World English Bible are not very common.
(engWEB2015eb)
"""


def test_parse_drops_headings_and_trailer_and_keeps_poetry_lines():
    p = parse_plain(KJV, "engKJV2006eb")
    assert list(p.verses) == ["Genesis 1:1", "Genesis 1:2", "Psalms 3:1", "Psalms 3:2", "Psalms 3:3"]
    assert p.dropped == Counter({"heading line": 3, "module name line": 1})  # the third title follows 3 blank lines
    assert p.verses["Psalms 3:1"] == " LORD, how are they increased that trouble me! "
    assert p.unparsed == [] and p.module == "engKJV2006eb"

    w = parse_plain(WEB)
    assert w.unparsed == [(1, "garbage before any verse")]
    assert w.verses["Psalms 3:1"] == " Yahweh, how my adversaries have increased!\nMany are those who rise up against me. "
    assert w.verses["Psalms 3:3"] == "" and w.verses["Tobit 1:1"] == " The book of the words of Tobit."
    assert w.verses["Psalms 3:4"] == " With my voice I call to Yahweh."  # the glossary after 3 blank lines is not in it
    assert w.dropped == Counter({"heading line": 3, "raw markup heading glued to a verse line": 1,
                                 "end matter after 3+ blank lines": 1, "module name line": 1})


def test_parse_refuses_bad_input():
    with pytest.raises(BibleDumpError, match="expected engKJV2006eb"):
        parse_plain(WEB, "engKJV2006eb")
    with pytest.raises(BibleDumpError, match="no verse line"):
        parse_plain("Modules: none\n")
    with pytest.raises(BibleDumpError, match="Genesis 1:1 appears twice"):
        parse_plain(KJV + KJV)


@pytest.mark.parametrize("raw, clean, fixes", [
    (" In the beginning, God [1:1 The word “אֱלֹהִ֑ים” (Elohim).] created the heavens.",
     "In the beginning, God created the heavens.", {"note": 1}),
    (" He showed me a river [22:1 TR adds “pure”] . Then [ 5:3 Isaiah 57:15; 66:2 ] he",
     "He showed me a river. Then he", {"note": 2}),
    ("the end [7:36 The passage from verse [36] to verse [105] was missing.] of days", "the end of days", {"note": 1}),
    (" ¶ And God said, Let there be light. [1.3 light: Heb. lamp] ", "And God said, Let there be light.",
     {"pilcrow": 1, "note": 1}),
    (" Because the \\nd LORD hath sworn", "Because the LORD hath sworn", {"markup": 1}),
    (" Many there are who say of my soul,\nFriends  “There is no help for him.”\nSelah.",
     "Many there are who say of my soul, “There is no help for him.” Selah.", {"speaker label": 1}),
    (" the deaf hear,the dead are raised; I am the light of the world.He who follows me",
     "the deaf hear, the dead are raised; I am the light of the world. He who follows me", {"glued word": 2}),
    (" He said,  “Canaan\u00a0is cursed.” ", "He said, “Canaan is cursed.”", {"whitespace": 2}),
    (" Jesus wept. ", "Jesus wept.", {}),
])
def test_clean_verse(raw, clean, fixes):
    assert clean_verse(raw) == (clean, Counter(fixes))


def test_align_keeps_verses_in_both_in_canonical_order():
    kjv = {"Matthew 1:1": "The book.", "Psalms 3:10": "x", "Psalms 3:2": "y", "Luke 17:36": "Two men.", "Acts 8:37": "z"}
    web = {"Psalms 3:2": "Y", "Matthew 1:1": "The book!", "Psalms 3:10": "X", "Luke 17:36": "", "Tobit 1:1": "T",
           "Revelation of John 12:18": "R"}
    refs, dropped = align(kjv, web, ("KJV", "WEB"))
    assert refs == ["Psalms 3:2", "Psalms 3:10", "Matthew 1:1"]
    assert dropped == Counter({"empty in WEB": 1, "only in KJV": 1, "only in WEB": 1, "outside the 66 books": 1})
    assert tsv_lines(refs[:1], kjv, web) == ["Psalms 3:2\ty", "Psalms 3:2\tY"]
    with pytest.raises(BibleDumpError, match="tab"):
        tsv_lines(["Psalms 3:2"], {"Psalms 3:2": "a\tb"})
    assert len(BOOKS) == 66


def test_write_tsv_and_the_whole_pipeline(tmp_path):
    kjv: dict[str, str] = {}
    web: dict[str, str] = {}
    for parsed, out in ((parse_plain(KJV), kjv), (parse_plain(WEB), web)):
        out.update({ref: clean_verse(raw)[0] for ref, raw in parsed.verses.items()})
    refs, dropped = align(kjv, web, ("KJV", "WEB"))
    assert refs == ["Genesis 1:1", "Genesis 1:2", "Psalms 3:1", "Psalms 3:2"]
    assert dropped == Counter({"outside the 66 books": 1, "empty in WEB": 1, "only in WEB": 1})
    write_tsv(tmp_path / "t.tsv", tsv_lines(refs, kjv, web))
    lines = (tmp_path / "t.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and lines[:2] == [
        "Genesis 1:1\tIn the beginning God created the heaven and the earth.",
        "Genesis 1:1\tIn the beginning, God created the heavens."]
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]  # no temp file left


def test_install_script_refuses_a_truncated_dump_and_is_idempotent(tmp_path, capsys):
    (tmp_path / "kjv.txt").write_text(KJV, encoding="utf-8")
    (tmp_path / "web.txt").write_text(WEB, encoding="utf-8")
    dumps = ["--dumps", str(tmp_path / "kjv.txt"), str(tmp_path / "web.txt")]
    assert install_main([str(tmp_path / "out"), *dumps]) == 2
    assert "only 4 verses in both" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert install_main([str(tmp_path / "out2"), "--dumps", str(tmp_path / "web.txt"), str(tmp_path / "kjv.txt")]) == 2
    assert "dumps swapped" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "kjv_web.tsv").write_text("kept\n")
    assert install_main([str(tmp_path / "out"), *dumps]) == 0
    assert "nothing to do" in capsys.readouterr().out and (tmp_path / "out" / "kjv_web.tsv").read_text() == "kept\n"


TSV = REPO / "data" / "bible" / "kjv_web.tsv"
MEASURED = 31_095  # verses in both (diatheke 1.9, sword-text-kjv 14.3, sword-text-web 426.0, Debian bookworm)


def test_installed_tsv():
    assert TSV.is_file(), "data/bible/kjv_web.tsv is not installed: run `make data` (make test does)"
    lines = TSV.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines]
    assert all(len(r) == 2 and r[1] and r[1] == r[1].strip() for r in rows)  # one tab, a non-empty sentence
    groups = Counter(r[0] for r in rows)
    assert set(groups.values()) == {2} and abs(len(groups) - MEASURED) <= MEASURED // 100
    assert all(rows[i][0] == rows[i + 1][0] for i in range(0, len(rows), 2))  # the pair is adjacent
    assert rows[:2] == [["Genesis 1:1", "In the beginning God created the heaven and the earth."],
                        ["Genesis 1:1", "In the beginning, God created the heavens and the earth."]]
    order = {b: i for i, b in enumerate(BOOKS)}
    keys = [(order[g.rsplit(" ", 1)[0]], *map(int, g.rsplit(" ", 1)[1].split(":"))) for g in groups]
    assert keys == sorted(keys) and rows[-1][0] == "Revelation of John 22:21"
