"""The typed outputs of :class:`~stylex.explain.Explainer`: an attribute shown on images, a
counterfactual, one image's explanation (tensors in ``[-1, 1]``, probabilities ``[K]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from stylex.attfind.select import Attribute


@dataclass
class AttributeView:
    """One class's attribute shown on the images it moves most.

    Attributes:
        class_name, class_index: the class the attribute was selected for (``y``).
        rank: the attribute's position in the class's list (0 = top).
        attribute: the :class:`~stylex.attfind.Attribute`.
        shift_size: the edit strength used.
        image_ids, image_indices: the images shown (ids and positions in the run's split).
        real: ``[M, C, R, R]`` the real images, in [-1, 1].
        originals: ``[M, C, R, R]`` their reconstructions ``G(E(x))`` (the un-edited images).
        edited: ``[M, C, R, R]`` the reconstructions with the attribute applied.
        probs_before, probs_after: ``[M, K]`` class probabilities of ``originals``/``edited``.
    """

    class_name: str
    class_index: int
    rank: int
    attribute: Attribute
    shift_size: float
    image_ids: list[str]
    image_indices: torch.Tensor
    real: torch.Tensor
    originals: torch.Tensor
    edited: torch.Tensor
    probs_before: torch.Tensor
    probs_after: torch.Tensor

    @property
    def delta(self) -> torch.Tensor:
        """``[M]`` change of the class's probability, ``p_y(edited) − p_y(original)``."""
        y = self.class_index
        return self.probs_after[:, y] - self.probs_before[:, y]

    @property
    def flipped(self) -> torch.Tensor:
        """``[M]`` bool: the edit makes the classifier predict the class."""
        y = self.class_index
        return (self.probs_after.argmax(1) == y) & (self.probs_before.argmax(1) != y)


@dataclass
class Counterfactual:
    """The reconstruction of one image with some attributes applied.

    ``image [C, R, R]`` in [-1, 1]; ``probs [K]``; ``delta`` = change of the target class's
    probability against the reconstruction; ``sources[j]`` names the classes (and ranks) for
    which AttFind selected ``attributes[j]`` (empty for a coordinate outside AttFind's lists).
    """

    attributes: list[Attribute]
    image: torch.Tensor
    probs: torch.Tensor
    delta: float
    sources: list[list[str]] = field(default_factory=list)

    @property
    def predicted(self) -> int:
        return int(self.probs.argmax())


@dataclass
class ImageExplanation:
    """Why the classifier says what it says about one image (see the module docstring).

    Attributes:
        image: ``[C, R, R]`` the input in [-1, 1]; ``input_probs [K]`` its class probabilities.
        reconstruction: ``[C, R, R]`` ``G(E(x))``; ``probs [K]`` its class probabilities.
        predicted: the class predicted on the reconstruction (what the counterfactuals change);
            ``target``: the class the attributes were ranked toward.
        independent: the top attributes, ranked by this image's own Δ toward ``target``, each
            applied alone.
        subset: cumulative counterfactuals (``subset[j]`` applies ``independent[0..j]``),
            computed up to the first flip.
        subset_size: how many top attributes were needed to change the predicted class (None:
            it did not change with all of them).
        class_names: the K class names.
    """

    image: torch.Tensor
    input_probs: torch.Tensor
    reconstruction: torch.Tensor
    probs: torch.Tensor
    predicted: int
    target: int
    independent: list[Counterfactual]
    subset: list[Counterfactual]
    subset_size: int | None
    class_names: list[str]
    shift_size: float = 1.0
    candidates: str = "attributes"
    name: str = ""

    @property
    def flipped(self) -> bool:
        return self.subset_size is not None

    @property
    def subset_counterfactual(self) -> Counterfactual | None:
        """The subset counterfactual: at the flip, or with all top attributes if none."""
        return self.subset[-1] if self.subset else None

    def summary(self) -> str:
        """One line: prediction, target and the subset counterfactual's outcome."""
        names = self.class_names
        p, t = self.predicted, self.target
        head = f"predicted {names[p]!r} ({float(self.probs[p]):.2f} on the reconstruction)"
        if not self.independent:
            return head + "; no candidate attributes"
        if self.flipped:
            sub = self.subset[-1]
            tail = (
                f"flips to {names[sub.predicted]!r} ({float(sub.probs[sub.predicted]):.2f}) "
                f"with the top {self.subset_size} attribute(s)"
            )
        else:
            tail = f"does not flip with the top {len(self.independent)} attribute(s)"
        return f"{head}; toward {names[t]!r}: {tail}"

    def to_dict(self) -> dict[str, Any]:
        """The numbers (no images), JSON-ready."""
        names = self.class_names

        def probs(p: torch.Tensor) -> dict[str, float]:
            return {n: round(float(v), 6) for n, v in zip(names, p)}

        def attr(a: Attribute) -> dict[str, Any]:
            return {
                "layer": a.layer,
                "channel": a.channel,
                "index": a.index,
                "direction": a.direction,
                "target": a.target,
            }

        return {
            "name": self.name,
            "input_probs": probs(self.input_probs),
            "reconstruction_probs": probs(self.probs),
            "predicted": names[self.predicted],
            "target": names[self.target],
            "shift_size": self.shift_size,
            "candidates": self.candidates,
            "independent": [
                {
                    "rank": r + 1,
                    **attr(c.attributes[-1]),
                    "delta": round(c.delta, 6),
                    "selected_for": c.sources[-1] if c.sources else [],
                    "probs": probs(c.probs),
                    "predicted": names[c.predicted],
                }
                for r, c in enumerate(self.independent)
            ],
            "subset": {
                "flipped": self.flipped,
                "attributes_needed": self.subset_size,
                "steps": [
                    {
                        "num_attributes": j + 1,
                        "probs": probs(c.probs),
                        "predicted": names[c.predicted],
                    }
                    for j, c in enumerate(self.subset)
                ],
            },
        }


def first_flip(predicted: int, step_probs: torch.Tensor) -> int | None:
    """The number of cumulative steps after which the predicted class is no longer
    ``predicted`` (``step_probs [T, K]``: probabilities after steps 1..T), or None."""
    changed = (step_probs.argmax(1) != predicted).nonzero().flatten()
    return int(changed[0]) + 1 if changed.numel() else None
