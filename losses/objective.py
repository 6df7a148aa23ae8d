"""The contract between a loss and the trainer.

An ``Objective`` turns ``(model, batch)`` into named scalar losses for one *player* at a time.
A classifier has one player, ``"main"``; a GAN has ``("discriminator", "generator")``. For each
player the trainer builds one optimiser over ``player_parameters(model, player)`` and, each
step, back-propagates the ``"loss"`` entry of ``forward(model, batch, player)`` (a dict of scalar
tensors); every entry is logged as ``train/<name>`` (``train/<player>/<name>`` with several
players). A player with ``repeat: k`` takes k optimiser steps on the same batch. Objectives own
their own parameters (class centres, output embeddings) and never touch optimisers, devices, files or loggers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from itertools import chain

import torch
import torch.nn as nn

from engine.errors import ConfigError


class Objective(nn.Module, ABC):
    players: tuple[str, ...] = ("main",)

    def player_parameters(self, model: nn.Module, player: str) -> Iterator[nn.Parameter]:
        """Parameters that ``player``'s optimiser updates: by default the model's and the loss's own.

        An objective with several players must say which parameters each one owns.
        """
        if len(self.players) > 1:
            raise ConfigError(f"{type(self).__name__} has players {self.players} and must define player_parameters")
        return chain(model.parameters(), self.parameters())

    @abstractmethod
    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor], player: str) -> dict[str, torch.Tensor]:
        """Losses of ``player`` on ``batch``; ``"loss"`` is the one to minimise."""
