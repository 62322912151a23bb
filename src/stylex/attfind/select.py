"""AttFind selection: unstable images, then greedy top-k (coordinate, direction) pairs per class.

Rules (the official colab's, made explicit):

* **Unstable images.** An image is *unstable* when more than ``max_flip_fraction`` of all its
  ``2·S`` (direction, coordinate) edits change its predicted class on their own (the predicted
  class after an edit is ``argmax(base_probs + Δ)``; pairs not computed count as not flipping).
  Such images sit on a decision boundary where almost any edit flips them; they would dominate
  the mean effects, so they are dropped for every class. Default 5 %.
* **Selection for class y** (one-vs-rest for any number of classes): the images considered are
  the stable ones the classifier does *not* predict as y (on the un-edited generated image). The
  effect of a pair on an image is ``e = max(0, Δ[n, d, i, y])``. Repeat ``top_k`` times: among
  the considered images whose accumulated effect (sum of ``e`` over the pairs picked so far) is
  still below ``threshold`` (default 0.2, the colab's ``max_image_effect``), take the pair with
  the largest mean ``e``; record it, add its ``e`` to the accumulated effects and never pick it
  again, nor the *other direction of its coordinate* (``one_direction``, the default: applied
  together, as sufficiency and the report apply a class's attributes, ``(max, i)`` then
  ``(min, i)`` undo each other, and "coordinate i up and down both make it y" explains
  nothing; the colab's rule, ``one_direction=False``, bars only the pair itself). When every
  considered image has reached the threshold, the mean is taken over all considered images.
  Ties go to the lower flat position (direction "min" first, then the lower coordinate index).
  Pairs not computed are never picked.
* An optional ``accept(direction, index, images) -> bool`` (the discriminator filter) may reject
  a picked pair; a rejected pair is recorded, removed and does not count toward ``top_k`` (the
  other direction of its coordinate stays available). A filter that returns
  ``(False, {"stop": True})`` ends the class's selection there (the joint check's rejection
  limit, :mod:`stylex.attfind.joint_check`).

Recorded per attribute: ``effect`` = mean ``e`` over all considered images; ``gain`` = the
greedy criterion when it was picked; ``mean_delta`` = mean signed ``Δ[..., y]``; ``flipped`` =
considered images whose predicted class becomes y with this single edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from stylex.attfind.effects import DIRECTIONS, Effects

AcceptFn = Callable[[int, int, torch.Tensor], "bool | tuple[bool, dict]"]

DEFAULT_THRESHOLD = 0.2
DEFAULT_MAX_FLIP_FRACTION = 0.05


@dataclass
class Attribute:
    """One selected style coordinate and direction for a class."""

    layer: int  # synthesis-layer position (Generator.layers index)
    channel: int
    index: int  # flat index over the StyleSpace used (include_rgb matters)
    direction: str  # "min" | "max"
    target: float  # the style value the edit moves toward (min or max over the images)
    effect: float  # mean max(0, Δp_y) over the considered images
    flipped: int  # considered images whose predicted class becomes y with this edit
    gain: float = 0.0  # greedy criterion at selection time
    mean_delta: float = 0.0  # mean signed Δp_y over the considered images
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        d.update(extra)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Attribute:
        known = {
            "layer",
            "channel",
            "index",
            "direction",
            "target",
            "effect",
            "flipped",
            "gain",
            "mean_delta",
        }
        core = {k: d[k] for k in known if k in d}
        core.setdefault("target", float("nan"))
        return cls(**core, extra={k: v for k, v in d.items() if k not in known})

    @property
    def direction_index(self) -> int:
        return DIRECTIONS.index(self.direction)


@dataclass
class ClassAttributes:
    """The ordered attributes of one class (one-vs-rest)."""

    name: str
    class_index: int
    attributes: list[Attribute]
    num_considered: int = 0
    rejected: list[Attribute] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "class": self.name,
            "class_index": self.class_index,
            "num_considered": self.num_considered,
            "attributes": [a.to_dict() for a in self.attributes],
            "rejected": [a.to_dict() for a in self.rejected],
        }

    @classmethod
    def from_dict(cls, d: dict, class_index: int) -> ClassAttributes:
        return cls(
            name=str(d["class"]),
            class_index=int(d.get("class_index", class_index)),
            attributes=[Attribute.from_dict(a) for a in d["attributes"]],
            num_considered=int(d.get("num_considered", 0)),
            rejected=[Attribute.from_dict(a) for a in d.get("rejected", [])],
        )


def unstable_images(
    delta: torch.Tensor,
    base_probs: torch.Tensor,
    max_flip_fraction: float = DEFAULT_MAX_FLIP_FRACTION,
    computed: torch.Tensor | None = None,
) -> torch.Tensor:
    """``[N]`` bool: images for which more than ``max_flip_fraction`` of the 2·S edits change
    the predicted class. ``delta [N, 2, S, K]``, ``base_probs [N, K]``."""
    n, _, s, _ = delta.shape
    pred0 = base_probs.argmax(1)
    pred = (base_probs[:, None, None, :] + delta).argmax(-1)  # [N, 2, S]
    flips = pred != pred0[:, None, None]
    if computed is not None:
        flips &= computed.to(flips.device)[None]
    frac = flips.flatten(1).sum(1).float() / (2 * s)
    return frac > max_flip_fraction


def select_class(
    delta: torch.Tensor,
    base_probs: torch.Tensor,
    class_index: int,
    top_k: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    keep: torch.Tensor | None = None,
    computed: torch.Tensor | None = None,
    accept: AcceptFn | None = None,
    one_direction: bool = True,
) -> tuple[list[dict], list[dict], int]:
    """Greedy selection for one class (see the module docstring).

    Args:
        delta: ``[N, 2, S, K]``; base_probs: ``[N, K]``.
        keep: ``[N]`` bool, images allowed (e.g. not unstable); default all.
        computed: ``[2, S]`` bool, pairs that may be picked; default all.
        accept: optional filter called as ``accept(direction, index, considered_image_idx)``;
            returns a bool or ``(bool, info_dict)``.
        one_direction: once a pair is picked, the other direction of its coordinate is not
            picked for this class (False: the colab's rule).

    Returns:
        ``(picked, rejected, num_considered)``; each pick is a dict with ``direction`` (0/1),
        ``index``, ``effect``, ``gain``, ``mean_delta``, ``flipped`` and any ``accept`` info.
    """
    n, _, s, _ = delta.shape
    y = class_index
    pred0 = base_probs.argmax(1)
    considered = pred0 != y
    if keep is not None:
        considered &= keep.to(considered.device)
    idx = considered.nonzero().flatten()
    m = idx.numel()
    if m == 0 or top_k <= 0:
        return [], [], m
    d_y = delta[idx, :, :, y].reshape(m, 2 * s).double()
    e = d_y.clamp_min(0)
    available = torch.ones(2 * s, dtype=torch.bool)
    if computed is not None:
        available &= computed.reshape(-1).cpu()
    # flipped: predicted class after a single edit is y
    flipped = ((base_probs[idx, None, None, :] + delta[idx]).argmax(-1) == y).reshape(m, 2 * s)
    effect_all = e.mean(0)
    acc = torch.zeros(m, dtype=torch.float64)
    picked: list[dict] = []
    rejected: list[dict] = []
    while len(picked) < top_k and bool(available.any()):
        active = acc < threshold
        score = e[active].mean(0) if bool(active.any()) else effect_all.clone()
        score[~available] = -torch.inf
        j = int(torch.argmax(score))
        d, i = divmod(j, s)
        available[j] = False
        rec = {
            "direction": d,
            "index": i,
            "effect": float(effect_all[j]),
            "gain": float(score[j]),
            "mean_delta": float(d_y[:, j].mean()),
            "flipped": int(flipped[:, j].sum()),
        }
        if accept is not None:
            verdict = accept(d, i, idx)
            ok, info = verdict if isinstance(verdict, tuple) else (verdict, {})
            rec.update(info)
            if not ok:
                if info.get("stop"):
                    break  # the filter ends this class's selection (nothing recorded)
                rejected.append(rec)
                continue
        picked.append(rec)
        acc += e[:, j]
        if one_direction:
            available[(1 - d) * s + i] = False
    return picked, rejected, m


def make_attribute(rec: dict, effects: Effects) -> Attribute:
    """A selection record (from :func:`select_class`) → :class:`Attribute`."""
    space = effects.space
    d, i = int(rec["direction"]), int(rec["index"])
    layer, ch = space.locate(i)
    core = {"direction", "index", "effect", "gain", "mean_delta", "flipped"}
    return Attribute(
        layer=layer,
        channel=ch,
        index=i,
        direction=DIRECTIONS[d],
        target=float(effects.targets[d, i]),
        effect=rec["effect"],
        flipped=rec["flipped"],
        gain=rec["gain"],
        mean_delta=rec["mean_delta"],
        extra={k: v for k, v in rec.items() if k not in core},
    )


def select_attributes(
    effects: Effects,
    top_k: int = 10,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_flip_fraction: float | None = DEFAULT_MAX_FLIP_FRACTION,
    accept_factory: Callable[[int], AcceptFn | None] | None = None,
    one_direction: bool = True,
) -> tuple[list[ClassAttributes], torch.Tensor]:
    """Per-class attributes from an :class:`Effects` (one-vs-rest over its K classes).

    ``max_flip_fraction=None`` keeps every image. ``accept_factory(class_index)`` may return a
    per-class ``accept`` filter. ``one_direction``: see :func:`select_class`. Returns
    ``(classes, unstable [N] bool)``.
    """
    if max_flip_fraction is None:
        unstable = torch.zeros(effects.num_images, dtype=torch.bool)
    else:
        unstable = unstable_images(
            effects.delta, effects.base_probs, max_flip_fraction, effects.computed
        )
    out = []
    for y in range(effects.num_classes):
        accept = accept_factory(y) if accept_factory is not None else None
        picked, rejected, m = select_class(
            effects.delta,
            effects.base_probs,
            y,
            top_k,
            threshold=threshold,
            keep=~unstable,
            computed=effects.computed,
            accept=accept,
            one_direction=one_direction,
        )
        name = effects.class_names[y] if y < len(effects.class_names) else str(y)
        out.append(
            ClassAttributes(
                name,
                y,
                [make_attribute(r, effects) for r in picked],
                m,
                [make_attribute(r, effects) for r in rejected],
            )
        )
    return out, unstable
