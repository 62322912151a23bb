"""A classifier's input contract: what it expects as input and what it returns.

Defaults: ``input_range=(-1, 1)``, ``resolution=None`` (any size), ``channels=None`` (the
data's), no normalisation, ``class_names=[]`` (taken from the data), ``output="logits"``. How
:class:`~stylex.classifier.Classifier` applies a contract is in :mod:`stylex.classifier`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stylex.errors import ClassifierError

CONTRACT_FILE = "stylex_contract.json"
OUTPUTS = ("logits", "probs", "log_probs")


@dataclass
class ClassifierContract:
    """What a classifier expects as input and returns (see the module docstring).

    Attributes:
        input_range: ``(lo, hi)`` the pixel range it expects; stylex maps ``[-1, 1]`` onto it.
        resolution: the square input size it expects, or None for any size.
        channels: 1 or 3, or None for "whatever the data has".
        mean, std: per-channel normalisation applied after the range mapping, or None.
        class_names: its K classes in output order (empty: take the data's).
        output: ``"logits"`` (default), ``"probs"`` or ``"log_probs"``.
        outputs: the outputs to keep, one per data class in the data's order, when the
            classifier has more classes than the data (None: all). Set when the data's
            classes are some of the classifier's named classes; the softmax is then over
            those classes' logits (the classifier's belief given that it is one of them).
        crop: a centred ``crop x crop`` window taken from the images before any resize: the
            data's padding taken off for a classifier trained at the images' native size
            (set by the check when the data was padded from ``resolution``; None: no crop).
    """

    input_range: tuple[float, float] = (-1.0, 1.0)
    resolution: int | None = None
    channels: int | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    class_names: list[str] = field(default_factory=list)
    output: str = "logits"
    outputs: list[int] | None = None
    crop: int | None = None

    def __post_init__(self):
        self.validate()

    @classmethod
    def for_data(cls, dataset) -> ClassifierContract:
        """The contract of a classifier trained on ``dataset`` as stylex feeds it: images in
        [-1, 1] at the data's resolution and channels, its class names, logits out."""
        return cls(
            input_range=(-1.0, 1.0),
            resolution=dataset.resolution,
            channels=dataset.channels,
            class_names=list(dataset.class_names),
            output="logits",
        )

    def validate(self) -> ClassifierContract:
        try:
            lo, hi = (float(v) for v in self.input_range)
        except (TypeError, ValueError):
            raise ClassifierError(
                f"contract input_range must be two numbers (lo, hi), got {self.input_range!r}"
            ) from None
        if not lo < hi:
            raise ClassifierError(f"contract input_range must have lo < hi, got {self.input_range}")
        self.input_range = (lo, hi)
        if self.resolution is not None and (
            not isinstance(self.resolution, int) or self.resolution < 1
        ):
            raise ClassifierError(
                f"contract resolution must be a positive int or null, got {self.resolution!r}"
            )
        if self.channels is not None and self.channels not in (1, 3):
            raise ClassifierError(f"contract channels must be 1, 3 or null, got {self.channels!r}")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is None:
                continue
            v = [float(x) for x in (v if isinstance(v, list | tuple) else [v])]
            if len(v) not in (1, 3) or (
                self.channels is not None and len(v) not in (1, self.channels)
            ):
                raise ClassifierError(
                    f"contract {name} must have 1 or `channels` entries, got {len(v)}"
                )
            setattr(self, name, v)
        if (self.mean is None) != (self.std is None):
            raise ClassifierError("contract needs both mean and std, or neither")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ClassifierError(f"contract std must be positive, got {self.std}")
        self.class_names = [str(c) for c in self.class_names]
        if self.output not in OUTPUTS:
            raise ClassifierError(
                f"contract output must be one of {', '.join(OUTPUTS)}, got {self.output!r}"
            )
        if self.crop is not None and (not isinstance(self.crop, int) or self.crop < 1):
            raise ClassifierError(
                f"contract crop must be a positive int or null, got {self.crop!r}"
            )
        if self.outputs is not None:
            try:
                self.outputs = [int(i) for i in self.outputs]
            except (TypeError, ValueError):
                raise ClassifierError(
                    f"contract outputs must be a list of output indices, got {self.outputs!r}"
                ) from None
            if len(self.outputs) < 2 or min(self.outputs) < 0:
                raise ClassifierError(
                    f"contract outputs must name two or more outputs (indices >= 0), got "
                    f"{self.outputs}"
                )
            if len(set(self.outputs)) != len(self.outputs):
                raise ClassifierError(f"contract outputs repeat an index: {self.outputs}")
            if self.class_names and max(self.outputs) >= len(self.class_names):
                raise ClassifierError(
                    f"contract outputs {self.outputs} index past the classifier's "
                    f"{len(self.class_names)} classes"
                )
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["input_range"] = list(self.input_range)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierContract:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ClassifierError(
                f"unknown contract field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        d = dict(d)
        if "input_range" in d and d["input_range"] is not None:
            d["input_range"] = tuple(d["input_range"])
        return cls(**d)

    def merged(self, overrides: dict) -> ClassifierContract:
        """A copy with the fields in ``overrides`` replaced."""
        return ClassifierContract.from_dict({**self.to_dict(), **overrides})


def contract_dict(contract: Any) -> dict:
    """ClassifierContract | dict | JSON path | JSON text → dict of fields."""
    if isinstance(contract, ClassifierContract):
        return contract.to_dict()
    if isinstance(contract, dict):
        return dict(contract)
    if isinstance(contract, str | os.PathLike):
        text = str(contract)
        if text.lstrip().startswith("{"):
            src = "inline JSON"
        else:
            src = text
            try:
                text = Path(text).read_text()
            except OSError as e:
                raise ClassifierError(f"cannot read contract file {src}: {e}") from e
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ClassifierError(f"contract {src} is not valid JSON: {e}") from e
        if not isinstance(d, dict):
            raise ClassifierError(f"contract {src} must be a JSON object")
        return d
    raise ClassifierError(
        f"contract must be a ClassifierContract, dict or JSON path, got {contract!r}"
    )
