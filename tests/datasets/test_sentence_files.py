"""Groups from the three file layouts; union-find over positive pairs; malformed lines counted with their line numbers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from datasets.sentence_files import pairs_to_groups, read_sentence_groups
from engine.errors import ConfigError, DataMissingError, ProjectError


def test_a_chain_of_pairs_is_one_group():
    groups = pairs_to_groups([("a", "b"), ("c", "d"), ("b", "c"), ("x", "y")])
    assert sorted(map(sorted, groups)) == [["a", "b", "c", "d"], ["x", "y"]]
    assert pairs_to_groups([("a", "b"), ("b", "c")]) == [["a", "b", "c"]]


def test_union_find_matches_connected_components_on_a_random_graph():
    import random

    rng = random.Random(0)
    pairs = [(str(rng.randrange(300)), str(rng.randrange(300))) for _ in range(200)]
    groups = pairs_to_groups(pairs)
    # reference: repeated merging of sets until nothing changes
    comps = [{a, b} for a, b in pairs]
    merged = True
    while merged:
        merged = False
        for i in range(len(comps)):
            for j in range(i + 1, len(comps)):
                if comps[i] & comps[j]:
                    comps[i] |= comps.pop(j)
                    merged = True
                    break
            if merged:
                break
    assert sorted(sorted(g) for g in groups) == sorted(sorted(c) for c in comps)


def test_groups_file_with_malformed_lines(tmp_path: Path, caplog):
    f = tmp_path / "g.tsv"
    f.write_bytes(b"1\thow tall is a sofa\n1\twhat height is a sofa\n2\t\nno tab here\n2\ta\tb\n\n"
                  b"3\tfine\n" + b"3\t\xff\xfe bad\n" + b"3\tgood too\n")
    with caplog.at_level(logging.WARNING):
        rows, report = read_sentence_groups(f)
    assert rows == [("1", "how tall is a sofa"), ("1", "what height is a sofa"), ("3", "fine"), ("3", "good too")]
    assert report.lines == 9
    assert report.skipped == {"empty sentence": 1, "1 tab-separated fields, expected 2 (group_id, sentence)": 1,
                              "3 tab-separated fields, expected 2 (group_id, sentence)": 1, "blank line": 1,
                              "not UTF-8": 1}
    assert f"{f}:3: empty sentence" in caplog.text and f"{f}:8: not UTF-8" in caplog.text
    assert "skipped 5 of 9 lines" in caplog.text


def test_pairs_and_jsonl_give_the_same_groups(tmp_path: Path):
    pairs = [("a", "b", 1), ("b", "c", 1), ("c", "d", 0), ("e", "f", 1), ("g", "h", 0)]
    tsv = tmp_path / "p.tsv"
    tsv.write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in pairs) + "x\ty\tmaybe\n")
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("".join(json.dumps({"text1": a, "text2": b, "label": str(y)}) + "\n" for a, b, y in pairs)
                     + "{not json\n")
    for path in (tsv, jsonl):
        rows, report = read_sentence_groups(path)
        groups: dict[str, list[str]] = {}
        for g, s in rows:
            groups.setdefault(g, []).append(s)
        assert sorted(groups.values()) == [["a", "b", "c"], ["e", "f"]]
        assert report.negative_pairs == 2 and report.ungrouped_sentences == 3  # d, g, h
        assert sum(report.skipped.values()) == 1


def test_bad_input_is_one_clear_error(tmp_path: Path):
    with pytest.raises(DataMissingError, match="make data"):
        read_sentence_groups(tmp_path / "missing.tsv")
    f = tmp_path / "four.tsv"
    f.write_text("a\tb\tc\td\n")
    with pytest.raises(ConfigError, match="data.format"):
        read_sentence_groups(f)
    with pytest.raises(ConfigError, match="not one of"):
        read_sentence_groups(f, "csv")
    f.write_text("a\tb\tc\td\n")
    with pytest.raises(ProjectError, match="no usable line"):
        read_sentence_groups(f, "groups")
