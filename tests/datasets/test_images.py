"""The device-resident image data: augmentation against a per-image reference, determinism, sharding, splits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from datasets.images import ImageClassificationData, random_crop, random_hflip
from datasets.readers import ImageSplits, fashion_mnist
from engine.errors import ConfigError, DataMissingError
from engine.progress import Progress


def P(epoch: int, batch: int) -> Progress:
    """The position of batch ``batch`` of epoch ``epoch`` (the step fields do not matter to the data)."""
    return Progress(step=0, epoch=epoch, batch=batch, total_steps=1, steps_per_epoch=1)


def synthetic(n_train: int = 200, n_test: int = 50, classes: int = 4) -> ImageSplits:
    g = torch.Generator().manual_seed(0)
    img = lambda n: torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)  # noqa: E731
    lab = lambda n: torch.arange(n) % classes  # noqa: E731
    return ImageSplits(img(n_train), lab(n_train), img(n_test), lab(n_test), [f"c{i}" for i in range(classes)])


def make(**kw) -> ImageClassificationData:
    data = ImageClassificationData(reader=synthetic, **{"batch_size": 16, "val_size": 40, **kw})
    data.setup("cpu")
    return data


def test_random_crop_matches_per_image_slicing():
    x = torch.randn(6, 3, 5, 7)
    crop = random_crop(x, 2, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)  # replay the same offsets
    oy, ox = torch.randint(0, 5, (6,), generator=g), torch.randint(0, 5, (6,), generator=g)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(6):
        assert torch.equal(crop[i], padded[i, :, oy[i] : oy[i] + 5, ox[i] : ox[i] + 7])
    assert not all(torch.equal(crop[i], x[i]) for i in range(6))


def test_hflip_flips_about_half():
    x = torch.arange(2000 * 4, dtype=torch.float).view(2000, 1, 1, 4)
    out = random_hflip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == x[:, 0, 0, 3])
    assert torch.equal(out[flipped], x[flipped].flip(-1)) and torch.equal(out[~flipped], x[~flipped])
    assert abs(flipped.float().mean().item() - 0.5) < 0.05  # 2000 fair coins: 5 % is > 4 sigma


def test_batches_are_a_function_of_seed_epoch_step():
    a, b = make(crop_padding=2, hflip=True), make(crop_padding=2, hflip=True)
    assert torch.equal(a.train_batch(P(3, 2))["x"], b.train_batch(P(3, 2))["x"])
    assert not torch.equal(a.train_batch(P(3, 2))["x"], a.train_batch(P(3, 1))["x"])
    assert not torch.equal(a.train_batch(P(3, 2))["x"], a.train_batch(P(4, 2))["x"])
    a.train_batch(P(0, 0))
    assert torch.equal(a.train_batch(P(3, 2))["x"], b.train_batch(P(3, 2))["x"])  # no hidden state


def test_an_epoch_visits_each_training_image_once():
    data = make(batch_size=16, drop_last=False)
    ys = torch.cat([data.train_batch(P(0, i))["y"] for i in range(data.batches_per_epoch)])
    assert data.batches_per_epoch == 10 and len(ys) == 160
    assert torch.equal(ys.bincount(), data.splits["train"][1].bincount())


def test_shards_of_two_ranks_make_the_global_batch():
    one = make(crop_padding=1, hflip=True)
    ranks = []
    for r in range(2):
        d = ImageClassificationData(reader=synthetic, batch_size=16, val_size=40, crop_padding=1, hflip=True)
        d.setup("cpu", rank=r, world_size=2)
        ranks.append(d.train_batch(P(1, 3)))
    full = one.train_batch(P(1, 3))
    assert torch.equal(torch.cat([r["x"] for r in ranks]), full["x"])
    assert torch.equal(torch.cat([r["y"] for r in ranks]), full["y"])
    with pytest.raises(ConfigError, match="divisible"):
        ImageClassificationData(reader=synthetic, batch_size=15, val_size=40).setup("cpu", world_size=2)


def test_validation_is_held_out_and_normalised_with_training_statistics():
    data = make()
    train_x, val_x = data.splits["train"][0], data.splits["val"][0]
    assert len(train_x) == 160 and len(val_x) == 40
    assert not (train_x.flatten(1)[:, None, :] == val_x.flatten(1)[None]).all(-1).any()  # disjoint
    x = data.normalize(train_x)
    assert x.mean().item() == pytest.approx(0, abs=1e-5) and x.std().item() == pytest.approx(1, abs=1e-2)
    batches = list(data.eval_batches("test"))
    assert sum(len(b["y"]) for b in batches) == 50


def test_bad_settings_and_declared_shapes():
    with pytest.raises(ConfigError, match="val_size"):
        make(val_size=500)
    with pytest.raises(ConfigError, match="num_classes=4"):
        make(num_classes=10)
    with pytest.raises(ConfigError, match="unknown split"):
        next(make().eval_batches("dev"))


def test_fashion_mnist_reader_reads_the_installed_files():
    s = fashion_mnist("data")
    assert s.train_x.shape == (60000, 1, 28, 28) and s.test_x.shape == (10000, 1, 28, 28)
    assert s.train_x.dtype == torch.uint8 and s.classes[0] == "T-shirt/top"
    assert torch.equal(s.train_y.bincount(), torch.full((10,), 6000))


def test_malformed_files_are_one_clear_error(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DataMissingError, match="make data"):
        fashion_mnist(tmp_path)
