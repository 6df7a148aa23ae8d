"""An evaluator's media reach TensorBoard (images, figures, the projector) and PNG files in the run folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from engine.contracts import Embedding, Media  # noqa: E402
from engine.run_logger import RunLogger  # noqa: E402


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
    assert {"test/samples", "test/fit"} <= set(events.Tags()["images"])
    assert events.Images("test/fit")[0].step == 7
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert "test/sentences" in config
    (tensors,) = tmp_path.glob("00007/*/tensors.tsv")  # one folder per step and tag
    assert np.loadtxt(tensors).shape == (6, 4)
    assert (tensors.parent / "metadata.tsv").read_text().split() == [f"s{i}" for i in range(6)]


def test_without_events_only_png_files_are_written(tmp_path: Path):
    logger = RunLogger(tmp_path, events=False)
    logger.media(0, media(), prefix="test", png_dir=tmp_path / "figures")
    logger.close()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["test_fit.png", "test_samples.png"]
