"""Observed trajectories of a dynamical system, as batches for fitting an ODE model.

A batch is ``{"t": (B, K) float64, "y": (B, K, S), "mask": (B, K, S) bool, "x0": (B, S)}`` (plus ``"x"``, the
noise-free states, when they are known): trajectory ``b`` starts from ``x0[b]`` at ``t[b, 0]`` and
is observed where ``mask`` is true. Times may differ from one trajectory to the next; a trajectory
with fewer points is padded by repeating its last time, unobserved. The initial state is the model's
input, not a prediction, so ``mask[:, 0]`` is false.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator

import torch

from engine.contracts import Batch, DataModule
from engine.errors import ConfigError
from engine.progress import Progress
from engine.seeding import stream_seed

Split = dict[str, torch.Tensor]


def pad_trajectories(times: list[torch.Tensor], values: list[torch.Tensor], observed: list[torch.Tensor],
                     x0: torch.Tensor, clean: list[torch.Tensor] | None = None) -> Split:
    """Stack trajectories of different lengths: times ``(K_b,)``, values and observed ``(K_b, S)`` each."""
    k = max(len(t) for t in times)
    s = x0.shape[1]
    out = {"t": torch.empty(len(times), k, dtype=torch.float64), "y": torch.zeros(len(times), k, s),
           "mask": torch.zeros(len(times), k, s, dtype=torch.bool), "x0": x0.float()}
    if clean is not None:
        out["x"] = torch.zeros(len(times), k, s)
    for b, (t, y, m) in enumerate(zip(times, values, observed)):
        n = len(t)
        out["t"][b, :n], out["t"][b, n:] = t, t[-1]
        out["y"][b, :n] = torch.nan_to_num(y)
        out["mask"][b, :n] = m
        if clean is not None:
            out["x"][b, :n] = clean[b]
    out["mask"][:, 0] = False
    return out


class TrajectoryData(DataModule):
    """Splits of trajectories held on the device; subclasses implement :meth:`load`.

    ``species``: the state's names, in order. ``true_parameters``: the parameters that generated the
    data, where they are known (the evaluator reports the fit's relative error against them).
    """

    unit = "trajectories"
    species: list[str]
    true_parameters: dict[str, float] | None = None

    def __init__(self, batch_size: int = 1, eval_batch_size: int = 1000) -> None:
        if not (isinstance(batch_size, int) and batch_size >= 1 and isinstance(eval_batch_size, int) and eval_batch_size >= 1):
            raise ConfigError(f"data.batch_size and data.eval_batch_size must be integers >= 1, "
                              f"got {batch_size!r}, {eval_batch_size!r}")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.splits: dict[str, Split] = {}

    @abstractmethod
    def load(self, seed: int) -> dict[str, Split]:
        """``{"train": ..., "val": ..., "test": ...}``, each a dict as described in the module docstring."""

    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        if self.batch_size % world_size:
            raise ConfigError(f"data.batch_size={self.batch_size} (the global batch) must be divisible by the "
                              f"number of processes ({world_size})")
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed
        if not self.splits:
            self.splits = self.load(seed)
        self.splits = {name: {k: v.to(self.device) for k, v in split.items()} for name, split in self.splits.items()}
        self._epoch_perm: tuple[int, torch.Tensor] | None = None

    @property
    def num_train(self) -> int:
        return len(self.splits["train"]["t"])

    @property
    def batches_per_epoch(self) -> int:
        if self.batch_size > self.num_train:
            raise ConfigError(f"data.batch_size={self.batch_size} is larger than the training set "
                              f"({self.num_train} trajectories)")
        return math.ceil(self.num_train / self.batch_size)

    def train_batch(self, progress: Progress) -> Batch:
        epoch, k = progress.epoch, progress.batch
        if self._epoch_perm is None or self._epoch_perm[0] != epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, epoch))
            self._epoch_perm = (epoch, torch.randperm(self.num_train, generator=gen).to(self.device))
        idx = self._epoch_perm[1][k * self.batch_size:(k + 1) * self.batch_size]
        return self.shard({key: value[idx] for key, value in self.splits["train"].items()})

    def eval_batches(self, split: str) -> Iterator[Batch]:
        if split not in self.splits:
            raise ConfigError(f"unknown split {split!r}: use one of {sorted(self.splits)}")
        data = self.splits[split]
        for i in range(0, len(data["t"]), self.eval_batch_size):
            yield {key: value[i:i + self.eval_batch_size] for key, value in data.items()}
