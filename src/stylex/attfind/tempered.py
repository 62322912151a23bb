"""A classifier with its logits divided by a temperature (for saturated classifiers)."""

from __future__ import annotations

import torch
from torch import nn


class TemperedClassifier(nn.Module):
    """``classifier(x) / T``: the same decisions (argmax), softer probabilities.

    AttFind measures effects as changes of class probability (the paper's Δ). A classifier
    that is almost always certain (p ≈ 0.9999) moves its probabilities by ~1e-4 under any
    single edit, however large the change of its logits, so Δ ranks coordinates by noise;
    dividing the logits by ``T > 1`` brings Δ back to a measurable scale. Flips (argmax) and
    hence sufficiency are unchanged.
    """

    def __init__(self, classifier: nn.Module, temperature: float):
        super().__init__()
        self.base = classifier
        self.temperature = float(temperature)
        self.class_names = list(getattr(classifier, "class_names", []) or [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) / self.temperature


__all__ = ["TemperedClassifier"]
