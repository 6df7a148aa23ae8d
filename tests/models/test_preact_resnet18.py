"""PreAct ResNet-18 at the mixup paper's size, and the small CNN's shapes."""

from __future__ import annotations

import torch

from models.preact_resnet18 import PreActResNet18
from models.small_cnn import SmallCNN


def test_preact_resnet18_size_and_shapes():
    # the mixup paper's CIFAR PreAct ResNet-18 has 11.17M parameters
    assert sum(p.numel() for p in PreActResNet18(10, 3, 64).parameters()) == 11_171_146
    for channels, side in ((1, 28), (3, 32)):
        out = PreActResNet18(10, channels, 16)(torch.randn(2, channels, side, side))
        assert out.shape == (2, 10)
    assert SmallCNN(10, 1)(torch.randn(2, 1, 28, 28)).shape == (2, 10)
