"""Path settings are made absolute when a command starts, so that a saved config names the same files from anywhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, smoke_cfg

from engine.paths import is_path_setting, resolve_path_settings
from eval import evaluate
from train import train


def test_which_settings_are_paths():
    assert all(is_path_setting(k) for k in ("data.path", "data.val_path", "data.reader.root", "network_file",
                                            "trainer.parts.model.init_from", "lexicon_path", "data.lexicon"))
    assert not any(is_path_setting(k) for k in ("runs_root", "hydra.run.dir", "data.min_count", "path_events"))


def test_relative_paths_resolve_against_the_working_directory_then_the_repository(tmp_path, monkeypatch):
    (tmp_path / "mine.csv").write_text("t,x\n0,1\n")
    cfg = smoke_cfg("ode_competition", "data.path=mine.csv", "data.val_path=datasets/files/competition.csv",
                    "data.test_path=nowhere.csv")
    monkeypatch.chdir(tmp_path)
    changed = resolve_path_settings(cfg, Path.cwd())
    assert cfg.data.path == str(tmp_path / "mine.csv")  # the user's file, where the command was started
    assert cfg.data.val_path == str(REPO / "datasets" / "files" / "competition.csv")  # a shipped file
    assert cfg.data.test_path == "nowhere.csv"  # found nowhere: left for the reader to report
    assert cfg.runs_root == "runs" and set(changed) == {"data.path", "data.val_path"}
    assert resolve_path_settings(cfg, Path.cwd()) == []  # once is enough


def test_shipped_values_mean_the_repository_and_command_line_values_the_working_directory(tmp_path, monkeypatch):
    """A ``data/`` folder where the command starts does not hide the shipped data; a file given on the command line
    is looked for where the command starts first."""
    (tmp_path / "data" / "english").mkdir(parents=True)
    (tmp_path / "data" / "english" / "wiki.txt").write_text("a b c\n")
    monkeypatch.chdir(tmp_path)
    cfg = smoke_cfg("word2vec")
    resolve_path_settings(cfg, tmp_path, given=set())  # nothing set on the command line
    assert cfg.data.path == str(REPO / "data" / "english" / "wiki.txt")
    assert cfg.evaluator.ws353 == str(REPO / "data" / "english" / "wordsim353.tsv")  # the evaluator's files too
    cfg = smoke_cfg("word2vec", "data.path=data/english/wiki.txt")
    resolve_path_settings(cfg, tmp_path, given={"data.path"})
    assert cfg.data.path == str(tmp_path / "data" / "english" / "wiki.txt")


def test_lists_of_paths_are_resolved_item_by_item(tmp_path):
    from omegaconf import OmegaConf

    (tmp_path / "a.txt").write_text("x")
    cfg = OmegaConf.create({"data": {"file": ["a.txt", "datasets/files/competition.csv", "missing.txt"]}})
    assert resolve_path_settings(cfg, tmp_path) == ["data.file"]
    assert list(cfg.data.file) == [str(tmp_path / "a.txt"), str(REPO / "datasets/files/competition.csv"), "missing.txt"]


def test_eval_from_another_directory_finds_a_relative_data_file(tmp_path, monkeypatch):
    """Trained with data.path=<relative file> in one directory, evaluated from another one (the trip-up)."""
    started, elsewhere, run = tmp_path / "started", tmp_path / "elsewhere", tmp_path / "run"
    started.mkdir(), elsewhere.mkdir()
    shutil.copy(REPO / "datasets" / "files" / "competition.csv", started / "observations.csv")
    monkeypatch.chdir(started)
    trained = train(smoke_cfg("ode_competition", "data.path=observations.csv"), run)
    monkeypatch.chdir(elsewhere)
    again = evaluate(run)
    assert again["test/mse"] == pytest.approx(trained["test/mse"], rel=1e-6)
    assert json.loads((run / "metrics.json").read_text())["test/mse"] == again["test/mse"]
