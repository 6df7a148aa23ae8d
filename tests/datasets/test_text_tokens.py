"""Normalisation, token splitting and id rows as in post 6 (kexue.fm/archives/5743)."""

from __future__ import annotations

import pytest

from datasets.text_tokens import normalise, splitter, to_half_width
from engine.errors import ConfigError


def test_full_width_to_half_width_and_lower_case():
    assert to_half_width("ＡＢＣ１２３？！\u3000ｚ") == "ABC123?! z"
    assert normalise("ＰＳ格式可以转换成ＡＩ格式吗？") == "ps格式可以转换成ai格式吗?"
    assert normalise("Ａb", half_width=False, lower=False) == "Ａb"


def test_token_splitters():
    assert splitter("char")("ab c") == ["a", "b", " ", "c"]
    assert splitter("word")("and god said, let there be light.") == ["and", "god", "said", ",", "let", "there",
                                                                        "be", "light", "."]
    with pytest.raises(ConfigError, match="data.lexicon"):
        splitter("lexicon")
    with pytest.raises(ConfigError, match="not one of"):
        splitter("bpe")


def test_lexicon_tokens(tmp_path):
    (tmp_path / "words.tsv").write_text("广州\t10\n客运站\t8\n有\t5\n多少\t6\n个\t9\n")
    assert splitter("lexicon", tmp_path)("广州有多少个客运站") == ["广州", "有", "多少", "个", "客运站"]

