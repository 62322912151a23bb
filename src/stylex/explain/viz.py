"""Drawing with PIL: captioned image tiles, rows of tiles, the per-image explanation panel.

General pieces (:func:`display_scale`, :func:`font`, :func:`captioned`, :func:`hstack`,
:func:`short`, :func:`attribute_label`) for the report and the viewer, and
:func:`explanation_panel` for ``stylex explain`` and :meth:`stylex.pipeline.Explanation.panel`.
Images are ``[C, R, R]`` in ``[-1, 1]``, upscaled by an integer factor (nearest neighbour).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw, ImageFont

from stylex.attfind.select import Attribute
from stylex.explain.results import Counterfactual, ImageExplanation
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
    """``name`` cut to ``n`` characters (ending ``..``) for a caption."""
    return name if len(name) <= n else name[: n - 2] + ".."


def attribute_label(a: Attribute) -> str:
    """``L3 c17 max``: an attribute's layer, channel and direction."""
    return f"L{a.layer} c{a.channel} {a.direction}"


FLIP_COLOUR = (214, 39, 40)


@dataclass
class Tile:
    """One image of an explanation as shown: ``kind`` is ``"input"``, ``"reconstruction"``,
    ``"single"`` (one top attribute alone, ``rank`` 1…) or ``"subset"`` (the top attributes
    together); ``flipped``: its predicted class differs from the reconstruction's (never for
    the input and the reconstruction); ``counterfactual``: the edit, for the last two kinds."""

    kind: str
    image: torch.Tensor
    probs: torch.Tensor
    flipped: bool = False
    rank: int = 0
    counterfactual: Counterfactual | None = None


def explanation_tiles(e: ImageExplanation) -> list[Tile]:
    """The images of an explanation in display order: input | reconstruction | each top
    attribute alone | the subset counterfactual (:func:`explanation_panel`, the report)."""
    p = e.predicted
    tiles = [
        Tile("input", e.image, e.input_probs),
        Tile("reconstruction", e.reconstruction, e.probs),
    ]
    for r, c in enumerate(e.independent):
        tiles.append(Tile("single", c.image, c.probs, int(c.probs.argmax()) != p, r + 1, c))
    if e.subset:
        c = e.subset[-1]
        tiles.append(Tile("subset", c.image, c.probs, int(c.probs.argmax()) != p, 0, c))
    return tiles


def probability_lines(e: ImageExplanation, probs: torch.Tensor) -> list[str]:
    """``p(predicted)=…`` and, when it differs, ``p(target)=…`` of ``probs [K]``."""
    names, p, t = e.class_names, e.predicted, e.target
    lines = [f"p({short(names[p])})={float(probs[p]):.2f}"]
    if t != p:
        lines.append(f"p({short(names[t])})={float(probs[t]):.2f}")
    return lines


def tile_label(e: ImageExplanation, tile: Tile) -> str:
    """The panel's first caption line of a tile."""
    if tile.kind == "single" and tile.counterfactual is not None:
        return f"#{tile.rank} {attribute_label(tile.counterfactual.attributes[-1])}"
    if tile.kind == "subset":
        return f"top {e.subset_size} (flip)" if e.flipped else f"top {len(e.subset)}: no flip"
    return tile.kind


def explanation_panel(e: ImageExplanation, scale: int | None = None) -> Image.Image:
    """A PNG-ready panel: input | reconstruction | each top attribute alone | the subset
    counterfactual, with the predicted and target classes' probabilities under each image.
    Images whose predicted class differs from the reconstruction's are framed in red."""
    scale = scale or display_scale(e.image.shape[-1])
    tiles = [
        captioned(
            t.image,
            [tile_label(e, t), *probability_lines(e, t.probs)],
            scale,
            FLIP_COLOUR if t.flipped else None,
        )
        for t in explanation_tiles(e)
    ]
    title = (e.name + ": " if e.name else "") + e.summary()
    return hstack(tiles, title)
