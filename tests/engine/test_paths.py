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
