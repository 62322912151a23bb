"""Display strength of an attribute: how far to push it before a reader sees it act.

AttFind ranks attributes by their effect on the classifier at its shift size ``t`` (1 = to the
edge of the style range seen on real images). Measured on the shipped Fashion-MNIST run, its
top attributes already change the picture at ``t = 1`` (98th-percentile pixel change 0.2–1.0)
but move the class probability by only ~0.01, so the report's before/after pairs showed
changes that the classifier ignores; at ``t = 3–4`` the same attributes flip 40–100 % of the
images (``benchmarks/recipe_log.md``). For each selected attribute this module climbs a ladder
of strengths and picks the smallest one at which the edit is both

* visible: the mean over images of the per-image *pixel change* (the ``quantile``, default
  98th percentile, over pixels of the largest absolute change over colour channels, in [-1, 1]
  units; a high quantile rather than the mean so that a change confined to a small part of the
  image counts, not the maximum so that one noisy pixel does not) is ≥ ``threshold`` (default
  0.2, 10 % of the intensity range); and
* acting: the mean signed change of the class probability is ≥ ``min_delta_p`` (default 0.1).

When no rung qualifies the top rung is used and the result says which condition failed. The
ladder is in multiples of AttFind's own strength (:func:`ladder_for`, default up to 4×), so it
starts there and never goes below it. Strengths above 1 move the coordinate past the range
seen on real images (extrapolation): the result says so (``extrapolated``) and the report and
viewer label such pairs. The classifier's response at the chosen strength (``delta_p``, the
share of images that flip to the class) is recorded beside it.

:func:`pixel_change` is the definition; :func:`difference_image` draws it for the report's and
the viewer's difference view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from stylex.models.stylespace import EditContext, edit, synthesize_batched

VISIBILITY_KEY = "visibility"  # where an attribute carries it (Attribute.extra, attributes.json)
DEFAULT_THRESHOLD = 0.2
DEFAULT_QUANTILE = 0.98
DEFAULT_MIN_DELTA_P = 0.1
DEFAULT_LADDER = (1.0, 1.5, 2.0, 3.0, 4.0)

Styles = list[torch.Tensor]


@dataclass
class Visibility:
    """The display strength of one attribute and what it does there."""

    shift: float  # the strength shown (smallest visible one on the ladder, else its top)
    change: float  # mean pixel change at that strength ([-1, 1] units)
    visible: bool  # change ≥ threshold
    delta_p: float  # mean signed change of the class probability at that strength
    acts: bool  # delta_p ≥ min_delta_p
    flip_rate: float  # share of images not predicted as the class that become it
    extrapolated: bool  # shift > 1: past the style range seen on real images
    base_change: float  # pixel change at AttFind's own strength (the ladder's first rung)
    base_delta_p: float  # delta_p at AttFind's own strength

    def to_dict(self) -> dict[str, float | bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Visibility:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def stored_visibility(attribute) -> Visibility | None:
    """The display strength AttFind stored on ``attribute`` (None for results made before
    AttFind recorded it): the one reader of ``attribute.extra["visibility"]``."""
    d = attribute.extra.get(VISIBILITY_KEY)
    return Visibility.from_dict(d) if d else None


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
    min_delta_p: float = DEFAULT_MIN_DELTA_P,
) -> Visibility:
    """Climb ``ladder`` (ascending strengths) until the attribute's change is visible and
    moves the class probability by ``min_delta_p``.

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
    first: tuple[float, float] | None = None
    for t in ladder:
        after = generate(edit(styles, t))
        change = float(pixel_change(before, after, quantile).mean())
        p1 = probs(after)
        delta_p = float((p1[:, class_index] - p0).mean())
        if first is None:
            first = (change, delta_p)
        visible, acts = change >= threshold, delta_p >= min_delta_p
        if (visible and acts) or t == ladder[-1]:
            flips = (p1.argmax(1) == class_index) & other
            return Visibility(
                shift=t,
                change=change,
                visible=visible,
                delta_p=delta_p,
                acts=acts,
                flip_rate=float(flips.sum() / other.sum().clamp(min=1)),
                extrapolated=t > 1.0,
                base_change=first[0],
                base_delta_p=first[1],
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
    min_delta_p: float = DEFAULT_MIN_DELTA_P,
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
                    generate,
                    probs,
                    edit_one,
                    sub,
                    y,
                    ladder_for(shift_size),
                    threshold,
                    min_delta_p=min_delta_p,
                )
            attr.extra[VISIBILITY_KEY] = v.to_dict()
            out[(y, k)] = v
    return out


def annotate_with_context(
    ctx: EditContext,
    classes: Sequence,
    styles: Styles,
    top_k: int,
    num_images: int = 32,
    batch: int = 64,
) -> dict[tuple[int, int], Visibility]:
    """:func:`annotate_visibility` with the generator, classifier and StyleSpace of ``ctx``
    (AttFind's edit context; images rendered with constant noise, as everywhere else)."""

    def generate(st: Styles) -> torch.Tensor:
        return synthesize_batched(ctx.generator, st, batch)

    def edit_attr(st: Styles, attr, t: float) -> Styles:
        return edit(st, ctx.space, attr.index, attr.target, t)

    return annotate_visibility(
        classes,
        generate,
        ctx.probs,
        edit_attr,
        styles,
        ctx.shift_size,
        top_k=top_k,
        num_images=num_images,
    )
