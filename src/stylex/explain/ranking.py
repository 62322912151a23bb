"""Per-image ranking: which (coordinate, direction) edits are candidates, toward which class,
and the top ones by the image's own effect (one direction per coordinate)."""

from __future__ import annotations

import torch

from stylex.attfind.api import AttFindResult
from stylex.attfind.effects import DIRECTIONS  # the Effects record's direction order
from stylex.attfind.select import Attribute
from stylex.errors import StylexError
from stylex.models.generator import StyleSpace

CANDIDATES = ("attributes", "all")


def candidate_mask(
    result: AttFindResult, total: int, mode: str
) -> tuple[torch.Tensor, dict[tuple[int, int], list[str]]]:
    """``[2, S]`` mask of the candidate (direction, coordinate) pairs (``mode``: AttFind's
    ``"attributes"`` of all classes, or ``"all"``) and, per pair, the classes (with ranks)
    that AttFind selected it for."""
    if mode not in CANDIDATES:
        raise StylexError(f"candidates must be one of {CANDIDATES}, got {mode!r}")
    sources: dict[tuple[int, int], list[str]] = {}
    for c in result.classes:
        for r, a in enumerate(c.attributes):
            sources.setdefault((a.direction_index, a.index), []).append(f"{c.name} #{r + 1}")
    mask = torch.zeros(2, total, dtype=torch.bool)
    if mode == "all" or not sources:
        mask[:] = True
    else:
        for d, i in sources:
            mask[d, i] = True
    return mask, sources


def target_class(
    probs: torch.Tensor, predicted: int, num_classes: int, fixed: int | None = None
) -> int:
    """The class to rank toward: ``fixed`` if given, else the most probable class other than
    ``predicted`` (``probs [K]``; with one class, ``predicted``)."""
    if fixed is not None:
        return fixed
    p = probs.clone()
    p[predicted] = -1.0
    return int(p.argmax()) if num_classes > 1 else predicted


def top_per_coordinate(
    effect: torch.Tensor, pairs: torch.Tensor, top_k: int
) -> list[tuple[int, int, float]]:
    """The ``top_k`` largest ``effect [P]`` of the ``pairs [P, 2]`` (direction, coordinate),
    one direction per coordinate (the better one): ``[(direction, coordinate, effect)]``."""
    order = torch.argsort(effect, descending=True, stable=True)
    chosen: list[tuple[int, int, float]] = []
    seen: set[int] = set()
    for j in order.tolist():
        d, i = int(pairs[j, 0]), int(pairs[j, 1])
        if i in seen:
            continue
        seen.add(i)
        chosen.append((d, i, float(effect[j])))
        if len(chosen) == top_k:
            break
    return chosen


def make_attribute(
    space: StyleSpace, targets: torch.Tensor, d: int, i: int, delta: float
) -> Attribute:
    """The :class:`~stylex.attfind.Attribute` moving coordinate ``i`` in direction ``d``
    toward ``targets[d, i]``, with this image's effect ``delta``."""
    layer, ch = space.locate(i)
    return Attribute(
        layer=layer,
        channel=ch,
        index=i,
        direction=DIRECTIONS[d],
        target=float(targets[d, i]),
        effect=float(delta),
        flipped=0,
    )
