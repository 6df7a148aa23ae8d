"""The contract between a loss and the trainer.

An ``Objective`` turns ``(model, batch)`` into named scalar losses for one *player* at a time.
A classifier has one player, ``"main"``; a GAN has ``("discriminator", "generator")``. For each
player the trainer builds one optimiser over ``player_parameters(model, player)`` and, each
step, back-propagates the ``"loss"`` entry of ``forward(model, batch, player)``; every other
entry is logged as ``train/<name>``. Objectives own their own parameters (class centres, output
embeddings) and never touch optimisers, devices, files or loggers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from itertools import chain

import torch
import torch.nn as nn


class Objective(nn.Module, ABC):
    players: tuple[str, ...] = ("main",)

    def player_parameters(self, model: nn.Module, player: str) -> Iterator[nn.Parameter]:
        """Parameters that ``player``'s optimiser updates: by default the model's and the loss's own."""
        return chain(model.parameters(), self.parameters())

    @abstractmethod
    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor], player: str) -> dict[str, torch.Tensor]:
        """Losses of ``player`` on ``batch``; ``"loss"`` is the one to minimise."""
