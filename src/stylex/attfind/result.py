"""AttFind's result: per-class ordered attributes and the effects they were selected from.

Written as ``attributes.json`` (``format_version`` 1: the classes' attributes, AttFind's
settings and counts, the StyleSpace, the unstable images) beside the effects' files
(:mod:`stylex.attfind.effects`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from stylex.attfind.effects import Effects
from stylex.attfind.select import ClassAttributes
from stylex.utils.fs import atomic_write_json, read_versioned_json

ATTRIBUTES_FORMAT = 1


@dataclass
class AttFindResult:
    """Per-class ordered attributes plus the effects they were selected from.

    ``classes[k].attributes`` is class k's ordered list of
    :class:`~stylex.attfind.select.Attribute` (layer, channel, index, direction, target, effect,
    flipped, …). ``config`` holds the settings and counts (num_images, shift_size, include_rgb,
    screen, …); ``unstable`` marks the images dropped as unstable.
    """

    classes: list[ClassAttributes]
    effects: Effects
    config: dict[str, Any] = field(default_factory=dict)
    unstable: torch.Tensor | None = None

    def __getitem__(self, key: int | str) -> ClassAttributes:
        if isinstance(key, str):
            for c in self.classes:
                if c.name == key:
                    return c
            raise KeyError(f"no class {key!r}; classes: {[c.name for c in self.classes]}")
        return self.classes[key]

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def to_json(self) -> dict[str, Any]:
        unstable = [] if self.unstable is None else self.unstable.nonzero().flatten().tolist()
        return {
            "format_version": ATTRIBUTES_FORMAT,
            "classes": [c.to_dict() for c in self.classes],
            **self.config,
            "num_images": self.effects.num_images,
            "shift_size": self.effects.shift_size,
            "include_rgb": self.effects.include_rgb,
            "style_space": {"layers": self.effects.layers, "sizes": self.effects.sizes},
            "unstable_images": unstable,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``attributes.json``, ``effects.safetensors`` and ``effects.json`` (atomically)."""
        directory = Path(directory)
        self.effects.save(directory)
        atomic_write_json(directory / "attributes.json", self.to_json())
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> AttFindResult:
        """Read a result written by :meth:`save` (e.g. ``RUN/attfind``)."""
        directory = Path(directory)
        j = read_versioned_json(
            directory / "attributes.json",
            ATTRIBUTES_FORMAT,
            what="AttFind result",
            hint="run `stylex attfind --run RUN` first",
        )
        effects = Effects.load(directory)
        classes = [ClassAttributes.from_dict(c, k) for k, c in enumerate(j["classes"])]
        unstable = torch.zeros(effects.num_images, dtype=torch.bool)
        unstable[j.get("unstable_images", [])] = True
        skip = {
            "format_version",
            "classes",
            "unstable_images",
            "num_images",
            "shift_size",
            "include_rgb",
            "style_space",
        }
        config = {k: v for k, v in j.items() if k not in skip}
        return cls(classes, effects, config, unstable)

    def table(self, top: int | None = None) -> str:
        """A short plain-text table per class."""
        lines = []
        for c in self.classes:
            lines.append(f"class {c.name!r} ({c.num_considered} images considered)")
            if not c.attributes:
                lines.append("  (no attributes: no stable image is predicted as another class)")
                continue
            joint = all("joint_flipped" in a.extra for a in c.attributes)
            lines.append(
                f"  {'#':>3} {'layer':>5} {'ch':>4} {'index':>6} {'dir':>4} "
                f"{'effect':>8} {'flipped':>8}" + (f" {'together':>8}" if joint else "")
            )
            for r, a in enumerate(c.attributes[:top] if top else c.attributes, 1):
                lines.append(
                    f"  {r:>3} {a.layer:>5} {a.channel:>4} {a.index:>6} "
                    f"{a.direction:>4} {a.effect:>8.4f} {a.flipped:>8}"
                    + (f" {a.extra['joint_flipped']:>8}" if joint else "")
                )
        return "\n".join(lines)


def agreement(
    exact: AttFindResult | list[ClassAttributes],
    other: AttFindResult | list[ClassAttributes],
    k: int = 10,
) -> float:
    """Share of ``exact``'s top-``k`` (layer, channel, direction) per class that ``other`` also
    returns in its top-``k``, averaged over the classes that have attributes."""
    ea = exact.classes if isinstance(exact, AttFindResult) else exact
    oa = other.classes if isinstance(other, AttFindResult) else other
    shares = []
    for a, b in zip(ea, oa):
        want = {(x.layer, x.channel, x.direction) for x in a.attributes[:k]}
        if not want:
            continue
        got = {(x.layer, x.channel, x.direction) for x in b.attributes[:k]}
        shares.append(len(want & got) / len(want))
    return sum(shares) / len(shares) if shares else float("nan")


__all__ = ["ATTRIBUTES_FORMAT", "AttFindResult", "agreement"]
