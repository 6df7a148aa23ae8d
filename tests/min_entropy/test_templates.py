"""Sentence templates and the nested-template parser (kexue.fm/archives/5577) on hand-built inputs."""

from __future__ import annotations

import math
import random

import pytest

from engine.errors import ConfigError, ProjectError
from min_entropy.hash_table import Table
from min_entropy.template_reference import (
    count_skip_grams,
    find_templates_reference,
    sentence_templates,
    strong_skip_grams,
)
from min_entropy.templates import (
    Parser,
    TemplateTrie,
    find_templates,
    is_trivial,
    load_templates,
    make_template,
    parse_template,
    save_templates,
    split_clauses,
    template_str,
)

X = None


def test_template_notation_and_collapsing():
    t = make_template([X, X, "的", X, X])
    assert t == (X, "的", X) and template_str(t) == "[X]的[X]" and is_trivial(t)
    assert parse_template("[X] 是 什么 意思") == (X, "是", "什么", "意思") and parse_template("[X]吗") == (X, "吗")
    assert not is_trivial((X, "吗")) and not is_trivial((X, "是", X, "吗"))
    assert list(split_clauses(["我", "，", "你", "好", "！", "？"])) == [["我"], ["你", "好"]]


def test_skip_gram_counts_and_pmi_by_hand():
    sents = [["a", "b", "c"], ["a", "c"]]
    words, grams = count_skip_grams(sents, window=1)
    assert words == {"a": 2, "b": 1, "c": 2} and grams == {("a", "b"): 1, ("b", "c"): 1, ("a", "c"): 1}
    words, grams = count_skip_grams(sents, window=2)
    assert grams == {("a", "b"): 1, ("b", "c"): 1, ("a", "c"): 2}
    # window 2: p(a,c) = 2/4 over p_a p_c = (2/5)^2: PMI ln 3.125 = 1.14; p(a,b) = 1/4 over 2/25: ln 3.125 too
    assert strong_skip_grams(words, grams, 1e-5, 1.0) == {("a", "b"), ("b", "c"), ("a", "c")}
    assert strong_skip_grams(words, grams, 0.3, 1.0) == {("a", "c")}
    assert strong_skip_grams(words, grams, 1e-5, 1.2) == set()


def test_templates_of_one_sentence_are_its_maximal_paths():
    ws = ["我", "的", "苹果", "是", "什么", "呢"]
    strong = {("的", "是"), ("是", "呢"), ("是", "什么"), ("什么", "呢")}
    got = sorted(template_str(t) for t in sentence_templates(ws, strong, window=5))
    # paths: 的->是->呢, 的->是->什么->呢, and the isolated 我 and 苹果
    assert got == sorted(["[X]的[X]是[X]呢", "[X]的[X]是什么呢", "我[X]", "[X]苹果[X]"])
    # a window of 1 keeps only adjacent edges: 是->什么->呢; 的 becomes isolated
    got = sorted(template_str(t) for t in sentence_templates(ws, strong, window=1))
    assert got == sorted(["[X]是什么呢", "我[X]", "[X]的[X]", "[X]苹果[X]"])


def test_find_templates_counts_and_cut():
    # window 1: every pair has PMI ln((2/8) / (4/12)^2) = ln 2.25 = 0.81 < 1, so every word is isolated
    sents = [["x", "和", "y"], ["y", "和", "x"], ["x", "和", "x"], ["y", "和", "y"]]
    found = find_templates(sents, window=1, min_prob=1e-5, min_pmi=1.0)
    assert found.num_strong == 0 and found.num_skip_grams == 4
    assert found.templates == {(X, "和", X): 4, ("x", X): 2, ("y", X): 2, (X, "x"): 2, (X, "y"): 2}
    assert find_templates(sents, 1, min_prob=0.2, min_pmi=1.0).templates == {(X, "和", X): 4}  # 2/12 < 0.2 < 4/12
    joined = find_templates(sents, window=1, min_prob=1e-5, min_pmi=0.5)  # now every adjacent pair is strong
    assert joined.templates == {("x", "和", "y"): 1, ("y", "和", "x"): 1, ("x", "和", "x"): 1, ("y", "和", "y"): 1}
    with pytest.raises(ConfigError, match="templates.window"):
        find_templates(sents, window=0)


def assert_same_stats(fast, ref):
    assert fast.templates == ref.templates and list(fast.templates) == list(ref.templates)  # same first-seen order
    assert fast.word_counts == ref.word_counts and list(fast.word_counts) == list(ref.word_counts)
    for name in ("num_words", "num_skip_grams", "num_strong", "num_templates_before_cut", "num_clauses", "num_skipped"):
        assert getattr(fast, name) == getattr(ref, name), name


@pytest.mark.parametrize("seed", range(40))
def test_compiled_miner_equals_the_plain_python_one(seed):
    """Random clauses over a small vocabulary (many strong pairs, long DAGs, exact cut ties) at random settings."""
    rng = random.Random(seed)
    vocab = [f"w{k}" for k in range(rng.randint(1, 12))] + ["的", "和"]
    weights = [rng.random() ** 3 for _ in vocab]
    sents = [rng.choices(vocab, weights, k=rng.choice([0, 1, 2, rng.randint(3, 30)])) for _ in range(rng.randint(1, 60))]
    window = rng.randint(1, 7)
    min_prob = rng.choice([1e-5, 1e-3, 0.01, 0.05])
    min_pmi = rng.choice([-1.0, 0.0, 0.3, 1.0, 2.0])
    max_paths = rng.choice([3, 50, 300])
    fast = find_templates(sents, window, min_prob, min_pmi, max_paths)
    assert_same_stats(fast, find_templates_reference(sents, window, min_prob, min_pmi, max_paths))


def test_compiled_miner_grows_its_trie(monkeypatch):
    """Thousands of distinct long templates: the trie (1,024 entries at first) must grow, mid-corpus."""
    grown = []
    monkeypatch.setattr(Table, "reserve", lambda self, extra, orig=Table.reserve: grown.append(extra) or orig(self, extra))
    rng = random.Random(7)
    vocab = [f"w{k}" for k in range(300)]
    sents = [rng.choices(vocab, k=rng.randint(2, 12)) for _ in range(400)]
    fast = find_templates(sents, window=2, min_prob=1e-5, min_pmi=-9.0)  # every skip-gram strong
    assert len(grown) > 2 and fast.num_templates_before_cut > 300
    assert_same_stats(fast, find_templates_reference(sents, window=2, min_prob=1e-5, min_pmi=-9.0))


def test_compiled_miner_edge_cases():
    for sents in ([], [[]], [[], ["a"]], [["a", "a", "a"]], [["a"], ["b"]]):
        assert_same_stats(find_templates(sents, 2, 1e-5, 0.0), find_templates_reference(sents, 2, 1e-5, 0.0))
    skipped = find_templates([["a", "b"] * 20], window=3, min_pmi=-5.0, max_paths=10)
    assert skipped.num_skipped == 1 and skipped.templates == {}
    with pytest.raises(TypeError, match="pass a list"):
        find_templates(iter([["a"]]))


def test_trie_placeholders_match_one_or_more_words():
    trie = TemplateTrie({(X, "和", X): 5, ("苹果", X): 2, (X, "吗"): 1})
    m = trie.matches(["雪梨", "和", "苹果", "和", "香蕉"])
    assert sorted(m) == [(0, 3), (0, 4), (0, 5), (1, 5), (2, 4), (2, 5)]  # a placeholder takes >= 1 word
    assert sorted(m[0, 5]) == [((1,), 5), ((3,), 5)] and m[0, 4] == [((1,), 5)]
    assert sorted(m[2, 5]) == [((2,), 2), ((3,), 5)] and m[1, 5] == [((3,), 5)]


def test_parser_nests_x_and_x():
    table = {(X, "和", X): 4, (X, "的", X): 3, (X, "是", "什么", "呢"): 3}  # log-probabilities ln .4, ln .3, ln .3
    tree = Parser(table).parse(["雪梨", "和", "苹果", "和", "香蕉", "的", "颜色", "是", "什么", "呢"])
    assert tree.bracketed() == "[[[[雪梨]和[苹果]]和[香蕉]]的[颜色]]是什么呢"
    assert tree.score == pytest.approx(2 * math.log(0.3) + 2 * math.log(0.4))
    lines = tree.render().splitlines()
    assert lines[0] == "雪梨和苹果和香蕉的颜色是什么呢    [X]是什么呢" and lines[-1].endswith("└── 颜色")
    assert lines[1] == "└── 雪梨和苹果和香蕉的颜色    [X]的[X]"


def test_parser_prefers_higher_probability_and_uses_null_score():
    parser = Parser({(X, "的", X): 1, (X, "的", "颜色"): 9}, null_score=-20.0)
    tree = parser.parse(["苹果", "的", "颜色"])
    assert tree.template == (X, "的", "颜色") and tree.score == pytest.approx(math.log(0.9))
    loose = parser.parse(["苹果", "红", "了"])  # no template matches: one flat block, -20 per extra word
    assert loose.template == ("苹果", "红", "了") and loose.score == -40.0 and not loose.children
    tie = Parser({(X, "的", X): 5, ("苹果", "的", X): 5}).parse(["苹果", "的", "颜色"])
    assert tie.template == ("苹果", "的", X)  # equal scores: more template words win
    flat = Parser({(X, "和", X): 5, (X, "和", X, "和", X): 5}).parse(["A", "和", "B", "和", "C"])
    assert flat.template == (X, "和", X, "和", X)  # ln .5 beats the nested 2 ln .5


def all_scores(ws, s, e, matches, null_score, log_total):
    """Every total score of every parse of ws[s:e] (brute force, no memo)."""
    if (s, e) not in matches:
        return [null_score * (e - s - 1)]
    out = []
    for hits, count in matches[s, e]:
        combos = [math.log(count) - log_total]
        marks = (s - 1, *hits, e)
        for a, b in zip(marks, marks[1:]):
            if b - a > 1:
                combos = [x + y for x in combos for y in all_scores(ws, a + 1, b, matches, null_score, log_total)]
        out.extend(combos)
    return out


@pytest.mark.parametrize("seed", range(25))
def test_parser_finds_the_best_parse_among_all(seed):
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "和", "的"]
    table = {}
    for _ in range(8):
        body = [rng.choice(vocab + [X]) for _ in range(rng.randint(1, 4))]
        t = make_template(body)
        if any(w is not None for w in t):
            table[t] = rng.randint(1, 20)
    parser = Parser(table, null_score=-3.0)
    for _ in range(5):
        ws = [rng.choice(vocab) for _ in range(rng.randint(1, 7))]
        tree = parser.parse(ws)
        best = max(all_scores(ws, 0, len(ws), parser.trie.matches(ws), -3.0, parser.log_total))
        assert tree.score == pytest.approx(best, abs=1e-9)


def test_template_files_round_trip(tmp_path):
    table = {(X, "是", "什么", "意思"): 7, (X, "吗"): 9}
    save_templates(tmp_path / "t.tsv", table)
    assert load_templates(tmp_path / "t.tsv") == table
    (tmp_path / "bad.tsv").write_text("template\tcount\n[X] 吗\tmany\n", encoding="utf-8")
    with pytest.raises(ProjectError, match="bad.tsv:2"):
        load_templates(tmp_path / "bad.tsv")


def test_bad_template_tables_and_unmatched_blocks(tmp_path):
    for body in ("[X]\t5\n", "[X] 的 [X]\t-4\n", "[X] 的 [X]\t0\n"):
        (tmp_path / "t.tsv").write_text(body, encoding="utf-8")
        with pytest.raises(ProjectError, match="at least one word and a positive count"):
            load_templates(tmp_path / "t.tsv")
    (tmp_path / "t.tsv").write_text("template\tcount\n[X] 吗\t3\n\n", encoding="utf-8")
    assert load_templates(tmp_path / "t.tsv") == {(X, "吗"): 3}  # blank lines are skipped
    (tmp_path / "gbk.tsv").write_bytes("[X] 吗\t3\n".encode("gb18030"))
    with pytest.raises(ProjectError, match="gbk.tsv:1 is not UTF-8"):
        load_templates(tmp_path / "gbk.tsv")
    with pytest.raises(ConfigError, match="at least one word"):
        Parser({(X,): 5})
    tree = Parser({(X, "吗"): 1}).parse(["鸡蛋", "可以"])
    assert not tree.matched and tree.render() == "鸡蛋可以    (no template)" and str(tree.score) == "-20.0"
    assert str(Parser({(X, "吗"): 1}).parse(["鸡蛋"]).score) == "0.0"
