"""Image files for ``stylex explain`` → a batch in stylex's convention."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from stylex.data.decode import decode_image
from stylex.errors import DataError
from stylex.utils.images import from_uint8


def read_images(paths: Sequence[str | os.PathLike], resolution: int, channels: int) -> torch.Tensor:
    """Image files (any format/size/mode Pillow reads) → ``[B, channels, R, R]`` in [-1, 1],
    decoded and converted by the data layer (:mod:`stylex.data.decode`: pad or resize+crop,
    grey ↔ RGB, alpha over black). Raises :class:`~stylex.errors.DataError` naming every bad
    file."""
    arrays, bad = [], []
    for path in paths:
        try:
            arrays.append(decode_image(path, resolution, channels))
        except ValueError as e:  # a DecodeError, or a conversion failure
            bad.append(f"  {path}: {e}")
    if bad:
        raise DataError(f"cannot read {len(bad)} image file(s):\n" + "\n".join(bad))
    if not arrays:
        raise DataError("no image files given")
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return from_uint8(x)
