"""Where training is, for losses and data modules that change with it (schedules, warm-ups, curricula).

The trainer builds a :class:`Progress` for every batch it draws and every loss it computes. It is a
pure function of the global step, so anything scheduled from it survives resume bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """The position of one training computation.

    ``step``: the training step being taken (0-based; ``total_steps`` in all; a player with
    ``repeat: k`` takes k optimiser steps in each). ``epoch`` and ``batch``:
    the epoch and the index of the batch within it (with fresh batches per repeat a step draws several).
    ``player`` and ``repeat``: whose loss is computed, and which of its ``repeats`` steps this is
    (``None`` / 0 when a data module draws a batch). ``lr``: that player's learning rate at this step, for a
    loss that applies its own update (``Loss.updates_in_place``; 0 when a data module draws a batch).
    """

    step: int
    epoch: int
    batch: int
    total_steps: int
    steps_per_epoch: int
    player: str | None = None
    repeat: int = 0
    repeats: int = 1
    lr: float = 0.0

    @property
    def fraction(self) -> float:
        """``step / total_steps``, in [0, 1): the part of the run already done."""
        return self.step / max(self.total_steps, 1)
