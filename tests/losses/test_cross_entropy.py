"""CrossEntropy recomputed with plain torch ops: -mean log softmax, and label smoothing by its formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.errors import ConfigError
from losses.cross_entropy import CrossEntropyLoss


class Table(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[x]


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_loss_and_accuracy_by_hand(eps: float):
    logits = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1])
    out = CrossEntropyLoss(label_smoothing=eps)(Table(logits), {"x": torch.arange(7), "y": y})
    logp = logits - logits.exp().sum(1, keepdim=True).log()
    # smoothed target: (1 - eps) on the label plus eps / K on every class
    expected = -((1 - eps) * logp[torch.arange(7), y] + eps * logp.mean(1)).mean()
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["acc"].item() == pytest.approx((logits.argmax(1) == y).float().mean().item())


def test_bad_smoothing_is_one_line():
    with pytest.raises(ConfigError, match=r"loss.label_smoothing must be in \[0, 1\), got 1.0"):
        CrossEntropyLoss(label_smoothing=1.0)
