"""The three contracts between your code and the one ``Trainer``: data module, loss, evaluator.

Each is an abstract base class: subclass it, implement the abstract methods, and name the class in a
config file (``configs/data/``, ``configs/loss/``, ``configs/evaluator/``). ``tests/test_contracts.py``
checks every shipped config of each group against its contract, so a new one is checked without a
new test. Models have no contract beyond ``nn.Module``: a model is one module or a
:class:`engine.parts.ModelParts` of named modules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from engine.progress import Progress

Batch = dict[str, torch.Tensor]


class DataModule(ABC):
    """Batches for the trainer, as dicts of tensors already on the device.

    ``batch_size`` is the global batch (all processes together); ``unit`` names what is counted for
    throughput (``images``, ``tokens``, ``trajectories``) and ``units_per_batch`` how many of them a
    global batch holds (by default ``batch_size``).
    """

    batch_size: int
    unit: str = "examples"

    @property
    def units_per_batch(self) -> int:
        return self.batch_size

    def sizes(self) -> dict[str, int]:
        """Sizes that only the data knows (``vocab_size``, ``num_classes``), by name.

        A model or loss config that leaves a key of the same name ``???`` gets this value
        (``engine.instantiate.build_components``). Default: none.
        """
        return {}

    @abstractmethod
    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        """Load (once) and place the data; later calls only re-place it."""

    @property
    @abstractmethod
    def batches_per_epoch(self) -> int:
        """Global batches in one epoch."""

    @abstractmethod
    def train_batch(self, progress: Progress) -> Batch:
        """This rank's shard of global batch ``progress.batch`` of epoch ``progress.epoch``.

        A pure function of ``(seed, progress)``, so that resume and sharding need no loader state.
        """

    @abstractmethod
    def eval_batches(self, split: str) -> Iterator[Batch]:
        """The whole of ``split`` (``"val"`` or ``"test"``), in a fixed order."""

    def shard(self, batch: Batch) -> Batch:
        """This rank's part of a global batch (every tensor split along its first axis), as ``train_batch``
        returns it; the whole batch with one process (``rank`` and ``world_size`` are set in ``setup``)."""
        world_size = getattr(self, "world_size", 1)
        if world_size == 1:
            return batch
        return {key: value.tensor_split(world_size)[self.rank] for key, value in batch.items()}


class Loss(nn.Module, ABC):
    """Turns ``(model, batch)`` into named scalar losses, one *player* at a time.

    ``players``: ``("main",)`` for a classifier, ``("discriminator", "generator")`` for a GAN.
    ``updates``: for each player, the names of the model parts its optimiser updates (``None``: a
    single player updates every part). A loss owns its parameters (class centres, output
    embeddings); :meth:`own_parameters` says which player updates them. Each step, for each player in
    order, the trainer back-propagates the ``"loss"`` entry of ``forward`` and logs every entry as
    ``train/<name>`` (``train/<player>/<name>`` with several players). Losses never touch
    optimisers, devices, files or loggers. ``leaves_parameters_unused``: a step may leave some of a
    player's parameters without a gradient (adaptive softmax's tail clusters that no target of the
    batch falls in); with several processes DDP then looks for them after each forward
    (``find_unused_parameters``), which it otherwise skips.
    """

    players: tuple[str, ...] = ("main",)
    updates: Mapping[str, Sequence[str]] | None = None
    leaves_parameters_unused: bool = False

    def setup(self, data: DataModule) -> None:
        """Read what the loss needs from the data once it is set up (an output head's noise
        distribution from the word counts, say). Default: nothing."""
        return None

    def own_parameters(self, player: str) -> Iterable[nn.Parameter]:
        """The loss's own parameters that ``player`` updates: all of them for a single player.

        A loss with several players and parameters of its own must override this.
        """
        return self.parameters() if len(self.players) == 1 else ()

    def updates_in_place(self, model: nn.Module) -> bool:
        """True when :meth:`forward` applies the step's update to ``model`` and the loss's own parameters itself,
        at the learning rate ``progress.lr`` (word2vec's per-pair SGD in a compiled kernel, ``model.update=per_pair``):
        the trainer then neither back-propagates nor steps the optimiser, but still steps the schedule, which
        sets that learning rate. Asked once, before training. Default: False."""
        return False

    @abstractmethod
    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        """Scalar losses of ``player`` on ``batch``; ``"loss"`` is the one minimised.

        ``progress`` says where training is (step, epoch, fraction, repeat), for schedules.
        """


@dataclass
class Embedding:
    """Vectors with a label each (and optionally a thumbnail each), for TensorBoard's projector."""

    vectors: torch.Tensor  # (N, D)
    labels: list[str]
    images: torch.Tensor | None = None  # (N, C, H, W) in [0, 1]


@dataclass
class Media:
    """What an evaluator shows besides numbers.

    ``images``: batches ``(N, C, H, W)`` in [0, 1], drawn as one grid each (misclassified inputs,
    samples from a prior); ``figures``: matplotlib figures (curves, fitted trajectories, confusion
    matrices); ``embeddings``: labelled vectors; ``texts``: markdown (nearest neighbours of chosen words).
    The run logger writes them to TensorBoard and, at the final evaluation, to ``<run>/figures/`` (PNG, ``.md``).
    """

    images: dict[str, torch.Tensor] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    embeddings: dict[str, Embedding] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.images or self.figures or self.embeddings or self.texts)


class Evaluator(ABC):
    """A model and the batches of a split in, a dict of float metrics out.

    ``monitor`` (a key of :meth:`evaluate`'s result) and ``mode`` (``"max"`` or ``"min"``) pick
    ``best.pt`` during training; ``mode = "last"`` keeps the latest validated weights (for metrics that are
    test sets, with no validation split to choose on). The trainer calls :meth:`setup` once the data is set up, and
    :meth:`media` at every validation and at the final evaluation.
    """

    monitor: str
    mode: str = "max"

    def setup(self, data: DataModule) -> None:
        """Read what the evaluator needs from the data (class names, say). Default: nothing."""
        return None

    @abstractmethod
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        """Metrics of ``model`` on ``batches``; ``loss`` for evaluators that use its parameters."""

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        """Pictures and vectors worth looking at (default: none)."""
        return Media()
