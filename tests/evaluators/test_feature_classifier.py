"""The image metrics' feature classifier: a missing checkpoint and one of another architecture each stop the run
in one line naming the setting; KID and precision / recall reach gan_fmnist's metrics.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import smoke_cfg, with_stand_in

from engine.errors import CheckpointError
from train import train


def gan_fmnist_with(tmp_path: Path, init_from: str):
    cfg = with_stand_in(smoke_cfg("gan_fmnist", f"trainer.parts.classifier.init_from={init_from}",
                                  "trainer.parts.classifier.source=model"), tmp_path / "data")
    return train(cfg, tmp_path / "gan")


def test_a_missing_classifier_names_the_setting_and_the_command(tmp_path):
    with pytest.raises(CheckpointError, match=r"^trainer\.parts\.classifier\.init_from=.*nowhere.*train that run first or"):
        gan_fmnist_with(tmp_path, str(tmp_path / "nowhere"))
    # the default, runs/fmnist_classifier, is named after the experiment that trains it
    with pytest.raises(CheckpointError, match=r"fmnist_classifier does not exist; train that run first: "
                                              r"python train\.py experiment=fmnist_classifier$"):
        gan_fmnist_with(tmp_path, str(tmp_path / "fmnist_classifier"))


def test_a_classifier_of_another_architecture_is_refused(tmp_path):
    other = with_stand_in(smoke_cfg("fmnist_classifier", "model.width=4"), tmp_path / "data")
    train(other, tmp_path / "classifier")
    with pytest.raises(CheckpointError, match=r"^trainer\.parts\.classifier\.init_from=.* does not fit part 'classifier', "
                                              r"another architecture \(.*size mismatch"):
        gan_fmnist_with(tmp_path, str(tmp_path / "classifier"))


def test_gan_fmnist_reports_kid_and_precision_recall(tmp_path):
    same = with_stand_in(smoke_cfg("fmnist_classifier"), tmp_path / "data")
    train(same, tmp_path / "classifier")
    metrics = gan_fmnist_with(tmp_path, str(tmp_path / "classifier"))
    for key in ("fd", "kid", "kid_std", "precision", "recall"):
        assert f"test/{key}" in metrics
    assert 0 <= metrics["test/precision"] <= 1 and 0 <= metrics["test/recall"] <= 1
