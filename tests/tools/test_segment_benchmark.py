"""tools/segment_benchmark.py: the protocol on a small People's Daily (in this process), its scores equal to the
bakeoff scorer's on the prediction it wrote, and bad test / gold files refused with one line naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, run_script
from hydra import compose, initialize_config_dir

import tools.segment_benchmark as segment_benchmark
from engine.errors import ProjectError
from engine.paths import resolve_path_settings
from min_entropy.bakeoff_scorer import score_files

PKU = REPO / "datasets/files/sighan2005_pku"


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("segment_benchmark", overrides=["corpus.max_lines=300", *overrides])
    resolve_path_settings(cfg, REPO)
    return cfg


def test_scores_are_the_bakeoff_scorers_on_the_written_prediction(tmp_path: Path) -> None:
    m = segment_benchmark.run(_cfg(), tmp_path)
    pred = (tmp_path / "pku_pred.utf8").read_text(encoding="utf-8").splitlines()
    raw = (PKU / "pku_test.utf8").read_text(encoding="utf-8").splitlines()
    assert len(pred) == len(raw) and all("".join(p.split()) == "".join(r.split()) for p, r in zip(pred, raw))
    s = score_files(PKU / "pku_training_words.utf8", PKU / "pku_test_gold.utf8", tmp_path / "pku_pred.utf8")
    assert (m["f1"], m["precision"], m["recall"], m["oov_recall"]) == (s.f1, s.precision, s.recall, s.oov_recall)
    assert 0.5 < m["f1"] < 0.9 and 0.5 < m["dev_f1"] < 0.9  # 300 lines of People's Daily + the test text
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))["word_bonus"] == 3.5
    assert "bakeoff score: P" in segment_benchmark.summary(m, tmp_path)


def test_bad_files_get_one_line(tmp_path: Path) -> None:
    bad_test = tmp_path / "test.txt"
    bad_test.write_bytes("共同创造\n".encode() + "美好的新世纪".encode("gb18030") + b"\n")
    with pytest.raises(ProjectError, match=r"test.txt:2 is not UTF-8"):
        segment_benchmark.run(_cfg(f"benchmark.test_file={bad_test}"), tmp_path)
    empty = tmp_path / "gold.txt"
    empty.write_text("\n" * 1945, encoding="utf-8")
    with pytest.raises(ProjectError, match=r"gold.txt has no words"):
        segment_benchmark.run(_cfg(f"benchmark.gold_file={empty}"), tmp_path)
    other = tmp_path / "other_gold.txt"
    lines = (PKU / "pku_test_gold.utf8").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace("年", "月", 1)
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"pku_pred.utf8:5 spells .*other_gold.txt:5"):
        segment_benchmark.run(_cfg(f"benchmark.gold_file={other}"), tmp_path)


@pytest.mark.slow
def test_command_line_error_is_one_line(tmp_path: Path) -> None:
    r = run_script("tools/segment_benchmark.py", f"runs_root={tmp_path}", "corpus.max_lines=50",
                   f"benchmark.test_file={tmp_path / 'missing.txt'}")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: test file")
