"""The tokenised-corpus reader, the line split and the word vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasets.token_corpus import read_token_lines, split_lines
from engine.errors import ConfigError, DataMissingError, ProjectError


def test_reader_splits_on_whitespace_and_skips_empty_lines(tmp_path: Path):
    path = tmp_path / "c.txt"
    path.write_text("a b  c\n\n   \nd\te\n", encoding="utf-8")
    assert read_token_lines(path) == (("a", "b", "c"), ("d", "e"))


def test_reader_errors_are_one_clear_line(tmp_path: Path):
    with pytest.raises(DataMissingError, match="make data"):
        read_token_lines(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("好 词\n".encode("gbk") + b"\n")
    with pytest.raises(ProjectError, match=r"bad.txt:1: not UTF-8"):
        read_token_lines(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(ProjectError, match="holds no tokens"):
        read_token_lines(empty)


def test_split_is_contiguous_with_the_last_lines_held_out():
    lines = [[str(i)] for i in range(20)]
    parts = split_lines(lines, 0.1, 0.2)
    assert [len(parts[s]) for s in ("train", "val", "test")] == [14, 2, 4]
    assert parts["test"][0] == ["16"] and parts["val"][0] == ["14"]
    assert split_lines(lines, 0.0, 0.0)["train"] == lines
    with pytest.raises(ConfigError, match="val_fraction"):
        split_lines(lines, 0.6, 0.5)

