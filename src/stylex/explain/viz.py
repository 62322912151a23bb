"""Drawing with PIL: captioned image tiles, rows of tiles, the per-image explanation panel.

General pieces (:func:`display_scale`, :func:`font`, :func:`captioned`, :func:`hstack`,
:func:`short`, :func:`attribute_label`) for the report and the viewer, and
:func:`explanation_panel` for ``stylex explain`` and :meth:`stylex.pipeline.Explanation.panel`.
Images are ``[C, R, R]`` in ``[-1, 1]``, upscaled by an integer factor (nearest neighbour).
"""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw, ImageFont

from stylex.attfind.select import Attribute
from stylex.explain.results import ImageExplanation
from stylex.utils.images import to_pil

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


def display_scale(resolution: int, target: int = 128) -> int:
    """Integer nearest-neighbour upscaling that makes ``resolution``-px images about
    ``target`` px (×8 for 16 px, ×4 for 32 px, ×1 from 128 px)."""
    return max(1, target // max(1, int(resolution)))


def font(size: int = 12) -> Font:
    """Pillow's default font (a scalable one where Pillow has FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def fit_text(draw: ImageDraw.ImageDraw, text: str, fnt: Font, width: int) -> str:
    """``text``, cut and ended with ``..`` where it is wider than ``width`` pixels."""
    if draw.textlength(text, font=fnt) <= width:
        return text
    while text and draw.textlength(text + "..", font=fnt) > width:
        text = text[:-1]
    return text + ".."


def captioned(
    image: torch.Tensor,
    lines: list[str],
    scale: int,
    border: tuple[int, int, int] | None = None,
    size: int = 12,
) -> Image.Image:
    """One image ``[C, R, R]`` upscaled ``scale``× (nearest) with text lines drawn under it
    (default font); an optional coloured frame marks it."""
    tile = to_pil(image, scale).convert("RGB")
    fnt = font(size)
    pad, line_h = 4, size + 3
    w = max(tile.width, 96)
    h = tile.height + pad + line_h * len(lines) + pad
    canvas = Image.new("RGB", (w + 2 * pad, h + pad), "white")
    x0 = pad + (w - tile.width) // 2
    canvas.paste(tile, (x0, pad))
    draw = ImageDraw.Draw(canvas)
    if border is not None:
        draw.rectangle(
            (x0 - 2, pad - 2, x0 + tile.width + 1, pad + tile.height + 1), outline=border, width=2
        )
    y = pad + tile.height + pad
    for line in lines:
        draw.text((pad, y), fit_text(draw, line, fnt, w), fill=(20, 20, 20), font=fnt)
        y += line_h
    return canvas


def hstack(tiles: list[Image.Image], title: str = "", size: int = 13) -> Image.Image:
    """Tiles side by side (top-aligned) under an optional title line."""
    fnt = font(size)
    head = size + 10 if title else 0
    w = sum(t.width for t in tiles)
    h = max(t.height for t in tiles) + head
    canvas = Image.new("RGB", (max(w, 1), h), "white")
    if title:
        ImageDraw.Draw(canvas).text((6, 4), title, fill=(0, 0, 0), font=fnt)
    x = 0
    for t in tiles:
        canvas.paste(t, (x, head))
        x += t.width
    return canvas


def short(name: str, n: int = 12) -> str:
    return name if len(name) <= n else name[: n - 2] + ".."


def attribute_label(a: Attribute) -> str:
    return f"L{a.layer} c{a.channel} {a.direction}"


FLIP_COLOUR = (214, 39, 40)


def explanation_panel(e: ImageExplanation, scale: int | None = None) -> Image.Image:
    """A PNG-ready panel: input | reconstruction | each top attribute alone | the subset
    counterfactual, with the predicted and target classes' probabilities under each image.
    Images whose predicted class differs from the reconstruction's are framed in red."""
    names = e.class_names
    p, t = e.predicted, e.target
    scale = scale or display_scale(e.image.shape[-1])

    def prob_lines(probs: torch.Tensor) -> list[str]:
        lines = [f"p({short(names[p])})={float(probs[p]):.2f}"]
        if t != p:
            lines.append(f"p({short(names[t])})={float(probs[t]):.2f}")
        return lines

    def frame(probs: torch.Tensor):
        return FLIP_COLOUR if int(probs.argmax()) != p else None

    tiles = [
        captioned(e.image, ["input", *prob_lines(e.input_probs)], scale),
        captioned(e.reconstruction, ["reconstruction", *prob_lines(e.probs)], scale),
    ]
    for r, c in enumerate(e.independent):
        label = f"#{r + 1} {attribute_label(c.attributes[-1])}"
        tiles.append(captioned(c.image, [label, *prob_lines(c.probs)], scale, frame(c.probs)))
    if e.subset:
        c = e.subset[-1]
        label = f"top {e.subset_size} (flip)" if e.flipped else f"top {len(e.subset)}: no flip"
        tiles.append(captioned(c.image, [label, *prob_lines(c.probs)], scale, frame(c.probs)))
    title = (e.name + ": " if e.name else "") + e.summary()
    return hstack(tiles, title)
