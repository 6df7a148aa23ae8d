"""Softmax cross-entropy for classification: L = -mean_i log softmax(f(x_i))_{y_i}."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from losses.objective import Objective


class CrossEntropy(Objective):
    players = ("main",)

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor], player: str = "main") -> dict[str, torch.Tensor]:
        logits = model(batch["x"])
        loss = F.cross_entropy(logits, batch["y"], label_smoothing=self.label_smoothing)
        acc = (logits.detach().argmax(1) == batch["y"]).float().mean()
        return {"loss": loss, "acc": acc}
