"""The factor probe of the ground-truth metric: a small CNN that reads generating factors.

**Factor probe.** A small CNN (:class:`FactorProbe`) predicts every factor from an image:
categorical factors (``shape``) by a softmax head, circular ones (``hue``) as
``(cos 2πh, sin 2πh)``, continuous ones (``size``, ``x``, ``y``, ``bg``, standardised) by
regression. For ``shapes`` it is trained on freshly rendered images (:func:`make_shapes` with
the probe's own seed, at the run's resolution and channels), never on the evaluated images;
for other data with factors, on the run's training split. On ``shapes`` it is trained with
random desaturation and blur (:func:`generator_artefacts`), which keep every factor: a probe
that only saw clean renders reads the softer, less saturated objects of a generator as
*smaller* ones, so any colour edit looked like a size change. The trained probe is cached in the
run folder (``RUN/metrics_probe.safetensors`` + ``.json``, keyed by source, resolution,
channels, seed and training settings), so re-evaluation does not retrain. Its errors on a
clean held-out render, on the real held-out images and on their reconstructions are reported.

Training and the run-folder cache: :mod:`stylex.metrics.probe_training`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PROBE_FORMAT = 1
PROBE_FILE = "metrics_probe"
DEFAULT_PROBE_SEED = 20210425
KINDS = ("categorical", "circular", "continuous")


# ------------------------------------------------------------------------------------ factors
@dataclass(frozen=True)
class FactorSpec:
    """One generating factor: ``kind`` is categorical (``num_classes`` codes 0…n−1), circular
    (values in [0, 1) cycles) or continuous."""

    name: str
    kind: str = "continuous"
    num_classes: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"factor kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "categorical" and self.num_classes < 2:
            raise ValueError(f"categorical factor {self.name!r} needs num_classes ≥ 2")

    @property
    def width(self) -> int:
        """Output units of the probe for this factor."""
        return {"categorical": self.num_classes, "circular": 2, "continuous": 1}[self.kind]


SyntheticSource = tuple[str, Callable[..., Any], bool]


def synthetic_source(factor_names: Sequence[str]) -> SyntheticSource | None:
    """``(name, make, augment)`` of the built-in synthetic data (``shapes``, ``gratings``)
    whose factors these are, or None: ``make(n=, resolution=, seed=, channels=)`` renders fresh
    probe training images; ``augment`` says whether :func:`generator_artefacts` keeps every
    factor (true for ``shapes``; blur changes a grating's contrast)."""
    from stylex.data import gratings, shapes

    if list(factor_names) == shapes.FACTOR_NAMES:
        return "shapes", shapes.make_shapes, True
    if list(factor_names) == gratings.FACTOR_NAMES:
        return "gratings", gratings.make_gratings, False
    return None


def factor_specs(factor_names: Sequence[str]) -> list[FactorSpec]:
    """Specs for a dataset's factors: the ``shapes`` and ``gratings`` kinds when the names are
    theirs, otherwise every factor continuous."""
    from stylex.data import gratings
    from stylex.data.shapes import FACTOR_NAMES, SHAPE_NAMES

    if list(factor_names) == gratings.FACTOR_NAMES:
        return [FactorSpec(n, gratings.FACTOR_KINDS.get(n, "continuous")) for n in factor_names]
    if list(factor_names) == FACTOR_NAMES:
        return [
            FactorSpec(n, "categorical", len(SHAPE_NAMES))
            if n == "shape"
            else FactorSpec(n, "circular" if n == "hue" else "continuous")
            for n in FACTOR_NAMES
        ]
    return [FactorSpec(n) for n in factor_names]


def circular_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``b − a`` on the unit circle of cycles, in ``[-0.5, 0.5)``."""
    return torch.remainder(b - a + 0.5, 1.0) - 0.5


# ------------------------------------------------------------------------------------ probe
class FactorProbe(nn.Module):
    """A small CNN that reads every generating factor from an image.

    Input: ``images [B, C, R, R]`` in [-1, 1] (resized to ``min(resolution, 32)`` px inside).
    ``predict`` returns per factor: categorical → probabilities ``[B, n]``; circular → value in
    [0, 1) ``[B]``; continuous → value in the data's units ``[B]``.

    Buffers (saved with the weights): ``mean``/``std`` of the continuous targets and ``scale``
    ``[F]``, each factor's spread on the data used for normalised changes (module docstring).
    """

    mean: torch.Tensor
    std: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self, channels: int, specs: Sequence[FactorSpec], width: int = 32, resolution: int = 32
    ):
        super().__init__()
        self.channels = int(channels)
        self.specs = list(specs)
        self.width = int(width)
        self.work = min(32, int(resolution))
        w = width
        layers: list[nn.Module] = [nn.Conv2d(channels, w, 3, padding=1), nn.LeakyReLU(0.2)]
        res = self.work
        while res > 4:
            w2 = min(2 * w, 128)
            layers += [nn.Conv2d(w, w2, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            w, res = w2, res // 2
        self.features = nn.Sequential(*layers)
        out = sum(s.width for s in self.specs)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(w * 16, 256), nn.LeakyReLU(0.2), nn.Linear(256, out)
        )
        f = len(self.specs)
        self.register_buffer("mean", torch.zeros(f))
        self.register_buffer("std", torch.ones(f))
        self.register_buffer("scale", torch.ones(f))

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[B, Σ widths]``."""
        x = images
        if x.shape[-1] != self.work:
            x = F.interpolate(
                x,
                size=(self.work, self.work),
                mode="bilinear",
                align_corners=False,
                antialias=x.shape[-1] > self.work,
            )
        return self.head(self.features(x))

    def _split(self, out: torch.Tensor) -> list[torch.Tensor]:
        return list(out.split([s.width for s in self.specs], dim=1))

    def decode(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw outputs → per-factor predictions (see the class docstring)."""
        pred = {}
        for j, (spec, o) in enumerate(zip(self.specs, self._split(out), strict=True)):
            if spec.kind == "categorical":
                pred[spec.name] = o.softmax(1)
            elif spec.kind == "circular":
                pred[spec.name] = torch.remainder(torch.atan2(o[:, 1], o[:, 0]) / (2 * math.pi), 1)
            else:
                pred[spec.name] = o[:, 0] * self.std[j] + self.mean[j]
        return pred

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
        """Per-factor predictions for ``images [B, C, R, R]`` in [-1, 1]."""
        dev = self.mean.device
        outs = [
            self(images[a : a + batch].to(dev).clamp(-1, 1)) for a in range(0, len(images), batch)
        ]
        return self.decode(torch.cat(outs))

    def loss(self, out: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        """Training loss on raw outputs and true ``factors [B, F]`` (data units)."""
        total = out.new_zeros(())
        for j, (spec, o) in enumerate(zip(self.specs, self._split(out), strict=True)):
            v = factors[:, j]
            if spec.kind == "categorical":
                total = total + F.cross_entropy(o, v.round().long())
            elif spec.kind == "circular":
                ang = 2 * math.pi * v
                total = total + F.mse_loss(o, torch.stack([ang.cos(), ang.sin()], 1))
            else:
                total = total + F.mse_loss(o[:, 0], (v - self.mean[j]) / self.std[j])
        return total

    def set_statistics(self, factors: torch.Tensor) -> None:
        """Target standardisation and change scales from training factors ``[N, F]``."""
        for j, spec in enumerate(self.specs):
            v = factors[:, j].double()
            if spec.kind == "categorical":
                freq = torch.bincount(
                    v.round().long().clamp(0, spec.num_classes - 1), minlength=spec.num_classes
                ).double() / len(v)
                self.scale[j] = float((freq * (1 - freq)).sqrt().mean().clamp_min(1e-3))
            else:
                sd = float(v.std().clamp_min(1e-6))
                self.mean[j] = float(v.mean())
                self.std[j] = sd
                self.scale[j] = sd

    def meta(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "width": self.width,
            "specs": [asdict(s) for s in self.specs],
        }


__all__ = [
    "DEFAULT_PROBE_SEED",
    "KINDS",
    "PROBE_FILE",
    "PROBE_FORMAT",
    "FactorProbe",
    "FactorSpec",
    "circular_difference",
    "factor_specs",
    "synthetic_source",
]
