"""The report's animations and image files: sweep GIFs with the class probability, upscaled
sample grids."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylex.explain import font
from stylex.report.html import pil_png
from stylex.utils.images import to_pil


def sweep_gif(
    frames: torch.Tensor,
    probs: torch.Tensor,
    class_index: int,
    scale: int,
    duration_ms: int = 110,
    max_side: int = 160,
) -> bytes:
    """Frames ``[T, C, R, R]`` → looping GIF (forth and back) with the class probability
    drawn as a bar and a number under each frame; frames wider than ``max_side`` px are
    shrunk to it."""
    fnt = font(11)
    pils = []
    for f, p in zip(frames, probs[:, class_index].tolist()):
        tile = to_pil(f, scale).convert("RGB")
        if tile.width > max_side:  # large images: a smaller animation keeps the page light
            tile = tile.resize(
                (max_side, max_side * tile.height // tile.width), Image.Resampling.LANCZOS
            )
        w = tile.width
        canvas = Image.new("RGB", (w, tile.height + 18), "white")
        canvas.paste(tile, (0, 0))
        d = ImageDraw.Draw(canvas)
        y, bar_end = tile.height + 3, max(8, w - 32)
        d.rectangle((1, y, bar_end, y + 12), outline=(190, 196, 208))
        d.rectangle((2, y + 1, 2 + int((bar_end - 3) * p), y + 11), fill=(47, 95, 208))
        d.text((bar_end + 3, y), f"{p:.2f}", fill=(0, 0, 0), font=fnt)
        pils.append(canvas)
    pils = pils + pils[-2:0:-1]
    buf = io.BytesIO()
    pils[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=pils[1:],
        duration=duration_ms,
        loop=0,
        optimize=True,
    )
    return buf.getvalue()


def upscale_png(path: Path, min_width: int = 640, max_scale: int = 8) -> tuple[bytes, int, int]:
    """A PNG file, nearest-upscaled by an integer factor to at least ``min_width`` px wide."""
    with Image.open(path) as f:
        f.load()
        scale = max(1, min(max_scale, math.ceil(min_width / max(1, f.width))))
        im = (
            f.resize((f.width * scale, f.height * scale), Image.Resampling.NEAREST)
            if scale > 1
            else f
        )
        return pil_png(im), im.width, im.height
