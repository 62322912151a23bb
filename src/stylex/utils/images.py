"""Image tensors ↔ PNG/GIF bytes and grids (Pillow only)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylex.utils.fs import atomic_write_bytes


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
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    return pil


def make_grid(
    images: torch.Tensor, nrow: int, pad: int = 1, pad_value: float = 1.0
) -> torch.Tensor:
    """[B, C, H, W] → one image [C, H', W'] with ``nrow`` images per row."""
    b, c, h, w = images.shape
    ncol = nrow
    nrows = (b + ncol - 1) // ncol
    grid = torch.full((c, nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value,
                      dtype=images.dtype, device=images.device)
    for i in range(b):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, y : y + h, x : x + w] = images[i]
    return grid


def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    buf = io.BytesIO()
    to_pil(image, scale).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: torch.Tensor, scale: int = 1, duration_ms: int = 80) -> bytes:
    """Frames [T, C, H, W] in [-1, 1] → looping animated GIF bytes (forth and back)."""
    pils = [to_pil(f, scale).convert("RGB") for f in frames]
    pils = pils + pils[-2:0:-1]
    buf = io.BytesIO()
    pils[0].save(buf, format="GIF", save_all=True, append_images=pils[1:], duration=duration_ms,
                 loop=0)
    return buf.getvalue()


def save_png(image: torch.Tensor, path: str | os.PathLike, scale: int = 1) -> Path:
    atomic_write_bytes(path, png_bytes(image, scale))
    return Path(path)
