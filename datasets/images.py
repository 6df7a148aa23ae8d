"""Image-classification data held on the training device, augmented on the device.

The whole dataset sits in device memory as uint8; each step gathers its batch by index, then
crops and flips it there. There is no DataLoader, so no worker processes and no host-to-device
copy per step on a GPU; on a CPU the same code runs unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from datasets.readers import ImageSplits
from engine.contracts import DataModule
from engine.errors import ConfigError
from engine.progress import Progress
from engine.seeding import stream_seed

NORMALIZE = ("standardize", "minus_one_one")


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad ``x`` (B, C, H, W) by ``padding`` and cut a random H x W window per image."""
    if padding <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (b,), generator=gen).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (b,), generator=gen).to(x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)
    cols = ox[:, None] + torch.arange(w, device=x.device)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # advanced indices around a slice put their dims first: (B, H, W, C)
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def random_hflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


class ImageClassificationData(DataModule):
    """Train / validation / test image batches as ``{"x": float (B, C, H, W), "y": int64 (B,)}``.

    ``val_size`` images are held out of the training set (a fixed split, ``split_seed``) to choose
    the best checkpoint; the test set is only used for the final evaluation. ``normalize``:
    ``standardize`` (per channel, with the training images' mean and std) or ``minus_one_one``
    (``x / 127.5 - 1``, the range of a generator's tanh output).
    """

    unit = "images"

    def __init__(
        self,
        reader: Callable[[], ImageSplits],
        num_classes: int | None = None,
        in_channels: int | None = None,
        image_size: int | None = None,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        val_size: int = 5000,
        train_subset: int | None = None,
        val_subset: int | None = None,
        test_subset: int | None = None,
        crop_padding: int = 0,
        hflip: bool = False,
        drop_last: bool = True,
        split_seed: int = 0,
        normalize: str = "standardize",
    ) -> None:
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError(f"data.batch_size and data.eval_batch_size must be >= 1, got {batch_size}, {eval_batch_size}")
        if val_size < 1 or crop_padding < 0:
            raise ConfigError(f"data.val_size must be >= 1 (validation picks best.pt) and data.crop_padding >= 0, "
                              f"got {val_size}, {crop_padding}")
        if normalize not in NORMALIZE:
            raise ConfigError(f"data.normalize={normalize!r} is not one of {', '.join(NORMALIZE)}")
        self.reader = reader
        self.normalization = normalize
        # declared in the config so that models can be sized from it; checked against the data
        self.declared = {"num_classes": num_classes, "in_channels": in_channels, "image_size": image_size}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.val_size = val_size
        self.train_subset = train_subset
        self.val_subset = val_subset
        self.test_subset = test_subset
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.drop_last = drop_last
        self.split_seed = split_seed
        self._ready = False

    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        if self.batch_size % world_size:
            raise ConfigError(
                f"data.batch_size={self.batch_size} (the global batch) must be divisible by the "
                f"number of processes ({world_size})"
            )
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed
        if self._ready:
            return
        s = self.reader()
        if self.val_size >= len(s.train_x):
            raise ConfigError(f"data.val_size={self.val_size} leaves no training images (train set has {len(s.train_x)})")
        perm = torch.randperm(len(s.train_x), generator=torch.Generator().manual_seed(self.split_seed))
        val_idx, train_idx = perm[: self.val_size], perm[self.val_size :]
        if self.train_subset:
            train_idx = train_idx[: self.train_subset]
        if self.val_subset:
            val_idx = val_idx[: self.val_subset]
        test_n = self.test_subset or len(s.test_x)
        put = lambda t: t.to(self.device)  # noqa: E731
        self.splits = {
            "train": (put(s.train_x[train_idx]), put(s.train_y[train_idx])),
            "val": (put(s.train_x[val_idx]), put(s.train_y[val_idx])),
            "test": (put(s.test_x[:test_n]), put(s.test_y[:test_n])),
        }
        train_x = s.train_x[train_idx].float() / 255
        if self.normalization == "standardize":
            self.mean = train_x.mean(dim=(0, 2, 3)).view(1, -1, 1, 1).to(self.device)
            self.std = train_x.std(dim=(0, 2, 3)).view(1, -1, 1, 1).to(self.device)
        else:
            self.mean = torch.full((1, train_x.shape[1], 1, 1), 0.5, device=self.device)
            self.std = torch.full((1, train_x.shape[1], 1, 1), 0.5, device=self.device)
        self.classes = s.classes
        self.num_classes = len(s.classes)
        self.input_shape = tuple(s.train_x.shape[1:])
        actual = {"num_classes": self.num_classes, "in_channels": self.input_shape[0], "image_size": self.input_shape[-1]}
        for key, value in self.declared.items():
            if value is not None and value != actual[key]:
                raise ConfigError(f"data.{key}={value} but the data has {key}={actual[key]}: set data.{key}={actual[key]}")
        self._epoch_perm: tuple[int, torch.Tensor] | None = None
        self._ready = True

    @property
    def num_train(self) -> int:
        return len(self.splits["train"][0])

    @property
    def batches_per_epoch(self) -> int:
        n, b = self.num_train, self.batch_size
        steps = n // b if self.drop_last else math.ceil(n / b)
        if steps == 0:
            raise ConfigError(f"data.batch_size={b} is larger than the training set ({n} images)")
        return steps

    def normalize(self, x_uint8: torch.Tensor) -> torch.Tensor:
        return (x_uint8.float() / 255 - self.mean) / self.std

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        epoch, step = progress.epoch, progress.batch
        if self._epoch_perm is None or self._epoch_perm[0] != epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, epoch))
            self._epoch_perm = (epoch, torch.randperm(self.num_train, generator=gen).to(self.device))
        idx = self._epoch_perm[1][step * self.batch_size : (step + 1) * self.batch_size]
        x, y = self.splits["train"]
        x, y = x[idx].float(), y[idx]
        # augmentation parameters are drawn for the whole global batch, then sharded, so that
        # N processes see exactly the images one process would
        gen = torch.Generator().manual_seed(stream_seed(self.seed, epoch, step, 1))
        x = random_crop(x, self.crop_padding, gen)
        if self.hflip:
            x = random_hflip(x, gen)
        return self.shard({"x": self.normalize(x), "y": y})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        if split not in self.splits:
            raise ConfigError(f"unknown split {split!r}: use one of {sorted(self.splits)}")
        x, y = self.splits[split]
        for i in range(0, len(x), self.eval_batch_size):
            yield {"x": self.normalize(x[i : i + self.eval_batch_size]), "y": y[i : i + self.eval_batch_size]}
