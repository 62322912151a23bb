"""Sufficiency (flip rate): do a class's top attributes, applied together, make the classifier
predict that class?

Definition (DESIGN.md, "Metrics"). For class ``y`` with AttFind attributes ``a_1, a_2, …``
(ordered) and held-out images ``x`` whose **real image** the classifier does *not* predict as
``y`` (``argmax p(x) ≠ y``):

1. encode ``x`` to its style vectors ``s = styles(E(x), c(x))``;
2. apply ``a_1 … a_k`` cumulatively: ``s_i ← s_i + t·(target_i − s_i)`` for each attribute's
   coordinate ``i`` in turn, with AttFind's targets (the min or max of that coordinate over
   AttFind's images) and shift size ``t``
   (:func:`stylex.models.stylespace.edit`);
3. regenerate ``G(s)`` (constant noise), clamp to [-1, 1], classify.

``sufficiency[y][k]`` = fraction of those images predicted as ``y`` after step 3, for
``k = 1 … max_k``. A class with fewer than ``k`` attributes carries its last value (with no
attributes at all: the ``k = 0`` value below). The overall ``sufficiency[k]`` is the mean over
the classes that have at least one considered image (macro average; one-vs-rest for any number
of classes).

Reported beside it: ``k = 0`` (``sufficiency_k0``, the class mean, and per class
``reconstruction_already_target``) = fraction of the considered images whose *un-edited*
reconstruction ``G(E(x))`` is already predicted ``y``, i.e. the part of the flip rate that comes
from reconstruction inconsistency rather than from the attributes. Read ``sufficiency`` against
it (a generator that reconstructs everything as ``y`` scores 1 with no attribute at all).

Fast path: the images of a batch are synthesised once up to each needed layer; step ``k``
re-runs the generator only from the earliest layer any of ``a_1 … a_k`` edits
(``Generator.run_until`` / ``run_from``, exact with constant noise).
:func:`reference_sufficiency` is the plain definition (one full synthesis per image and k) that
the tests hold it equal to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from stylex.attfind.visibility import stored_visibility
from stylex.errors import RunError
from stylex.models.memory import default_batch
from stylex.models.stylespace import EditContext
from stylex.models.stylespace import edit as edit_styles


class Edit(Protocol):
    """Anything with a flat StyleSpace ``index`` and a ``target`` value (e.g. an Attribute).

    An edit may also carry its own strength ``shift`` (the display strength,
    :mod:`stylex.attfind.visibility`); without one (or None) the call's ``shift_size`` applies.
    """

    index: int
    target: float


def edit_shift(a: Edit, shift_size: float) -> float:
    """The strength of edit ``a``: its own ``shift`` when it has one, else ``shift_size``."""
    own = getattr(a, "shift", None)
    return float(shift_size if own is None else own)


@dataclass
class SufficiencyResult:
    """Per-class flip rates.

    ``rates[y][k - 1]`` is the flip rate of class ``y`` with its top ``k`` attributes
    (NaN when no image was considered); ``k0[y]`` the rate with no edit; ``considered[y]`` the
    number of images considered; ``num_attributes[y]`` how many attributes were available.
    """

    rates: list[list[float]]
    k0: list[float]
    considered: list[int]
    num_attributes: list[int]
    max_k: int
    class_names: list[str] = field(default_factory=list)

    def mean(self) -> list[float]:
        """Macro average over classes with considered images, per k (NaN if there are none)."""
        out = []
        for k in range(self.max_k):
            vals = [r[k] for r in self.rates if not math.isnan(r[k])]
            out.append(sum(vals) / len(vals) if vals else float("nan"))
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``sufficiency*`` entries of ``metrics.json``."""
        names = self.class_names or [str(y) for y in range(len(self.rates))]
        k0 = [v for v in self.k0 if not math.isnan(v)]
        return {
            "sufficiency": {str(k + 1): v for k, v in enumerate(self.mean())},
            "sufficiency_k0": sum(k0) / len(k0) if k0 else float("nan"),
            "sufficiency_per_class": {
                n: {str(k + 1): v for k, v in enumerate(r)}
                for n, r in zip(names, self.rates, strict=True)
            },
            "sufficiency_details": {
                "num_considered": dict(zip(names, self.considered, strict=True)),
                "num_attributes": dict(zip(names, self.num_attributes, strict=True)),
                "reconstruction_already_target": dict(zip(names, self.k0, strict=True)),
            },
        }


def _predict(classifier, images: torch.Tensor) -> torch.Tensor:
    return classifier(images.clamp(-1, 1)).argmax(1)


def _check(styles, predicted, class_attributes, max_k):
    if max_k < 1:
        raise ValueError(f"max_k must be ≥ 1, got {max_k}")
    n = styles[0].shape[0]
    if predicted.shape != (n,):
        raise ValueError(f"predicted must be [{n}], got {list(predicted.shape)}")
    return n, len(class_attributes)


def _finish(hits, k0_hits, counts, class_attributes, max_k, class_names) -> SufficiencyResult:
    rates, k0 = [], []
    for y, attrs in enumerate(class_attributes):
        m = counts[y]
        if m == 0:
            rates.append([float("nan")] * max_k)
            k0.append(float("nan"))
            continue
        base = k0_hits[y] / m
        row, last = [], base
        for k in range(max_k):
            if k < min(len(attrs), max_k):
                last = hits[y][k] / m
            row.append(last)
        rates.append(row)
        k0.append(base)
    return SufficiencyResult(
        rates, k0, list(counts), [len(a) for a in class_attributes], max_k, list(class_names)
    )


def image_batch(generator) -> int:
    """Images per no-grad forward pass: 64 on CPU; on a GPU what free memory allows
    (:func:`~stylex.models.memory.default_batch`, at least 64)."""
    const = getattr(generator, "const", None)
    if const is None or const.device.type != "cuda":
        return 64
    return max(64, default_batch(generator))


@torch.no_grad()
def sufficiency(
    generator,
    classifier,
    styles: Sequence[torch.Tensor],
    predicted: torch.Tensor,
    class_attributes: Sequence[Sequence[Edit]],
    space,
    shift_size: float = 1.0,
    max_k: int = 10,
    batch: int | None = None,
    class_names: Sequence[str] = (),
    progress: bool = False,
) -> SufficiencyResult:
    """Flip rates of cumulative top-k edits (module docstring), fast path.

    Args:
        generator: needs ``synthesize(styles, noise_mode=)``, ``run_until(styles, layer,
            noise_mode=)`` and ``run_from(state, styles, layer, noise_mode=)`` (a
            :class:`~stylex.models.Generator`).
        classifier: images ``[B, C, R, R]`` in [-1, 1] → logits ``[B, K]``.
        styles: per-layer style vectors of the N images (all synthesis layers, ``[N, C_l]``).
        predicted: ``[N]`` the class the classifier predicts on each *real* image.
        class_attributes: per class ``y`` (in classifier order) its ordered edits (objects
            with ``index`` over ``space`` and ``target``).
        space: the StyleSpace the indices refer to.
        shift_size: AttFind's ``t``.
        batch: images per forward pass (None: :func:`image_batch`, from device memory).
    """
    n, num_classes = _check(styles, predicted, class_attributes, max_k)
    batch = batch or image_batch(generator)
    predicted = predicted.to(styles[0].device)
    hits = [[0] * max_k for _ in range(num_classes)]
    k0_hits = [0] * num_classes
    counts = [0] * num_classes
    work = []
    for y in range(num_classes):
        idx = (predicted != y).nonzero().flatten()
        counts[y] = idx.numel()
        work += [(y, idx[a : a + batch]) for a in range(0, idx.numel(), max(1, batch))]
    bar = None
    if progress and work:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(work), desc="sufficiency", unit="batch")
    for y, idx in work:
        attrs = list(class_attributes[y])[:max_k]
        s_b = [s.index_select(0, idx) for s in styles]
        k0_hits[y] += int(
            (_predict(classifier, generator.synthesize(s_b, noise_mode="const")) == y).sum()
        )
        layers = [space.locate(int(a.index))[0] for a in attrs]
        starts = [min(layers[: k + 1]) for k in range(len(attrs))]
        states = {
            start: generator.run_until(s_b, start, noise_mode="const") for start in set(starts)
        }
        cur = s_b
        for k, a in enumerate(attrs):
            t = edit_shift(a, shift_size)
            cur = edit_styles(cur, space, int(a.index), float(a.target), t)
            img = generator.run_from(states[starts[k]], cur, starts[k], noise_mode="const")
            hits[y][k] += int((_predict(classifier, img) == y).sum())
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return _finish(hits, k0_hits, counts, class_attributes, max_k, class_names)


@torch.no_grad()
def reference_sufficiency(
    generator,
    classifier,
    styles: Sequence[torch.Tensor],
    predicted: torch.Tensor,
    class_attributes: Sequence[Sequence[Edit]],
    space,
    shift_size: float = 1.0,
    max_k: int = 10,
    class_names: Sequence[str] = (),
) -> SufficiencyResult:
    """The definition, plainly: one image, one k, one full synthesis (for tests)."""
    n, num_classes = _check(styles, predicted, class_attributes, max_k)
    hits = [[0] * max_k for _ in range(num_classes)]
    k0_hits = [0] * num_classes
    counts = [0] * num_classes
    for y in range(num_classes):
        attrs = list(class_attributes[y])[:max_k]
        for i in range(n):
            if int(predicted[i]) == y:
                continue
            counts[y] += 1
            s_i = [s[i : i + 1] for s in styles]
            img = generator.synthesize(s_i, noise_mode="const")
            k0_hits[y] += int(_predict(classifier, img)[0] == y)
            for k in range(len(attrs)):
                cur = s_i
                for a in attrs[: k + 1]:
                    t = edit_shift(a, shift_size)
                    cur = edit_styles(cur, space, int(a.index), float(a.target), t)
                img = generator.synthesize(cur, noise_mode="const")
                hits[y][k] += int(_predict(classifier, img)[0] == y)
    return _finish(hits, k0_hits, counts, class_attributes, max_k, class_names)


# ------------------------------------------------------------------------------ run level
@dataclass
class _Target:
    index: int
    target: float
    shift: float | None = None


def attribute_edits(attfind, display: bool = False) -> list[list[_Target]]:
    """Per class (in classifier order) the ordered ``(index, target)`` edits of an
    :class:`~stylex.attfind.AttFindResult`; a missing target is taken from its effects. With
    ``display``, each edit carries its attribute's display strength (``None`` when AttFind
    recorded none: AttFind's shift size applies)."""
    targets = attfind.effects.targets
    k = max([c.class_index for c in attfind.classes], default=-1) + 1
    out: list[list[_Target]] = [[] for _ in range(k)]
    for c in attfind.classes:
        for a in c.attributes:
            t = float(a.target)
            if not math.isfinite(t):
                t = float(targets[a.direction_index, a.index])
            vis = stored_visibility(a) if display else None
            shift = vis.shift if vis is not None else None
            out[c.class_index].append(_Target(int(a.index), t, shift))
    return out


def attfind_space(run, attfind):
    """The run's StyleSpace that ``attfind``'s indices refer to (checked against its record)."""
    space = run.generator.style_space(include_rgb=bool(attfind.effects.include_rgb))
    if list(space.layers) != list(attfind.effects.layers) or list(space.sizes) != list(
        attfind.effects.sizes
    ):
        raise RunError(
            f"{getattr(run, 'path', 'the run')}: attfind/ was computed on another StyleSpace "
            f"(layers {attfind.effects.layers}, sizes {attfind.effects.sizes}) than the run's "
            f"generator ({space.layers}, {space.sizes}); re-run `stylex attfind`"
        )
    return space


def attfind_context(run: Any, attfind: Any, classifier: Any = None) -> EditContext:
    """The edits of ``attfind`` in ``run``'s StyleSpace (checked, :func:`attfind_space`): the
    run's generator, ``classifier`` (default the run's), AttFind's targets and shift size."""
    effects = attfind.effects
    return EditContext(
        run.generator,
        run.classifier if classifier is None else classifier,
        attfind_space(run, attfind),
        effects.style_min,
        effects.style_max,
        float(effects.shift_size),
    )


@torch.no_grad()
def encode_styles_all(run, images: torch.Tensor, batch: int = 64) -> list[torch.Tensor]:
    """Per-layer style vectors ``[N, C_l]`` (on the run's device) of ``images`` in batches."""
    parts = [run.encode_styles(images[a : a + batch]) for a in range(0, len(images), batch)]
    return [torch.cat(p) for p in zip(*parts, strict=True)]


@torch.no_grad()
def run_sufficiency(
    run,
    attfind,
    images: torch.Tensor,
    predicted: torch.Tensor,
    max_k: int = 10,
    batch: int | None = None,
    styles: list[torch.Tensor] | None = None,
    progress: bool = False,
    display: bool = False,
) -> SufficiencyResult:
    """:func:`sufficiency` of a :class:`~stylex.run.Run` with its AttFind result on
    ``images [N, C, R, R]`` in [-1, 1]; ``predicted [N]`` = the classifier's class on them.
    ``display``: each attribute at its display strength (the strength the report shows it
    at) instead of AttFind's shift size."""
    space = attfind_space(run, attfind)
    batch = batch or image_batch(run.generator)
    if styles is None:
        styles = encode_styles_all(run, images, batch)
    names = list(run.class_names) or list(attfind.class_names)
    edits = attribute_edits(attfind, display=display)
    k = max(len(names), len(edits))
    edits += [[] for _ in range(k - len(edits))]
    return sufficiency(
        run.generator,
        run.classifier,
        styles,
        predicted.to(styles[0].device),
        edits,
        space,
        float(attfind.effects.shift_size),
        max_k=max_k,
        batch=batch,
        class_names=names[:k] if len(names) >= k else [str(i) for i in range(k)],
        progress=progress,
    )


__all__ = [
    "SufficiencyResult",
    "attfind_context",
    "attfind_space",
    "attribute_edits",
    "edit_shift",
    "encode_styles_all",
    "reference_sufficiency",
    "run_sufficiency",
    "sufficiency",
]
