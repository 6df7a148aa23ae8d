"""tools/discover_words.py, find_templates.py and parse.py: tiny runs of every config on real text, and bad input."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, run_script

from min_entropy.chinese_text import Corpus
from min_entropy.lexicon import discover, load_lexicon
from min_entropy.segmenter import segmentation_scores
from min_entropy.sentences import char_tokens
from min_entropy.templates import load_templates

CORPORA = sorted(p.stem for p in (REPO / "configs" / "corpus").glob("*.yaml") if p.stem != "text_file")


def only_run(root):
    (run,) = [p for p in root.rglob("metrics.json")]
    return run.parent, json.loads(run.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("corpus", CORPORA)
def test_discover_words_on_every_corpus(corpus, tmp_path):
    r = run_script("tools/discover_words.py", f"corpus={corpus}", "corpus.max_lines=300", "lexicon.min_pmi=3",
                   "progress=false", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    out, m = only_run(tmp_path / "discover_words" / corpus)
    words = load_lexicon(out / "lexicon.tsv")
    assert len(words) == m["lexicon_size"] == m["after_truncation"] - m["removed"] > 100
    assert m["L_words_bits"] < m["L_chars_bits"] and m["peak_rss_mb"] > 0
    if corpus == "peoples_daily":  # from 300 lines: well above one word per character (F1 0.33), far below gold
        pd = Corpus("data/chinese/199801.txt", "peoples_daily", max_lines=300)
        chars = segmentation_scores(pd.gold(), map(char_tokens, pd.lines()))
        assert chars["f1"] + 0.1 < m["f1"] < 0.9 and m["gold_words"] == chars["gold_words"]
    assert "top words:" in r.stdout and f"outputs: {out}/" in r.stdout


@pytest.mark.slow
def test_ngram_pmi_method_and_the_dask_engine(tmp_path):
    """The 2019 method is one config value away; lexicon.engine=dask starts a local cluster and gives the
    same lexicon as counting in this process (the tool's default rule, constant)."""
    r = run_script("tools/discover_words.py", "lexicon=ngram_pmi", "lexicon.min_count=3", "corpus.max_lines=2000",
                   "progress=false", f"runs_root={tmp_path / 'n'}")
    assert r.returncode == 0, r.stderr[-2000:]
    out, m = only_run(tmp_path / "n")
    assert m["method"] == "NgramPMI" and m["min_pmi"] == [2.0, 4.0, 6.0] and 0.5 < m["f1"] < 0.9
    assert len(load_lexicon(out / "lexicon.tsv")) == m["lexicon_size"] > 1000
    r = run_script("tools/discover_words.py", "corpus=sanguo", "lexicon.min_pmi=3", "lexicon.engine=dask",
                   "evaluate=false", "progress=false", f"runs_root={tmp_path / 'dask'}")
    assert r.returncode == 0, r.stderr[-2000:]
    out, m = only_run(tmp_path / "dask")
    assert m["engine"] == "dask"
    assert load_lexicon(out / "lexicon.tsv") == discover(Corpus("data/chinese/sanguo.txt"), min_pmi=3.0).words


@pytest.mark.slow
def test_templates_from_a_discovered_lexicon_then_parse(tmp_path):
    r = run_script("tools/discover_words.py", "corpus.max_lines=500", "progress=false", "write_segmented=true",
                   f"runs_root={tmp_path / 'd'}")
    assert r.returncode == 0, r.stderr[-2000:]
    lexicon_dir, _ = only_run(tmp_path / "d")
    segmented = (lexicon_dir / "segmented.txt").read_text(encoding="utf-8").splitlines()
    assert len(segmented) == 500 and " " in segmented[0]
    r = run_script("tools/find_templates.py", "corpus.max_lines=500", "tokens=lexicon", "progress=false",
                   f"lexicon_path={lexicon_dir / 'lexicon.tsv'}", "templates.min_pmi=1", f"runs_root={tmp_path / 't'}")
    assert r.returncode == 0, r.stderr[-2000:]
    tdir, m = only_run(tmp_path / "t")
    assert len(load_templates(tdir / "templates.tsv")) == m["templates"] > 10 and m["tokens"] == "lexicon"
    r = run_script("tools/parse.py", f"templates={tdir}", 'sentences=["中国人民的生活水平，不断提高"]',
                   f"runs_root={tmp_path / 'p'}")
    assert r.returncode == 0, r.stderr[-2000:]
    (parses,) = (tmp_path / "p").rglob("parses.tsv")
    rows = parses.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and rows[1].split("\t")[1] == "0" and rows[2].split("\t")[1] == "1"  # two clauses


@pytest.mark.slow
@pytest.mark.parametrize("tokenizer", ["gold", "chars"])
def test_find_templates_gold_and_chars(tokenizer, tmp_path):
    r = run_script("tools/find_templates.py", "corpus.max_lines=2000", f"tokens={tokenizer}", "progress=false",
                   "top=5", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    out, m = only_run(tmp_path)
    assert len(m["top"]) == 5 and m["top"][0][1] >= m["top"][-1][1] and m["strong_skip_grams"] > 0
    trees = (out / "parses.txt").read_text(encoding="utf-8")
    assert "鸡蛋" in trees and "吗" in trees
    if tokenizer == "gold":
        assert m["top"][0][0] == "[X]的[X]"
    assert load_lexicon(out / "words.tsv")


@pytest.mark.slow
def test_own_text_file_and_a_sweep_going_on(tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("我们去公园散步，我们去商店买菜。\n他们去公园散步，他们去学校上课。\n" * 20, encoding="utf-8")
    r = run_script("tools/discover_words.py", "-m", "corpus=text_file", f"corpus.path={own}", "lexicon.min_pmi=2.5,abc",
                   "progress=false", f"runs_root={tmp_path / 'runs'}")
    assert r.returncode == 0 and "lexicon.min_pmi must be a number (nats), got 'abc'" in r.stderr, r.stderr[-2000:]
    _, m = only_run(tmp_path / "runs")
    assert m["lexicon_size"] == 7 and "f1" not in m  # 我 他 们 去 公园散步 商店买菜 学校上课; no gold


@pytest.mark.slow
@pytest.mark.parametrize("tool, override, words", [
    ("discover_words", "lexicon.min_prob=2", "lexicon.min_prob must be a probability in (0, 1)"),
    ("discover_words", "lexicon.rule=post", "lexicon.rule='post' is not one of constant, length"),
    ("discover_words", "corpus=text_file", "corpus.path has no value"),
    ("discover_words", "corpus.path=/no/such.txt", "corpus file /no/such.txt does not exist"),
    ("discover_words", "corpus.format=csv", "corpus.format='csv' is not one of"),
    ("find_templates", "corpus=sanguo", "tokens=gold needs a segmented corpus"),
    ("find_templates", "tokens=lexicon", "tokens=lexicon needs lexicon_path"),
    ("find_templates", "templates.window=0", "templates.window must be an integer >= 1"),
    ("parse", "templates=/no/such", "template file /no/such does not exist"),
    ("parse", "null_score=-5", "templates has no value: give templates="),
    ("discover_words", "evaluate=maybe", "evaluate must be true or false"),
    ("discover_words", "corpus.path=/tmp", "corpus.path=/tmp is a folder"),
    ("find_templates", "tokens=words", "tokens='words' is not one of gold, lexicon, chars"),
    ("discover_words", "+lexicon.min_pmii=3", "lexicon.min_pmii is not a setting of min_entropy.pair_pmi.PairPMI"),
    ("discover_words", "lexicon=ngram_pmi lexicon.min_pmi=[1,2]", "lexicon.min_pmi must list 3 numbers"),
    ("discover_words", "lexicon.engine=spark", "lexicon.engine='spark' is not one of local, dask"),
    ("discover_words", "lexicon.engine=dask lexicon.partitions=-2", "lexicon.partitions must be an integer >= 1 or null"),
    ("parse", "+sentence=x", "unknown config key sentence: nothing reads it"),
    ("find_templates", "+corpus.encoding=gbk", "corpus.encoding is not a setting of min_entropy.chinese_text.Corpus"),
])
def test_bad_input_is_one_line(tool, override, words, tmp_path):
    r = run_script(f"tools/{tool}.py", *override.split(), "progress=false" if tool != "parse" else "file=null",
                   f"runs_root={tmp_path}")
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]


@pytest.mark.slow
def test_parse_input_forms(tmp_path):
    r = run_script("tools/find_templates.py", "corpus.max_lines=2000", "progress=false", "examples=null",
                   f"runs_root={tmp_path / 't'}")
    assert r.returncode == 0, r.stderr[-2000:]
    (tdir,) = (tmp_path / "t" / "find_templates" / "peoples_daily").iterdir()
    r = run_script("tools/parse.py", f"templates={tdir}", 'sentences="我们的生活"', f"runs_root={tmp_path / 'p'}")
    assert r.returncode == 0 and r.stdout.startswith("我们的生活"), r.stderr[-2000:]  # one sentence, not 5 characters
    text = tmp_path / "s.txt"
    text.write_text("我们的生活\n" + "的" * 120 + "\n", encoding="utf-8")
    r = run_script("tools/parse.py", f"templates={tdir}", f"file={text}", f"runs_root={tmp_path / 'p'}")
    assert r.returncode == 2 and "a clause of 120 words is longer than max_words=100" in r.stderr
    for args in (["max_words=200"], ["max_words=200"]):  # two runs in the same second get two folders
        r = run_script("tools/parse.py", f"templates={tdir}", f"file={text}", *args, f"runs_root={tmp_path / 'q'}")
        assert r.returncode == 0, r.stderr[-2000:]
    assert len(list((tmp_path / "q" / "parse").iterdir())) == 2
