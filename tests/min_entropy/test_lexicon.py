"""Minimum-entropy lexicon (kexue.fm/archives/5476): the post's algebra, hand-worked passes (on the plain-Python
reference), the segmenter, and the lexicons of two small real corpora pinned."""

from __future__ import annotations

import hashlib
import itertools
import math
import random

import pytest

from engine.errors import ConfigError, DataMissingError, ProjectError
from min_entropy.chinese_text import Corpus, chunks, pieces
from min_entropy.lexicon import discover, information_per_char, load_lexicon, merge_gain, merge_gain_approx, save_lexicon
from min_entropy.reference import count_ngrams, cut_candidates, pair_pmi, remove_redundant, strong_pairs, truncate
from min_entropy.segmenter import Segmenter, segmentation_scores
from min_entropy.tokenizer import WordTokenizer

HAN = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往"


def random_units(rng: random.Random, k: int) -> dict[str, int]:
    """k distinct units of 1-3 characters with random counts."""
    units: dict[str, int] = {}
    while len(units) < k:
        units["".join(rng.choices(HAN, k=rng.randint(1, 3)))] = rng.randint(5, 500)
    return units


@pytest.mark.parametrize("seed", range(20))
def test_merging_lowers_L_by_exactly_F_over_l(seed):
    """Eq. 2.11: merge all N_ab co-occurrences of a, b into one new unit; L (nats/char) changes by -F_ab / l."""
    rng = random.Random(seed)
    counts = random_units(rng, rng.randint(3, 12))
    # a pair whose merged unit is new (otherwise it would not be a merge of two units into a third)
    pairs = list(itertools.permutations(sorted(counts), 2))
    rng.shuffle(pairs)
    a, b = next((a, b) for a, b in pairs if a + b not in counts)
    n_ab = rng.randint(1, min(counts[a], counts[b]))
    total = sum(counts.values())
    l_mean = sum(n * len(w) for w, n in counts.items()) / total
    merged = dict(counts)
    merged[a] -= n_ab
    merged[b] -= n_ab
    merged[a + b] = n_ab
    merged = {w: n for w, n in merged.items() if n}
    delta = information_per_char(merged, math.e) - information_per_char(counts, math.e)
    f = merge_gain(counts[a] / total, counts[b] / total, n_ab / total)
    assert delta == pytest.approx(-f / l_mean, rel=1e-9, abs=1e-13)
    assert merge_gain_approx(counts[a] / total, counts[b] / total, n_ab / total) <= f  # eq. 2.15: F* <= F


@pytest.mark.parametrize("seed", range(200))
def test_approximation_is_a_lower_bound_with_the_stated_next_term(seed):
    rng = random.Random(seed)
    p_a, p_b = rng.uniform(1e-4, 0.4), rng.uniform(1e-4, 0.4)
    p_ab = rng.uniform(0, 1) * min(p_a, p_b)
    assert merge_gain_approx(p_a, p_b, p_ab) <= merge_gain(p_a, p_b, p_ab) + 1e-15
    tiny = 1e-4 * min(p_a, p_b)  # F - F* = (1/p_a + 1/p_b - 1) p_ab^2 / 2 + O(p_ab^3)
    gap = merge_gain(p_a, p_b, tiny) - merge_gain_approx(p_a, p_b, tiny)
    assert gap == pytest.approx(0.5 * (1 / p_a + 1 / p_b - 1) * tiny**2, rel=1e-3)


def test_information_per_char_by_hand():
    # tokens 甲 x2, 乙, 丙: 2*1 + 2 + 2 = 6 bits over 4 characters; as words 甲甲 + 乙丙: 2 bits over 4
    assert information_per_char({"甲": 2, "乙": 1, "丙": 1}) == pytest.approx(1.5)
    assert information_per_char({"甲甲": 1, "乙丙": 1}) == pytest.approx(0.5)


# chunks 甲乙甲乙丙 / 丙丁 (the full stop splits): 甲2 乙2 丙2 丁1 = 7 characters;
# pairs 甲乙2 乙甲1 乙丙1 丙丁1 = 5. PMI: 甲乙 = ln(0.4 / (2/7)^2) = ln 4.9; 乙甲 = 乙丙 = ln 2.45; 丙丁 = ln 4.9.
TEXT = ["甲乙甲乙丙。丙丁", ""]


def test_counts_pmi_cut_and_truncation_by_hand():
    counts = count_ngrams(TEXT)
    assert counts.chars == {"甲": 2, "乙": 2, "丙": 2, "丁": 1}
    assert counts.pairs == {"甲乙": 2, "乙甲": 1, "乙丙": 1, "丙丁": 1}
    pmi = pair_pmi(counts)
    assert pmi["甲乙"] == pytest.approx((math.log(0.4), math.log(4.9)))
    assert pmi["乙丙"][1] == pytest.approx(math.log(2.45)) and pmi["丙丁"][1] == pytest.approx(math.log(4.9))
    assert strong_pairs(counts, 1e-7, 1.0) == {"甲乙", "丙丁"}  # ln 2.45 = 0.90 < 1: cut
    assert strong_pairs(counts, 0.3, 1.0) == {"甲乙"}  # p(丙丁) = 0.2 < 0.3: cut
    assert strong_pairs(counts, 1e-7, 0.5) == {"甲乙", "乙甲", "乙丙", "丙丁"}
    candidates = cut_candidates(TEXT, {"甲乙", "丙丁"})
    assert candidates == {"甲乙": 2, "丙": 1, "丙丁": 1}
    assert truncate(candidates, 0.3) == {"甲乙": 2}  # frequency must exceed 0.3: 2/4 does, 1/4 does not
    assert truncate(candidates, 0.2) == candidates


def test_de_redundancy_by_hand_and_the_two_rules():
    # 甲乙 (1 of 21): gain ln(1/21) - 2 ln(10/21) = ln 0.21 < 1: removed, its count goes to 甲 and 乙
    words, gains, removed = remove_redundant({"甲": 10, "乙": 10, "甲乙": 1})
    assert words == {"甲": 11, "乙": 11} and removed == [("甲乙", pytest.approx(math.log(0.21)))]
    # 甲乙丙 (2 of 17): gain ln(2 * 17^2 / 5^3) = 1.53: kept by the post's 1, removed by len - 1 = 2
    lex = {"甲": 5, "乙": 5, "丙": 5, "甲乙丙": 2}
    words, gains, removed = remove_redundant(lex, rule="constant")
    assert words == lex and gains == {"甲乙丙": pytest.approx(math.log(2 * 17**2 / 125))} and not removed
    words, gains, removed = remove_redundant(lex, rule="length")
    assert words == {"甲": 7, "乙": 7, "丙": 7} and [w for w, _ in removed] == ["甲乙丙"]
    # longest first: 甲乙丙 is judged with 甲乙 still in the lexicon, then 甲乙 with the counts 甲乙丙 left
    words, _, removed = remove_redundant({"甲乙丙": 1, "甲乙": 30, "丙": 30, "甲": 1, "乙": 1})
    assert [w for w, _ in removed] == ["甲乙丙"] and words["甲乙"] == 31 and words["丙"] == 31
    with pytest.raises(ConfigError, match="lexicon.rule='post' is not one of"):
        remove_redundant(lex, rule="post")


def test_tokenize_keeps_punctuation_runs_and_drops_spaces():
    assert list(pieces("１９９８年，ＡＢ c——好……")) == [
        ("１９９８年", True), ("，", False), ("ＡＢ", True), ("c", True), ("——", False), ("好", True), ("……", False)]
    assert chunks("（新华社记者）") == ["新华社记者"]
    seg = Segmenter({"我们": 5, "公园": 3, "去": 2})
    assert seg.tokenize("我们去 公园！！") == ["我们", "去", "公园", "！！"]


def test_precision_recall_f1_by_hand():
    # gold spans (0,2) (2,3) (3,5); predicted (0,1) (1,2) (2,3) (3,5): 2 right
    s = segmentation_scores([["我们", "去", "公园"]], [["我", "们", "去", "公园"]])
    assert (s["precision"], s["recall"]) == (0.5, pytest.approx(2 / 3))
    assert s["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    with pytest.raises(ValueError, match="line 1"):
        segmentation_scores([["我们"]], [["我", "门"]])


def test_discover_end_to_end_on_a_repetitive_text():
    lines = ["我们去公园散步，我们去商店买菜。", "他们去公园散步，他们去学校上课。"] * 30 + ["公园"]
    # PMI ln 8.2 = 2.10 for 我们 们去 去公 他们 去商 去学; ln 16.1 = 2.78 and more for 公园 园散 散步 商店 ...
    found = discover(lines, min_prob=1e-7, min_pmi=2.5)
    expected = {"我": 60, "他": 60, "们": 120, "去": 120, "公园散步": 60, "商店买菜": 30, "学校上课": 30, "公园": 1}
    assert found.num_candidates == len(expected) and not found.removed  # sub-words are unknown: gains near 100
    assert found.words == expected and found.seconds["total"] > 0
    assert Segmenter(found.words).tokenize(lines[0]) == ["我", "们", "去", "公园散步", "，", "我", "们", "去", "商店买菜", "。"]
    assert len(discover(lines, min_prob=1e-7, min_pmi=2.0).words) == 5  # every pair strong: whole clauses
    with pytest.raises(TypeError, match="not an iterator"):
        discover(iter(lines))


def test_lexicon_files_round_trip_and_malformed_lines(tmp_path):
    path = tmp_path / "lexicon.tsv"
    save_lexicon(path, {"公园": 3, "我": 5}, {"公园": 2.5})
    assert path.read_text(encoding="utf-8").splitlines()[1].startswith("我\t5\t")
    assert load_lexicon(path) == {"公园": 3, "我": 5}
    (tmp_path / "bad.tsv").write_text("公园 3\n我 many\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"bad.tsv:2: expected 'word<TAB>count'"):
        load_lexicon(tmp_path / "bad.tsv")
    with pytest.raises(ProjectError, match="discover_words.py"):
        load_lexicon(tmp_path / "none.tsv")
    tok = WordTokenizer.from_file(path, vocab_size=3)
    assert tok.itos == ["<pad>", "<unk>", "我"] and tok.encode("我公园") == [2, 1]
    assert tok.decode([2, 0]) == ["我", "<pad>"]
    with pytest.raises(IndexError, match="token id -1 is outside"):
        tok.decode([-1])
    with pytest.raises(ConfigError, match="tokenizer.min_count must be an integer"):
        WordTokenizer({"我": 1}, min_count="x")
    assert WordTokenizer({"我": 1, "公园": 1}, keep_punctuation=False).tokenize("我，公园") == ["我", "公园"]


def test_corpus_reader_errors(tmp_path):
    with pytest.raises(DataMissingError, match="make data"):
        Corpus("data/chinese/nope.txt", "peoples_daily")
    bad = tmp_path / "pd.txt"
    bad.write_text("迈向/v  充满/v\n希望 的/u\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"pd.txt:2: token '希望' is not word/POS"):
        list(Corpus(str(bad), "peoples_daily").gold())
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("中文".encode("gb18030"))
    with pytest.raises(ProjectError, match="not UTF-8"):
        list(Corpus(str(gbk)).lines())
    with pytest.raises(ConfigError, match="corpus.format='csv'"):
        Corpus(str(gbk), "csv")
    seg = tmp_path / "seg.txt"
    seg.write_text("我们 去 公园\n\n他 来\n", encoding="utf-8")
    c = Corpus(str(seg), "segmented", max_lines=1)
    assert list(c.lines()) == ["我们去公园"] and list(c.gold()) == [["我们", "去", "公园"]]


def test_degenerate_corpora_and_the_length_guard(tmp_path):
    found = discover(["我 爱 你", "中"])  # no chunk has two characters: no pairs at all
    assert found.words == {"我": 1, "爱": 1, "你": 1, "中": 1} and found.num_pairs == 0
    assert information_per_char({"中": 3}) == 0.0 and str(information_per_char({"中": 3})) == "0.0"
    long_line = ["甲乙丙丁" * 50, "甲乙"]  # one 200-character run: every pair is strong
    assert discover(long_line, max_len=64).words == {"甲乙": 1}
    assert "甲乙丙丁" * 50 in discover(long_line, max_len=None).words


def test_lexicon_and_corpus_files_in_other_encodings_and_folders(tmp_path):
    (tmp_path / "run").mkdir()
    save_lexicon(tmp_path / "run" / "lexicon.tsv", {"公园": 3})
    assert load_lexicon(tmp_path / "run") == {"公园": 3}  # a discover_words run folder
    (tmp_path / "bom.tsv").write_bytes("\ufeffword\tcount\n公园\t3\n".encode())
    assert load_lexicon(tmp_path / "bom.tsv") == {"公园": 3}
    (tmp_path / "gbk.tsv").write_bytes("公园\t3\n".encode() + "我们\t2\n".encode("gb18030"))
    with pytest.raises(ProjectError, match=r"gbk.tsv:2 is not UTF-8"):
        load_lexicon(tmp_path / "gbk.tsv")
    with pytest.raises(ConfigError, match="is a folder"):
        Corpus(str(tmp_path))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Lexicons of the first 300 lines of Sanguo and 2,000 of People's Daily, made with the plain-Python code
# (min_entropy/reference.py, commit 4ecbba7) before the compiled path: size, sha256 of the sorted
# "word<TAB>count" lines, of the removed words with their gains (9 decimals), of the segmented lines.
PINS = [
    ("sanguo300 1e-07 1 length", 17166, "f613df42035f7bcb", "956bc2866866e02c", "a4a8e0b389a2e1b8"),
    ("sanguo300 1e-07 1 constant", 17173, "46d3bd5135d80524", "e3b0c44298fc1c14", "78ae2b9debf64bb9"),
    ("sanguo300 1e-07 3 length", 12855, "28348599277936e6", "1d613536119f41e0", "a79a9e1fa585417e"),
    ("sanguo300 1e-07 3 constant", 12866, "05fdf26eeb13bc9a", "e3b0c44298fc1c14", "5d65a3eec6063125"),
    ("peoples_daily2000 1e-07 1 length", 24341, "4510a3dc03dc8055", "b88370fa6a98fc37", "46c5e9390fdbfcbf"),
    ("peoples_daily2000 1e-07 1 constant", 24614, "5231d7fb5e0873c0", "7b8f13ca7d4dceb3", "6279db7025975d39"),
    ("peoples_daily2000 1e-07 3 length", 16454, "ab10de913f1967c7", "43d64e024be74ba4", "d93c417d5a500b79"),
    ("peoples_daily2000 1e-07 3 constant", 16503, "82b0d74d11bc4afb", "68177df75fce5c4f", "c371ec96d1552d14"),
]


@pytest.mark.parametrize("key, size, lexicon, removed, segmented", PINS)
def test_lexicon_is_pinned_on_real_text(key, size, lexicon, removed, segmented):
    name, min_prob, min_pmi, rule = key.split()
    corpus = (Corpus("data/chinese/sanguo.txt", "text", max_lines=300) if name == "sanguo300"
              else Corpus("data/chinese/199801.txt", "peoples_daily", max_lines=2000))
    lines = list(corpus.lines())
    found = discover(corpus, float(min_prob), float(min_pmi), rule)  # streamed from the file
    assert len(found.words) == size
    assert digest("\n".join(f"{w}\t{c}" for w, c in sorted(found.words.items()))) == lexicon
    assert digest("\n".join(f"{w}\t{g:.9f}" for w, g in found.removed)) == removed
    assert digest("\n".join(" ".join(words) for words in Segmenter(found.words).tokenize_lines(lines))) == segmented
