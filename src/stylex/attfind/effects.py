"""AttFind's effects: the tensor Δ and what it was computed from, and its files.

``Effects`` is written as ``effects.safetensors`` (the tensors) + ``effects.json`` (ids, class
names, StyleSpace, shift size; ``format_version`` 1). Δ itself is computed by
:mod:`stylex.attfind.delta` (definition and fast path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from stylex.attfind.delta import ProgressFn
from stylex.errors import RunError
from stylex.models.memory import default_batch, memory_budget
from stylex.models.stylespace import (
    StyleSpace,
    edit_targets,
    shifted,
    style_bounds,
)
from stylex.utils.fs import atomic_write_bytes, atomic_write_json, read_versioned_json

EFFECTS_FORMAT = 1
DIRECTIONS = ("min", "max")
DEFAULT_INCLUDE_RGB = True
"""AttFind searches the toRGB styles too unless told otherwise (``AttFind(include_rgb=…)``)."""


# ------------------------------------------------------------------------------ the result
@dataclass
class Effects:
    """Δ and what it was computed from.

    Attributes:
        delta: ``[N, 2, S, K]`` float32, ``p_k(edited) − p_k(original)``; direction 0 = toward
            the min, 1 = toward the max. Pairs not computed (screening) are 0.
        base_probs: ``[N, K]`` class probabilities of the un-edited generated images.
        style_min, style_max: ``[S]`` per-coordinate targets (over the N images).
        styles: ``[N, S]`` the images' style vectors, flat over the StyleSpace.
        image_indices: ``[N]`` int64, positions of the images in their dataset split (or -1).
        image_ids: N stable ids (dataset ids).
        layers, sizes: the StyleSpace (synthesis-layer positions and widths).
        computed: ``[2, S]`` bool, the (direction, coordinate) pairs whose Δ was computed.
    """

    delta: torch.Tensor
    base_probs: torch.Tensor
    style_min: torch.Tensor
    style_max: torch.Tensor
    styles: torch.Tensor
    image_indices: torch.Tensor
    image_ids: list[str]
    layers: list[int]
    sizes: list[int]
    include_rgb: bool
    shift_size: float
    class_names: list[str]
    computed: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.computed is None:
            self.computed = torch.ones(2, self.num_coords, dtype=torch.bool)

    @property
    def computed_mask(self) -> torch.Tensor:
        """``[2, S]`` bool: the pairs whose Δ was computed (all when none was recorded)."""
        if self.computed is None:
            return torch.ones(2, self.num_coords, dtype=torch.bool)
        return self.computed

    @property
    def num_images(self) -> int:
        return int(self.delta.shape[0])

    @property
    def num_coords(self) -> int:
        return int(self.delta.shape[2])

    @property
    def num_classes(self) -> int:
        return int(self.delta.shape[3])

    @property
    def space(self) -> StyleSpace:
        return StyleSpace(self.layers, self.sizes)

    @property
    def targets(self) -> torch.Tensor:
        """``[2, S]``: the min (row 0) and max (row 1) targets."""
        return edit_targets(self.style_min, self.style_max)

    @property
    def predicted(self) -> torch.Tensor:
        """``[N]`` the classifier's class for each un-edited generated image."""
        return self.base_probs.argmax(1)

    def edited_predictions(self) -> torch.Tensor:
        """``[N, 2, S]`` the predicted class after each single edit (from base + Δ)."""
        return (self.base_probs[:, None, None, :] + self.delta).argmax(-1)

    # -------------------------------------------------------------------------- files
    def save(self, directory: str | Path) -> None:
        """Write ``effects.safetensors`` (tensors) and ``effects.json`` (ids, meta), atomically."""
        directory = Path(directory)
        tensors = {
            "delta": self.delta.float().contiguous(),
            "base_probs": self.base_probs.float().contiguous(),
            "style_min": self.style_min.float().contiguous(),
            "style_max": self.style_max.float().contiguous(),
            "styles": self.styles.float().contiguous(),
            "image_indices": self.image_indices.to(torch.int64).contiguous(),
            "computed": self.computed_mask.to(torch.uint8).contiguous(),
        }
        atomic_write_bytes(
            directory / "effects.safetensors", st_save({k: v.cpu() for k, v in tensors.items()})
        )
        atomic_write_json(
            directory / "effects.json",
            {
                "format_version": EFFECTS_FORMAT,
                "shape": {
                    "num_images": self.num_images,
                    "directions": list(DIRECTIONS),
                    "num_coords": self.num_coords,
                    "num_classes": self.num_classes,
                },
                "image_ids": list(self.image_ids),
                "class_names": list(self.class_names),
                "style_space": {
                    "layers": list(self.layers),
                    "sizes": list(self.sizes),
                    "include_rgb": self.include_rgb,
                },
                "shift_size": self.shift_size,
                "meta": self.meta,
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> Effects:
        directory = Path(directory)
        tpath, jpath = directory / "effects.safetensors", directory / "effects.json"
        hint = "run `stylex attfind` first"
        if not tpath.is_file():
            raise RunError(f"AttFind effects not found: {tpath} ({hint})")
        j = read_versioned_json(jpath, EFFECTS_FORMAT, what="AttFind effects", hint=hint)
        try:
            t = st_load(tpath.read_bytes())
        except Exception as e:  # safetensors raises its own error types for torn files
            raise RunError(f"cannot read AttFind effects in {directory}: {e}") from e
        sp = j["style_space"]
        return cls(
            delta=t["delta"],
            base_probs=t["base_probs"],
            style_min=t["style_min"],
            style_max=t["style_max"],
            styles=t["styles"],
            image_indices=t["image_indices"],
            image_ids=list(j["image_ids"]),
            layers=list(sp["layers"]),
            sizes=list(sp["sizes"]),
            include_rgb=bool(sp["include_rgb"]),
            shift_size=float(j["shift_size"]),
            class_names=list(j["class_names"]),
            computed=t["computed"].bool(),
            meta=dict(j.get("meta", {})),
        )


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` covering ``0..n`` in chunks of ``size``."""
    return [(a, min(a + size, n)) for a in range(0, n, size)] if n else []


__all__ = [
    "DIRECTIONS",
    "EFFECTS_FORMAT",
    "Effects",
    "ProgressFn",
    "chunk_bounds",
    "default_batch",
    "edit_targets",
    "memory_budget",
    "shifted",
    "style_bounds",
]
