"""tools/discover_words.py's jieba_dict.txt: a discovered lexicon that jieba loads as a user dictionary and then cuts
whole, in jieba's format (``word count`` a line), and words jieba's format cannot hold left out with the reason."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO
from hydra import compose, initialize_config_dir

import tools.discover_words as discover_words
from engine.paths import resolve_path_settings
from min_entropy.lexicon import load_lexicon

jieba = pytest.importorskip("jieba", reason="jieba is a dev dependency: pip install -r requirements-dev.txt")
jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict ..." lines

HAN = re.compile("[\u4e00-\u9fd5]+")  # the characters jieba's default cut takes as one block


@pytest.fixture(scope="module")
def discovered(tmp_path_factory) -> SimpleNamespace:
    """Post 1's method on the first 300 lines of People's Daily, in this process (about 4 s)."""
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("discover_words", overrides=["corpus.max_lines=300", "lexicon.min_pmi=3", "evaluate=false",
                                                   "progress=false"])
    resolve_path_settings(cfg, REPO)
    out = tmp_path_factory.mktemp("discover_words")
    m = discover_words.run(cfg, out)
    return SimpleNamespace(out=out, m=m, words=load_lexicon(out / "lexicon.tsv"), summary=discover_words.summary(m, out))


def test_the_file_is_the_lexicon_in_jiebas_format(discovered):
    lines = (discovered.out / "jieba_dict.txt").read_text(encoding="utf-8").splitlines()
    bad = [line for line in lines if not re.fullmatch(r"\S+ [1-9][0-9]*", line)]
    assert lines and not bad, bad[:5]
    pairs = [line.split(" ") for line in lines]
    assert {w: int(n) for w, n in pairs} == discovered.words  # every word, each with its count, none twice
    assert len(lines) == len(discovered.words) == discovered.m["jieba_dict_words"] == discovered.m["lexicon_size"] > 1000
    assert discovered.m["jieba_dict_skipped"] == 0
    tsv = (discovered.out / "lexicon.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert [w for w, _ in pairs] == [row.split("\t")[0] for row in tsv]  # in lexicon.tsv's order: by count
    assert "jieba_dict.txt" in discovered.summary.splitlines()[-1].split("outputs:")[1]


def test_jieba_cuts_discovered_words_whole_once_it_loads_the_file(discovered):
    plain, loaded = jieba.Tokenizer(), jieba.Tokenizer()
    plain.initialize()
    loaded.load_userdict(str(discovered.out / "jieba_dict.txt"))
    assert all(loaded.FREQ.get(w) == n for w, n in discovered.words.items())
    # discovered words of two or more characters that jieba's own dictionary lacks and its plain cut splits, by count
    frame = "我们看到{}了。"
    new = [w for w, _ in sorted(discovered.words.items(), key=lambda kv: (-kv[1], kv[0]))
           if len(w) > 1 and HAN.fullmatch(w) and not plain.FREQ.get(w) and w not in plain.lcut(frame.format(w))]
    assert len(new) > 1000, new[:20]
    first = new[0]
    assert first not in plain.lcut(frame.format(first)) and first in loaded.lcut(frame.format(first)), (
        first, plain.lcut(frame.format(first)), loaded.lcut(frame.format(first)))
    # most come out whole; the rest are words seen once here, whose count loses to two common words of jieba's
    whole = [w for w in new if w in loaded.lcut(frame.format(w))]
    assert len(whole) > 0.9 * len(new), sorted(set(new) - set(whole))[:20]


def test_words_holding_whitespace_are_left_out_and_reported(tmp_path: Path, discovered):
    path = tmp_path / "jieba_dict.txt"
    skipped = discover_words.save_jieba_dict(path, {"中国": 3, "a b": 2, "人": 5, "x\u3000y": 9, "天\n": 1})
    assert skipped == ["a b", "x\u3000y", "天\n"]
    assert path.read_text(encoding="utf-8") == "人 5\n中国 3\n"
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(path))
    assert tokenizer.FREQ["中国"] == 3 and tokenizer.FREQ["人"] == 5
    m = {**discovered.m, "jieba_dict_skipped": 2, "jieba_skipped_examples": ["a b", "x\u3000y"]}
    summary = discover_words.summary(m, tmp_path)
    assert "jieba_dict.txt leaves out 2 words that hold whitespace" in summary and "'x\\u3000y'" in summary
    assert "jieba_dict.txt leaves out" not in discovered.summary
