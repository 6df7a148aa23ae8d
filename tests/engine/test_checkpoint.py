"""Checkpoints: atomic writes, clear errors for bad files, exact RNG round trip."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, compose_cfg

from engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from engine.errors import CheckpointError, ConfigError
from train import make_trainer, train


def test_death_while_writing_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1, "w": torch.arange(5.0)}, path)

    def dies_half_way(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt  # the process is killed mid-write

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 2, "w": torch.zeros(5)}, path)
    monkeypatch.undo()

    state = load_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.arange(5.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left behind


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_corrupted_checkpoint_is_one_clear_error(tmp_path: Path, content: bytes | None):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 3, "w": torch.randn(100, 100)}, path)
    data = path.read_bytes()
    path.write_bytes(content if content is not None else data[: len(data) // 2])  # None: truncated
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "corrupted" in msg


def test_missing_and_foreign_checkpoints(tmp_path: Path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"model": {}}, tmp_path / "foreign.pt")  # a plain torch file, not ours
    with pytest.raises(CheckpointError, match="unknown format"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format_version": 1, "objective": {}}, tmp_path / "old.pt")  # before Objective became Loss
    with pytest.raises(CheckpointError, match="before the losses were renamed.*git checkout 316ed2d"):
        load_checkpoint(tmp_path / "old.pt")


def test_rng_state_round_trip_through_a_file(tmp_path: Path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    save_checkpoint({"rng": rng_state()}, tmp_path / "rng.pt")
    expected = (random.random(), np.random.randn(3), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    got = (random.random(), np.random.randn(3), torch.rand(3))
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1]) and torch.equal(got[2], expected[2])


def test_checkpoint_holds_the_full_state(tmp_path: Path):
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), tmp_path)
    state = load_checkpoint(tmp_path / "last.pt")
    assert {"step", "model", "loss", "optimizers", "schedulers", "scalers", "rng", "best", "seed", "config",
            "code_version"} <= set(state)
    assert state["step"] == 2 and "momentum_buffer" in str(state["optimizers"]["main"]["state"])
    assert "fmnist_cnn" in state["config"]


def test_resume_with_another_config_or_model_is_one_clear_error(tmp_path: Path):
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), tmp_path)
    other = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", "model.width=8"),
                         tmp_path / "other")
    with pytest.raises(ConfigError, match=r"config differs .*\(model.width: 32 -> 8\)"):
        other.resume(tmp_path / "last.pt")
    listed = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", "scheduler=multistep",
                                      "scheduler.milestones=[0.1]"), tmp_path / "listed")
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", "scheduler=multistep"), tmp_path / "ms")
    with pytest.raises(ConfigError, match=r"scheduler.milestones: \[0.5, 0.75\] -> \[0.1\]"):  # lists count too
        listed.resume(tmp_path / "ms" / "last.pt")
    with pytest.raises(CheckpointError, match="does not match this model.*size mismatch"):
        other.load_state_dict(load_checkpoint(tmp_path / "last.pt"))
    # settings that do not change the computation may differ
    same = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", "trainer.log_every_steps=5",
                                    "resume=auto"), tmp_path / "same")
    same.resume(tmp_path / "last.pt")
    assert same.step == 2


def test_resume_compares_values_not_spellings(tmp_path: Path):
    """A setting written out at the value the code applies when it is absent is no change; any other value is."""
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), tmp_path)
    spelled = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2",
                                       "+trainer.players.main.repeat=1", "+trainer.players.main.fresh_batches=false",
                                       "+trainer.parts.model.freeze=false", "+trainer.parts.model.strict=true"),
                           tmp_path / "spelled")
    spelled.resume(tmp_path / "last.pt")
    assert spelled.step == 2
    other = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", "+trainer.players.main.repeat=2"),
                         tmp_path / "other")
    with pytest.raises(ConfigError, match=r"trainer.players.main.repeat: None -> 2"):
        other.resume(tmp_path / "last.pt")


def test_a_run_from_before_a_new_setting_resumes_when_the_setting_keeps_the_old_behaviour():
    from engine.checkpoint import config_changes
    from engine.trainer import SETTING_DEFAULTS

    old = "data:\n  bptt: 35\nmodel:\n  dim: 128\n"
    new = "data:\n  bptt: 35\n  carry_state: false\nmodel:\n  dim: 128\n  carry_state: false\n"
    assert config_changes(old, new, defaults=SETTING_DEFAULTS) == []
    assert config_changes(old, new.replace("false", "true", 1), defaults=SETTING_DEFAULTS)  # carrying state is new
