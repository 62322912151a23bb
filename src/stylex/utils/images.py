"""Image tensors: the uint8 ↔ [-1, 1] conversion, the resolution/channel rules, PNG/GIF bytes
and grids (Pillow only).

stylex stores images as uint8 and models see them as float in ``[-1, 1]``: :func:`from_uint8`
(``x / 127.5 - 1``) and :func:`to_uint8` (``round((x + 1)·127.5)``, clamped) are the one
implementation of that mapping. :func:`check_resolution` / :func:`check_channels` are the one
check of a resolution (a power of two in 16…256) and a channel count (1 or 3).
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylex.errors import ImageSpecError
from stylex.utils.fs import atomic_write_bytes

MIN_RESOLUTION = 16
MAX_RESOLUTION = 256


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is a power of two in 16…256, else raise
    :class:`~stylex.errors.ImageSpecError` (a ``DataError`` and a ``ValueError``)."""
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int | np.integer)
        or resolution < MIN_RESOLUTION
        or resolution > MAX_RESOLUTION
        or resolution & (resolution - 1)
    ):
        raise ImageSpecError(
            f"resolution must be a power of two between {MIN_RESOLUTION} and {MAX_RESOLUTION} "
            f"(16, 32, 64, 128, 256), got {resolution!r}"
        )
    return int(resolution)


def check_channels(channels: int, what: str = "channels") -> int:
    """Return ``channels`` if it is 1 or 3, else raise :class:`~stylex.errors.ImageSpecError`
    naming the field ``what``."""
    if channels not in (1, 3):
        raise ImageSpecError(f"{what} must be 1 (grey) or 3 (RGB), got {channels!r}")
    return int(channels)


def from_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (any shape, e.g. ``[B, C, H, W]``) → float32 in ``[-1, 1]``.

    ``x / 127.5 − 1``: the one implementation of stylex's uint8 → model-input mapping."""
    return images.float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, C, H, W] (or [C, H, W]) in [-1, 1] → uint8 array [B, H, W, C]."""
    if images.dim() == 3:
        images = images[None]
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def to_pil(image: torch.Tensor, scale: int = 1) -> Image.Image:
    """One image [C, H, W] in [-1, 1] → PIL image (grey or RGB), upscaled by ``scale`` (nearest)."""
    arr = to_uint8(image)[0]
    pil = Image.fromarray(arr[..., 0], "L") if arr.shape[-1] == 1 else Image.fromarray(arr, "RGB")
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    return pil


def make_grid(
    images: torch.Tensor, nrow: int, pad: int = 1, pad_value: float = 1.0
) -> torch.Tensor:
    """[B, C, H, W] → one image [C, H', W'] with ``nrow`` images per row."""
    b, c, h, w = images.shape
    ncol = nrow
    nrows = (b + ncol - 1) // ncol
    grid = torch.full(
        (c, nrows * (h + pad) + pad, ncol * (w + pad) + pad),
        pad_value,
        dtype=images.dtype,
        device=images.device,
    )
    for i in range(b):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, y : y + h, x : x + w] = images[i]
    return grid


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:<mime>;base64,…`` for embedding bytes in a page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    buf = io.BytesIO()
    to_pil(image, scale).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: torch.Tensor, scale: int = 1, duration_ms: int = 80) -> bytes:
    """Frames [T, C, H, W] in [-1, 1] → looping animated GIF bytes (forth and back)."""
    pils = [to_pil(f, scale).convert("RGB") for f in frames]
    pils = pils + pils[-2:0:-1]
    buf = io.BytesIO()
    pils[0].save(
        buf, format="GIF", save_all=True, append_images=pils[1:], duration=duration_ms, loop=0
    )
    return buf.getvalue()


def save_png(image: torch.Tensor, path: str | os.PathLike, scale: int = 1) -> Path:
    atomic_write_bytes(path, png_bytes(image, scale))
    return Path(path)
