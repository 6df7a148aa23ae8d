"""The bakeoff scorer against the SIGHAN bakeoff's own script, on the PKU test set.

``PINNED`` holds what the bakeoff's Perl script (``perl score pku_training_words.utf8
pku_test_gold.utf8 PREDICTED``, with GNU diffutils 3.8's ``diff``) printed on 2026-12-07 for four
prediction files that the test rebuilds from the gold words: every character alone, every two gold words
joined, the text cut every two characters, and forward maximum matching with the training word list
(words of up to four characters). Counts: gold words, predicted words, unchanged words (gold words minus
its deletions and substitutions); rates as the script rounds them. On the first and third files
diff's heuristic (``confusing``) loses 1,729 and 52 matches that a longest common subsequence would keep:
the scorer must lose them too.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from engine.errors import DataMissingError, ProjectError
from min_entropy.bakeoff_scorer import _lcs, confusing, lcs_pairs, score_files, score_lines, words_of

PKU = Path(__file__).resolve().parents[2] / "datasets/files/sighan2005_pku"
WORDS, GOLD = PKU / "pku_training_words.utf8", PKU / "pku_test_gold.utf8"

PINNED = {  # predicted words, unchanged words, recall, precision, F, OOV recall (gold words: 104,372; OOV rate 0.058)
    "chars": (172733, 45761, "0.438", "0.265", "0.330", "0.069"),
    "pairs": (52686, 1008, "0.010", "0.019", "0.013", "0.002"),
    "bigrams": (86865, 26056, "0.250", "0.300", "0.272", "0.240"),
    "max_match": (112581, 94604, "0.906", "0.840", "0.872", "0.069"),
}


def _max_match(words: list[str], vocabulary: set[str]) -> list[str]:
    text, out, i = "".join(words), [], 0
    while i < len(text):
        k = next(k for k in range(min(4, len(text) - i), 0, -1) if k == 1 or text[i:i + k] in vocabulary)
        out.append(text[i:i + k])
        i += k
    return out


def _predict(name: str, words: list[str], vocabulary: set[str]) -> list[str]:
    text = "".join(words)
    if name == "chars":
        return list(text)
    if name == "pairs":
        return ["".join(words[k:k + 2]) for k in range(0, len(words), 2)]
    if name == "bigrams":
        return [text[k:k + 2] for k in range(0, len(text), 2)]
    return _max_match(words, vocabulary)


@pytest.mark.parametrize("name", list(PINNED))
def test_equals_the_bakeoff_script(name: str, tmp_path: Path) -> None:
    vocabulary = {line.strip() for line in WORDS.read_text(encoding="utf-8").splitlines()} - {""}
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    pred = tmp_path / "pred.txt"
    pred.write_text("".join("  ".join(_predict(name, words_of(g), vocabulary)) + "\n" for g in lines), encoding="utf-8")
    s = score_files(WORDS, GOLD, pred)
    n_pred, correct, recall, precision, f1, oov_recall = PINNED[name]
    assert (s.gold_words, s.predicted_words, s.correct_words) == (104372, n_pred, correct)
    assert [f"{x:.3f}" for x in (s.recall, s.precision, s.f1, s.oov_rate, s.oov_recall)] == [
        recall, precision, f1, "0.058", oov_recall]


def test_lcs_is_a_longest_common_subsequence() -> None:
    """Against brute force over all subsequences, on short random word lists."""
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 7))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 7))]
        pairs = _lcs(a, b)
        assert all(a[i] == b[j] for i, j in pairs)
        assert all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in zip(pairs, pairs[1:]))
        best = max((k for k in range(len(a) + 1) for sub in itertools.combinations(a, k)
                    if _is_subsequence(sub, b)), default=0)
        assert len(pairs) == best


def _is_subsequence(sub: tuple[str, ...], seq: list[str]) -> bool:
    it = iter(seq)
    return all(x in it for x in sub)


def test_words_are_compared_as_strings_not_spans() -> None:
    # gold spans (0,1) (1,4) (4,5); predicted (0,2) (2,3) (3,4) (4,5): one span matches, two words as strings
    assert len(lcs_pairs(["a", "bab", "a"], ["ab", "a", "b", "a"])) == 2


def test_confusing_words() -> None:
    assert confusing(["x", "a", "y"], ["a", "b"]) == [True, False, True]  # words the other line lacks
    # a word the other line holds many times is set aside only inside a run bounded by lacking words
    many = ["的"] * 6
    assert confusing(["的"], many) == [False]
    assert confusing(["x", "y", "z", "的", "u", "v", "w"], many) == [True, True, True, True, True, True, True]


def test_score_lines_rates() -> None:
    s = score_lines(["a bc d", "", "ef"], ["a b c d", "", "ef"], {"a", "bc"})
    assert (s.gold_words, s.predicted_words, s.correct_words) == (4, 5, 3)
    assert s.recall == pytest.approx(3 / 4) and s.precision == pytest.approx(3 / 5)
    assert s.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert s.oov_words == 2 and s.oov_recall == pytest.approx(1.0)  # d and ef are out of vocabulary, both right
    assert s.iv_recall == pytest.approx(0.5)


def test_bad_files_get_one_line(tmp_path: Path) -> None:
    gold = tmp_path / "gold.txt"
    gold.write_text("共同  创造\n美好  的\n", encoding="utf-8")
    words = tmp_path / "words.txt"
    words.write_text("共同\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("共同  创造\n".encode() + "美好".encode("gb18030") + b"\n")
    with pytest.raises(ProjectError, match=r"bad.txt:2 is not UTF-8"):
        score_files(words, gold, bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"empty.txt has no words"):
        score_files(words, empty, empty)
    other = tmp_path / "other.txt"
    other.write_text("共同  创造\n美丽  的\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"other.txt:2 spells '美丽的'.*gold.txt:2 '美好的'"):
        score_files(words, gold, other)
    short = tmp_path / "short.txt"
    short.write_text("共同  创造\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"short.txt ends at line 1"):
        score_files(words, gold, short)
    with pytest.raises(DataMissingError, match="missing.txt does not exist"):
        score_files(words, tmp_path / "missing.txt", gold)
