"""The viewer's state and answers: one opened image (:class:`Session`), an edited rendering,
a flip's outcome, and the error a request gets (:class:`ViewerError`, with its HTTP status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from stylex.attfind.select import Attribute
from stylex.errors import RunError, StylexError


def one_per_coordinate(attributes: Sequence[Attribute]) -> list[Attribute]:
    """``attributes`` in order, keeping the first of each style coordinate (a slider sets a
    coordinate)."""
    seen, out = set(), []
    for a in attributes:
        if a.index not in seen:
            seen.add(a.index)
            out.append(a)
    return out


class ViewerError(StylexError):
    """A request the viewer cannot serve; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def check_attfind(run_dir: str | Path) -> Path:
    """``RUN/attfind`` if it holds an AttFind result, else a :class:`RunError` telling the user
    how to make one."""
    path = Path(run_dir) / "attfind"
    if not (path / "attributes.json").is_file():
        raise RunError(
            f"{run_dir} has no AttFind result ({path / 'attributes.json'} missing): "
            f"run `stylex attfind --run {run_dir}` first"
        )
    return path


@dataclass
class Session:
    """One encoded image and its cached activations.

    Attributes:
        id: the session id (URL-safe random token).
        styles: per-layer style vectors of the reconstruction, each ``[1, C_l]``.
        flat: ``[S]`` the same over the AttFind StyleSpace, on the CPU.
        image: ``[1, C, R, R]`` the input in [-1, 1]; ``input_probs [K]`` its probabilities.
        reconstruction: ``[1, C, R, R]`` ``G(s)``; ``probs [K]`` its probabilities.
        states: synthesis state before layer ``l`` (un-edited styles), by ``l``.
        source: ``{"index": i}`` for a held-out image, ``{"upload": name}`` for an upload.
    """

    id: str
    styles: list[torch.Tensor]
    flat: torch.Tensor
    image: torch.Tensor
    input_probs: torch.Tensor
    reconstruction: torch.Tensor
    probs: torch.Tensor
    states: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    def value(self, index: int) -> float:
        return float(self.flat[index])


@dataclass
class Rendered:
    """An edited image ``[1, C, R, R]``, its probabilities ``[K]``, the edited coordinates and
    the first re-run layer (None: nothing edited, the reconstruction) and the time it took."""

    image: torch.Tensor
    probs: torch.Tensor
    edited: dict[int, float]
    start_layer: int | None
    seconds: float


@dataclass
class FlipOutcome:
    """``values`` (flat index → style value) for the class's sliders after the flip; ``needed``
    = attributes applied when the predicted class changed (None: it did not change with all of
    them); ``steps[j]`` = probabilities after applying attributes ``0..j``."""

    values: dict[int, float]
    needed: int | None
    steps: list[torch.Tensor]
    image: torch.Tensor
    probs: torch.Tensor
    predicted_before: int
    predicted_after: int
    seconds: float
    already: bool = False  # the reconstruction is already predicted as the class: no edit
