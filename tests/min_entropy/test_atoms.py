"""Numbers and Latin words folded to one symbol and put back."""

from __future__ import annotations

import random

from min_entropy.atoms import LATIN, NUMBER, fold, unfold


def test_fold_examples() -> None:
    assert fold("１９９７年增长３．５％，APEC会议") == (f"{NUMBER}年增长{NUMBER}，{LATIN}会议", ["１９９７", "３．５％", "APEC"])
    assert fold("二○○一年新年贺词，２０∶００开始") == (f"{NUMBER}年新年贺词，{NUMBER}开始", ["二○○一", "２０∶００"])
    assert fold("零售一二三") == ("零售一二三", [])  # Chinese digits without a zero are ordinary characters
    assert fold("３．") == (f"{NUMBER}．", ["３"])  # a point must stand between digits


def test_unfold_puts_every_atom_back_in_order() -> None:
    rng = random.Random(0)
    alphabet = ["１", "9", "．", "％", "a", "Ｚ", "○", "二", "年", "的", "，"]
    for _ in range(500):
        line = "".join(rng.choices(alphabet, k=rng.randint(0, 20)))
        folded, atoms = fold(line)
        assert folded.count(NUMBER) + folded.count(LATIN) == len(atoms)
        cuts = sorted(rng.sample(range(1, len(folded)), min(3, max(len(folded) - 1, 0)))) if len(folded) > 1 else []
        words = [folded[a:b] for a, b in zip([0] + cuts, cuts + [len(folded)]) if b > a]
        back = unfold(words, atoms)
        assert "".join(back) == line and len(back) == len(words)
