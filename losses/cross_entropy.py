"""Softmax cross-entropy for classification: L = -mean_i log softmax(f(x_i))_{y_i} (with optional label smoothing)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, Loss
from engine.errors import ConfigError
from engine.progress import Progress


class CrossEntropyLoss(Loss):
    """One player, ``main``, that updates the whole model; logs the loss and the batch accuracy."""

    players = ("main",)

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"loss.label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, model: nn.Module, batch: Batch, player: str = "main",
                progress: Progress | None = None) -> dict[str, torch.Tensor]:
        logits = model(batch["x"])
        loss = F.cross_entropy(logits, batch["y"], label_smoothing=self.label_smoothing)
        acc = (logits.detach().argmax(1) == batch["y"]).float().mean()
        return {"loss": loss, "acc": acc}
