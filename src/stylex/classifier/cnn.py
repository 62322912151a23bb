"""The built-in small CNN (``stylex train-classifier``): any input size, logits out."""

from __future__ import annotations

import math

import torch
from torch import nn

from stylex.errors import ClassifierError


class SmallCNN(nn.Module):
    """A small CNN: ``[B, C, R, R]`` → logits ``[B, K]``; any input size (global pooling).

    Per stage: 3x3 conv → BatchNorm → ReLU → 2x2 max-pool, widths ``width·2^i`` (capped at
    256); ``log2(R) - 2`` stages (2 … 6) bring R down to about 4; then one more conv, global
    average pooling, dropout and a linear head.
    """

    def __init__(self, channels: int, num_classes: int, resolution: int = 32, width: int = 32):
        super().__init__()
        stages = min(6, max(2, int(round(math.log2(max(resolution, 8)))) - 2))
        layers: list[nn.Module] = []
        c = channels
        for i in range(stages):
            w = min(256, width * 2**i)
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c = w
        layers += [
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        ]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        return self.head(self.dropout(x))


def build_small_cnn(
    channels: int, num_classes: int, resolution: int = 32, width: int = 32
) -> nn.Module:
    """A small TorchScript-able CNN: ``[B, channels, R, R]`` → logits ``[B, K]``."""
    if channels < 1 or num_classes < 2:
        raise ClassifierError(
            f"need channels >= 1 and num_classes >= 2, got {channels}, {num_classes}"
        )
    return SmallCNN(channels, num_classes, resolution, width)
