"""Visible strength of an attribute: how far to push it before a person can see the change.

AttFind ranks attributes by their effect on the classifier at its shift size ``t`` (1 = to the
edge of the observed style range). An attribute can move the classifier while its picture
change stays below what a reader notices; the report and the viewer then show before/after
pairs that look identical. For each selected attribute this module measures the *pixel change*
it makes at a ladder of strengths and picks the smallest strength whose change is visible:

* pixel change of one image: the ``quantile`` (default 98th percentile) over pixels of the
  largest absolute change over colour channels, in [-1, 1] units. A high quantile rather than
  the mean, so that a change confined to a small part of the image (a heel, a collar) counts;
  not the maximum, so that one noisy pixel does not.
* an attribute's change at strength ``t``: the mean of that over the images.
* visible: change ≥ ``threshold`` (default 0.2 = 10 % of the intensity range, about the
  smallest step a reader notices side by side on a flat background).

The ladder is in multiples of AttFind's own strength (:func:`ladder_for`), so it starts
there and never goes below it. Strengths above 1 move
the coordinate past the range seen on real images (extrapolation); the result says so
(``extrapolated``) and the report labels such pairs. At the chosen strength the classifier's
response is recorded too (mean signed change of the class probability and the share of images
whose prediction becomes the class), so a reader sees whether the visible change still moves
the classifier.

:func:`pixel_change` is the definition; :func:`difference_image` draws it for the report's and
the viewer's difference view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

DEFAULT_THRESHOLD = 0.2
DEFAULT_QUANTILE = 0.98
DEFAULT_LADDER = (1.0, 1.5, 2.0, 3.0)

Styles = list[torch.Tensor]


@dataclass
class Visibility:
    """The display strength of one attribute and what it does there."""

    shift: float  # the strength shown (smallest visible one on the ladder, else its top)
    change: float  # mean pixel change at that strength ([-1, 1] units)
    visible: bool  # change ≥ threshold
    delta_p: float  # mean signed change of the class probability at that strength
    flip_rate: float  # share of images not predicted as the class that become it
    extrapolated: bool  # shift > 1: past the style range seen on real images
    base_change: float  # pixel change at AttFind's own strength (the ladder's first rung)

    def to_dict(self) -> dict[str, float | bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Visibility:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def ladder_for(shift_size: float, multiples: Sequence[float] = DEFAULT_LADDER) -> list[float]:
    """The strengths to try for an AttFind result made at ``shift_size``."""
    return [float(shift_size) * float(m) for m in multiples]


def pixel_change(
    before: torch.Tensor, after: torch.Tensor, quantile: float = DEFAULT_QUANTILE
) -> torch.Tensor:
    """Per-image pixel change ``[B]``: the ``quantile`` over pixels of ``max_c |after − before|``.

    ``before``/``after``: ``[B, C, H, W]`` in [-1, 1].
    """
    if before.shape != after.shape or before.dim() != 4:
        raise ValueError(
            f"before/after must be equal [B, C, H, W], got {list(before.shape)} / "
            f"{list(after.shape)}"
        )
    diff = (after.float() - before.float()).abs().amax(dim=1).flatten(1)  # [B, H·W]
    return torch.quantile(diff, float(quantile), dim=1)


def difference_image(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` in [-1, 1]: a heat map of where the picture changed.

    Black where nothing changed; red → yellow → white as ``max_c |after − before|`` grows to
    its largest possible value (2 in [-1, 1] units); the scale is fixed, not per image, so
    maps of different attributes compare.
    """
    d = ((after.float() - before.float()).abs().amax(dim=1, keepdim=True) / 2).clamp(0, 1)
    r = (d * 3).clamp(0, 1)
    g = (d * 3 - 1).clamp(0, 1)
    b = (d * 3 - 2).clamp(0, 1)
    return torch.cat([r, g, b], dim=1) * 2 - 1


def attribute_visibility(
    generate: Callable[[Styles], torch.Tensor],
    probs: Callable[[torch.Tensor], torch.Tensor],
    edit: Callable[[Styles, float], Styles],
    styles: Styles,
    class_index: int,
    ladder: Sequence[float] = DEFAULT_LADDER,
    threshold: float = DEFAULT_THRESHOLD,
    quantile: float = DEFAULT_QUANTILE,
) -> Visibility:
    """Climb ``ladder`` (ascending strengths) until the attribute's change is visible.

    ``generate(styles) → images``, ``probs(images) → [B, K]``, ``edit(styles, t) → styles``
    with the attribute applied at strength ``t``; ``styles`` the images to measure on.
    """
    ladder = sorted(float(t) for t in ladder)
    if not ladder or ladder[0] <= 0:
        raise ValueError(f"ladder must hold positive strengths, got {ladder}")
    before = generate(styles)
    base = probs(before)
    p0 = base[:, class_index]
    other = base.argmax(1) != class_index
    first = None
    for t in ladder:
        after = generate(edit(styles, t))
        change = float(pixel_change(before, after, quantile).mean())
        if first is None:
            first = change
        if change >= threshold or t == ladder[-1]:
            p1 = probs(after)
            flips = (p1.argmax(1) == class_index) & other
            return Visibility(
                shift=t,
                change=change,
                visible=change >= threshold,
                delta_p=float((p1[:, class_index] - p0).mean()),
                flip_rate=float(flips.sum() / other.sum().clamp(min=1)),
                extrapolated=t > 1.0,
                base_change=float(first),
            )
    raise AssertionError("unreachable: the ladder's last rung returns")


def annotate_visibility(
    classes: Sequence,  # AttFindResult.classes: each has .attributes (selected, in order)
    generate: Callable[[Styles], torch.Tensor],
    probs: Callable[[torch.Tensor], torch.Tensor],
    edit: Callable[[Styles, object, float], Styles],
    styles: Styles,
    shift_size: float,
    top_k: int = 10,
    num_images: int = 32,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[tuple[int, int], Visibility]:
    """:func:`attribute_visibility` of every class's first ``top_k`` attributes.

    Measured on up to ``num_images`` of ``styles``' images not predicted as the class (the
    images an attribute of the class should move; all images when fewer than 4 qualify).
    ``edit(styles, attribute, t)`` applies one attribute at strength ``t``. The result is also
    stored on each attribute as ``attribute.extra["visibility"]`` (saved with the AttFind
    result, read by the report and the viewer).
    """
    with torch.no_grad():
        predicted = probs(generate(styles)).argmax(1).cpu()
    out: dict[tuple[int, int], Visibility] = {}
    for y, cls in enumerate(classes):
        rows = torch.nonzero(predicted != y).flatten()
        if rows.numel() < 4:
            rows = torch.arange(predicted.numel())
        rows = rows[:num_images]
        sub = [s.index_select(0, rows.to(s.device)) for s in styles]
        for k, attr in enumerate(cls.attributes[:top_k]):

            def edit_one(st: Styles, t: float, attr=attr) -> Styles:
                return edit(st, attr, t)

            with torch.no_grad():
                v = attribute_visibility(
                    generate, probs, edit_one, sub, y, ladder_for(shift_size), threshold
                )
            attr.extra["visibility"] = v.to_dict()
            out[(y, k)] = v
    return out
