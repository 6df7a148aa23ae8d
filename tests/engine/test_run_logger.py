"""What RunLogger writes: an evaluator's media to TensorBoard (images, figures, the projector) and PNG files, scalars
under their board tags (engine.board: headlines by name, details under ~) with plain names in log.jsonl, and the
HParams plugin's summaries."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2  # noqa: E402

from engine.board import DETAIL, board_tag, hparams_summaries  # noqa: E402
from engine.contracts import Embedding, Media  # noqa: E402
from engine.run_logger import RunLogger, read_jsonl  # noqa: E402


def media() -> Media:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0, 1])
    samples = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))  # as if drawn from a prior
    vectors = torch.randn(6, 4)
    return Media(images={"samples": samples}, figures={"fit": fig},
                 embeddings={"sentences": Embedding(vectors, [f"s{i}" for i in range(6)])})


def test_media_to_tensorboard_and_png(tmp_path: Path):
    logger = RunLogger(tmp_path)
    logger.media(7, media(), prefix="test", png_dir=tmp_path / "figures")
    logger.close()

    grid = Image.open(tmp_path / "figures" / "test_samples.png")
    assert grid.size == (8 * 30 + 2, 2 * 30 + 2)  # make_grid: 8 per row, 2 px padding, 10 images -> 2 rows
    assert Image.open(tmp_path / "figures" / "test_fit.png").size == (360, 240)  # 3 x 2 inches at 120 dpi

    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0}).Reload()
    assert set(events.Tags()["images"]) == {"~test/samples", "~test/fit"}  # pictures are details: after the curves
    assert events.Images("~test/fit")[0].step == 7
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "test/sentences' in config  # the projector has no groups: its tag keeps the plain name
    (tensors,) = tmp_path.glob("00007/*/tensors.tsv")  # one folder per step and tag
    assert np.loadtxt(tensors).shape == (6, 4)
    assert (tensors.parent / "metadata.tsv").read_text().split() == [f"s{i}" for i in range(6)]


@pytest.mark.parametrize("enabled, events", [(True, True), (True, False), (False, False)])
def test_every_figure_is_closed_once_logged(tmp_path: Path, enabled: bool, events: bool):
    """pyplot keeps each figure until it is closed (over 20 warn); a rank > 0 (enabled=False) logs nothing but must
    close them too."""
    shown = media()
    RunLogger(tmp_path, enabled=enabled, events=events).media(1, shown, prefix="val", png_dir=tmp_path / "figures")
    assert not plt.fignum_exists(shown.figures["fit"].number)


def test_without_events_only_png_files_are_written(tmp_path: Path):
    logger = RunLogger(tmp_path, events=False)
    logger.media(0, media(), prefix="test", png_dir=tmp_path / "figures")
    logger.close()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["test_fit.png", "test_samples.png"]


@pytest.mark.parametrize(("key", "final", "value", "tag"), [
    # headlines: a float under train/, val/ or test/ with one slash keeps its name
    ("train/loss", False, 0.5, "train/loss"),
    ("val/acc", False, 0.5, "val/acc"),
    ("test/acc", False, 0.5, "test/acc"),
    # details: deeper names, other groups, names without a split
    ("val/acc_class/3_Dress", False, 0.5, "~val/acc_class/3_Dress"),
    ("lr/main", False, 0.1, "~lr/main"),
    ("throughput/images_per_s", False, 900.0, "~throughput/images_per_s"),
    ("time/train_s", False, 1.5, "~time/train_s"),
    ("train_seconds", True, 1.5, "~train_seconds"),
    ("val/", False, 0.5, "~val/"),
    # an integer is a count (val/n), not a curve to compare: a detail
    ("val/n", False, 128, "~val/n"),
    ("test/acc", True, 1, "~test/acc"),
    # the final evaluation: only the test split's headlines stay on the first screen
    ("test/acc", True, 0.9, "test/acc"),
    ("test/acc_class/3_Dress", True, 0.9, "~test/acc_class/3_Dress"),
    ("val/best_acc", True, 0.9, "~val/best_acc"),
    ("train/loss", True, 0.5, "~train/loss"),
])
def test_board_tag(key: str, final: bool, value, tag: str):
    assert board_tag(key, final=final, value=value) == tag


def test_board_tag_defaults_to_a_float_outside_the_final_evaluation():
    assert board_tag("val/acc") == "val/acc" and board_tag("val/best_acc", final=True) == "~val/best_acc"


def test_detail_groups_sort_after_the_headline_groups():
    # TensorBoard's Time Series tab orders groups (the part before the first /) by name and opens the first two
    groups = ["~lr", "val", "~val", "train", "~throughput", "test", "~train_seconds"]
    assert sorted(groups) == ["test", "train", "val", "~lr", "~throughput", "~train_seconds", "~val"]
    assert all(DETAIL > c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def test_scalars_to_board_tags_and_plain_names_to_log_jsonl(tmp_path: Path):
    logger = RunLogger(tmp_path)
    logger.scalars(3, {"train/loss": 0.5, "lr/main": 0.1}, epoch=0)
    logger.scalars(3, {"val/acc": 0.75, "val/n": 128, "val/acc_class/3_Dress": 0.5})
    logger.scalars(3, {"test/acc": 0.7, "val/best_acc": 0.75, "train_seconds": 1.5}, final=True)
    logger.close()
    assert read_jsonl(tmp_path / "log.jsonl") == [
        {"step": 3, "epoch": 0, "train/loss": 0.5, "lr/main": 0.1},
        {"step": 3, "val/acc": 0.75, "val/n": 128, "val/acc_class/3_Dress": 0.5},
        {"step": 3, "test/acc": 0.7, "val/best_acc": 0.75, "train_seconds": 1.5},
    ]
    events = EventAccumulator(str(tmp_path)).Reload()
    assert set(events.Tags()["scalars"]) == {"train/loss", "~lr/main", "val/acc", "~val/n", "~val/acc_class/3_Dress",
                                             "test/acc", "~val/best_acc", "~train_seconds"}
    assert [(e.step, e.value) for e in events.Scalars("~val/best_acc")] == [(3, 0.75)]


VALUES = {"optim.lr": 0.1, "seed": 0, "experiment": "fmnist_cnn", "data.batch_size": 128, "trainer.compile": False,
          "resume": "None", "unset": None}


def _plugin_data(summary) -> plugin_data_pb2.HParamsPluginData:
    (value,) = summary.value
    assert value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME
    return plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)


def test_hparams_summaries():
    shown = {"seed": True, "optim.lr": True, "not_a_value": True, "data.batch_size": False}
    experiment, start, end = hparams_summaries(VALUES, shown, ["test/acc", "test/nll", "val/best_acc"])
    assert [s.value[0].tag for s in (experiment, start, end)] == [
        metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG, metadata.SESSION_END_INFO_TAG]

    # the experiment: the shown keys in their order (unknown ones dropped), the leading ones as differing (TensorBoard
    # sorts those first); the metrics by board tag
    exp = _plugin_data(experiment).experiment
    assert [(h.name, h.differs) for h in exp.hparam_infos] == [("seed", True), ("optim.lr", True),
                                                               ("data.batch_size", False)]
    assert [h.type for h in exp.hparam_infos] == [api_pb2.DATA_TYPE_FLOAT64] * 3
    assert [(m.name.tag, m.display_name) for m in exp.metric_infos] == [
        ("test/acc", "test/acc"), ("test/nll", "test/nll"), ("~val/best_acc", "val/best_acc")]

    # the session: every value (None left out), typed
    hparams = _plugin_data(start).session_start_info.hparams
    assert set(hparams) == set(VALUES) - {"unset"}
    assert hparams["optim.lr"].number_value == 0.1 and hparams["seed"].number_value == 0
    assert hparams["data.batch_size"].number_value == 128
    assert hparams["experiment"].string_value == "fmnist_cnn" and hparams["resume"].string_value == "None"
    assert hparams["trainer.compile"].string_value == "false"  # not torch's 0.0
    assert _plugin_data(end).session_end_info.status == api_pb2.STATUS_SUCCESS


def test_hparams_summaries_show_nothing_or_everything():
    (experiment, _, _) = hparams_summaries(VALUES, {}, [])
    exp = _plugin_data(experiment).experiment
    assert list(exp.hparam_infos) == [] and list(exp.metric_infos) == []
    (experiment, _, _) = hparams_summaries(VALUES, dict.fromkeys(VALUES, True), ["test/acc"])
    assert [h.name for h in _plugin_data(experiment).experiment.hparam_infos] == [k for k in VALUES if k != "unset"]


def test_hparams_written_as_plugin_summaries_not_scalars(tmp_path: Path):
    logger = RunLogger(tmp_path)
    logger.hparams(VALUES, {"optim.lr": True}, ["test/acc", "val/best_acc"])
    logger.close()
    events = EventAccumulator(str(tmp_path)).Reload()
    assert events.Tags()["scalars"] == []  # no hparam/* charts among the curves
    content = events.PluginTagToContent(metadata.PLUGIN_NAME)
    assert set(content) == {metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG, metadata.SESSION_END_INFO_TAG}
    exp = plugin_data_pb2.HParamsPluginData.FromString(content[metadata.EXPERIMENT_TAG]).experiment
    assert [h.name for h in exp.hparam_infos] == ["optim.lr"]
    assert [m.name.tag for m in exp.metric_infos] == ["test/acc", "~val/best_acc"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content[metadata.SESSION_START_INFO_TAG]).session_start_info
    assert set(start.hparams) == set(VALUES) - {"unset"}
