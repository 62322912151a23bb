"""StyleSpace: flat coordinates over the generator's style layers, and their editing.

A *style coordinate* is ``(layer, channel)``, ``layer`` a position in the synthesis sequence
(:mod:`stylex.models.generator`). :class:`StyleSpace` numbers the coordinates of a set of
layers (conv layers, plus toRGB ones on request) with one flat index ``0 … S−1``.

The one edit every stage uses (AttFind, explanations, the viewer, the metrics): coordinate ``i``
moves toward a target value ``target``,

    s_i ← s_i + t · (target − s_i)        (:func:`shifted`, ``t`` = the shift size)

with AttFind's targets the per-coordinate min (direction 0) and max (direction 1) over a set of
images (:func:`style_bounds`, :func:`edit_targets`). Edited images are classified as
``softmax(classifier(image.clamp(-1, 1)))`` (:func:`class_probs`).

:class:`EditContext` holds what every edit needs (generator, classifier, StyleSpace, the
min/max targets and the shift size), so those travel together as one object.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from stylex.models.generator import Generator


class StyleSpace:
    """Flat coordinate ids over the style layers' channels.

    ``layers`` are positions in the synthesis sequence (conv layers, plus rgb layers when
    ``include_rgb``); ``index(layer, channel)`` ↔ ``locate(index)``.
    """

    def __init__(self, layer_ids: Sequence[int], sizes: Sequence[int]):
        self.layers = list(layer_ids)
        self.sizes = list(sizes)
        self.offsets = [0]
        for n in self.sizes:
            self.offsets.append(self.offsets[-1] + n)
        self._pos = {layer: p for p, layer in enumerate(self.layers)}

    @property
    def total(self) -> int:
        return self.offsets[-1]

    def __len__(self) -> int:
        return self.total

    def position(self, layer: int) -> int | None:
        """The position of synthesis layer ``layer`` among this space's layers (None if absent)."""
        return self._pos.get(layer)

    def index(self, layer: int, channel: int) -> int:
        if layer not in self._pos:
            raise KeyError(f"layer {layer} is not in this StyleSpace (layers {self.layers})")
        p = self._pos[layer]
        if not 0 <= channel < self.sizes[p]:
            raise IndexError(f"channel {channel} out of range for layer {layer} ({self.sizes[p]})")
        return self.offsets[p] + channel

    def locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.total:
            raise IndexError(f"style index {index} out of range 0..{self.total - 1}")
        p = bisect_right(self.offsets, index) - 1
        return self.layers[p], index - self.offsets[p]

    def flatten(self, styles: Sequence[torch.Tensor]) -> torch.Tensor:
        """Per-layer styles (all synthesis layers) → [B, total] over this space's layers."""
        return torch.cat([styles[layer] for layer in self.layers], dim=1)

    def unflatten(self, flat: torch.Tensor, styles: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Write [B, total] back into a copy of the per-layer list ``styles``."""
        out = list(styles)
        for p, layer in enumerate(self.layers):
            out[layer] = flat[:, self.offsets[p] : self.offsets[p + 1]]
        return out


# ------------------------------------------------------------------------------------ edits
def style_bounds(flat_styles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-coordinate min and max over images: ``[N, S]`` → ``([S], [S])``."""
    if flat_styles.ndim != 2 or flat_styles.shape[0] == 0:
        raise ValueError(f"flat styles must be [N, S] with N ≥ 1, got {list(flat_styles.shape)}")
    return flat_styles.amin(0), flat_styles.amax(0)


def edit_targets(style_min: torch.Tensor, style_max: torch.Tensor) -> torch.Tensor:
    """``[2, S]``: row 0 the targets of direction "min", row 1 of direction "max"."""
    return torch.stack([style_min, style_max]).float()


def shifted(value: torch.Tensor, target: torch.Tensor, shift_size: float) -> torch.Tensor:
    """The edited style value ``s + shift · (target − s)`` (the one formula every edit uses)."""
    return value + shift_size * (target - value)


def edit(
    styles: Sequence[torch.Tensor],
    space: StyleSpace,
    index: int,
    target: float | torch.Tensor,
    shift_size: float = 1.0,
) -> list[torch.Tensor]:
    """A copy of per-layer ``styles`` (all synthesis layers, [B, C_l]) with coordinate ``index``
    of ``space`` moved toward ``target`` for every image. Only the edited layer is copied."""
    layer, ch = space.locate(index)
    out = list(styles)
    s = styles[layer].clone()
    t = torch.as_tensor(target, dtype=s.dtype, device=s.device)
    s[:, ch] = shifted(s[:, ch], t, shift_size)
    out[layer] = s
    return out


def class_probs(
    classifier: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor
) -> torch.Tensor:
    """``images [B, C, R, R]`` (clamped to [-1, 1] here) → softmax probabilities ``[B, K]``."""
    return torch.softmax(classifier(images.clamp(-1, 1)).float(), dim=1)


def synthesize_batched(
    generator: Generator, styles: Sequence[torch.Tensor], batch: int
) -> torch.Tensor:
    """``G(styles)`` in batches of ``batch`` images (constant noise), clamped to [-1, 1]."""
    n = styles[0].shape[0]
    return torch.cat(
        [
            generator.synthesize([s[a : a + batch] for s in styles], noise_mode="const").clamp(
                -1, 1
            )
            for a in range(0, n, batch)
        ]
    )


# ------------------------------------------------------------------------------------ context
@dataclass(frozen=True)
class EditContext:
    """What an edit of StyleSpace needs, in one object.

    Attributes:
        generator: the (frozen) generator; ``classifier``: images in [-1, 1] → logits [B, K].
        space: the StyleSpace whose flat indices the edits use.
        style_min, style_max: ``[S]`` per-coordinate targets over ``space`` (directions 0, 1).
        shift_size: ``t`` in ``s ← s + t·(target − s)``.
    """

    generator: Generator
    classifier: nn.Module
    space: StyleSpace
    style_min: torch.Tensor
    style_max: torch.Tensor
    shift_size: float = 1.0

    @classmethod
    def from_styles(
        cls,
        generator: Generator,
        classifier: nn.Module,
        styles: Sequence[torch.Tensor],
        space: StyleSpace,
        shift_size: float = 1.0,
    ) -> EditContext:
        """The context whose targets are the min and max of ``styles`` (per-layer, N images)."""
        lo, hi = style_bounds(space.flatten(styles))
        return cls(generator, classifier, space, lo, hi, shift_size)

    @property
    def targets(self) -> torch.Tensor:
        """``[2, S]`` float32: the min (row 0) and max (row 1) targets."""
        return edit_targets(self.style_min, self.style_max)

    def edit(
        self, styles: Sequence[torch.Tensor], index: int, target: float | torch.Tensor
    ) -> list[torch.Tensor]:
        """:func:`edit` with this context's space and shift size."""
        return edit(styles, self.space, index, target, self.shift_size)

    def shifted(self, value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """:func:`shifted` with this context's shift size."""
        return shifted(value, target, self.shift_size)

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        """:func:`class_probs` of this context's classifier."""
        return class_probs(self.classifier, images)


__all__ = [
    "EditContext",
    "StyleSpace",
    "class_probs",
    "edit",
    "edit_targets",
    "shifted",
    "style_bounds",
    "synthesize_batched",
]
