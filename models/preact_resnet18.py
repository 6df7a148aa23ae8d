"""Pre-activation ResNet-18 (He et al. 2016, "Identity Mappings in Deep Residual Networks").

The CIFAR variant used by the mixup paper (Zhang et al. 2018, arXiv 1710.09412; 11.17M
parameters at width 64): a 3x3 stem with no pooling, four stages of two pre-activation basic
blocks (widths w, 2w, 4w, 8w with w = 64, strides 1, 2, 2, 2), global average pooling and a
linear layer. As in that model, the last block's output is pooled directly, without the final
BN-ReLU of He et al.'s ImageNet design.
``width`` scales the network (16 is the CPU-sized one); ``in_channels`` is 1 for grey images.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    """y = x' + conv(relu(bn(conv(relu(bn(x)))))), where x' is x or a 1x1 projection of relu(bn(x))."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        layers, in_planes = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            planes = width * 2**i
            layers += [PreActBlock(in_planes, planes, stride), PreActBlock(planes, planes, 1)]
            in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.conv1(x))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)
