"""Explanations people look at: attribute views, coordinate sweeps, per-image counterfactuals.

::

    from stylex.explain import Explainer
    ex = Explainer(run)                          # reads RUN/attfind (AttFind's result)
    view = ex.attribute_view("sneaker", 0)       # class's top attribute on the images it moves most
    frames = ex.sweep(ex.encode(x[:1]), view.attribute)   # [T, C, R, R], coordinate min → max
    [e] = ex.explain(x[:1], top_k=5)             # this image's own top attributes, counterfactuals

Conventions (those of AttFind, :mod:`stylex.attfind.effects`):

* The *original* of a counterfactual is the reconstruction ``G(E(x))`` (constant noise), not the
  real photo, so a probability change measures the style edit alone.
* An edit moves coordinate ``i`` toward its target (the min or the max of that coordinate over
  AttFind's images): ``s_i ← s_i + shift·(target − s_i)``. ``shift_size`` (the attribute
  strength) defaults to the one AttFind used.
* Probabilities are ``softmax(classifier(image.clamp(-1, 1)))``.

Per-image explanation (:meth:`Explainer.explain`): the image is encoded; for every candidate
``(coordinate, direction)`` — the attributes AttFind selected for *any* class (default), or
every coordinate (``candidates="all"``) — the image's own effect ``Δ = p_t(edited) − p_t(G(E(x)))``
toward a target class ``t`` is computed (``t`` = the most probable class other than the predicted
one unless given; for two classes: the other class). Candidates are ranked by that Δ (one
direction per coordinate). The *independent* counterfactuals apply each of the top ``k`` alone;
the *subset* counterfactual applies them cumulatively (1, 1+2, …) and stops at the first step
where the predicted class changes; ``subset_size`` says how many were needed (None: no flip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont

from stylex.attfind.api import AttFindResult
from stylex.attfind.effects import DIRECTIONS, class_probs, edit_styles, fast_effects, shifted
from stylex.attfind.select import Attribute
from stylex.errors import RunError, StylexError
from stylex.utils.images import to_pil

CANDIDATES = ("attributes", "all")


# ------------------------------------------------------------------------------------ results
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


# ------------------------------------------------------------------------------------ explainer
class Explainer:
    """Counterfactual explanations of a run's classifier (Captum-like: built once, then asked).

    Args:
        run: a :class:`stylex.run.Run`.
        attributes: an :class:`~stylex.attfind.AttFindResult`, a folder holding one, or None
            for ``RUN/attfind``.
        shift_size: attribute strength ``t`` in ``s ← s + t·(target − s)``; default AttFind's.
        batch: images per forward pass.
    """

    def __init__(
        self,
        run,
        attributes: AttFindResult | str | Path | None = None,
        shift_size: float | None = None,
        batch: int = 64,
    ):
        if attributes is None:
            attributes = AttFindResult.load(Path(run.path) / "attfind")
        elif not isinstance(attributes, AttFindResult):
            attributes = AttFindResult.load(attributes)
        self.run = run
        self.result = attributes
        self.effects = attributes.effects
        self.shift_size = float(self.effects.shift_size if shift_size is None else shift_size)
        if not (math.isfinite(self.shift_size) and self.shift_size > 0):
            raise StylexError(f"shift size must be a positive number, got {shift_size}")
        self.batch = max(1, int(batch))
        self.generator = run.generator.eval()
        self.classifier = run.classifier.eval()
        self.device = torch.device(run.device)
        self.space = self.generator.style_space(include_rgb=self.effects.include_rgb)
        if self.space.layers != self.effects.layers or self.space.sizes != self.effects.sizes:
            raise RunError(
                "the AttFind result does not match this run's generator (StyleSpace layers "
                f"{self.effects.layers} vs {self.space.layers}): rerun `stylex attfind`"
            )
        self.class_names = list(run.class_names) or list(self.effects.class_names)
        self._pool_cache: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------- basics
    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``images [B, C, R, R]`` in [-1, 1] → per-layer styles (list of ``[B, C_l]``)."""
        if images.dim() == 3:
            images = images[None]
        parts = [
            self.run.encode_styles(images[a : a + self.batch].to(self.device))
            for a in range(0, images.shape[0], self.batch)
        ]
        return [torch.cat([p[layer] for p in parts]) for layer in range(len(parts[0]))]

    @torch.no_grad()
    def generate(self, styles: list[torch.Tensor]) -> torch.Tensor:
        """Per-layer styles → images ``[B, C, R, R]`` in [-1, 1] (constant noise, clamped)."""
        n = styles[0].shape[0]
        out = [
            self.generator.synthesize([s[a : a + self.batch] for s in styles], noise_mode="const")
            for a in range(0, n, self.batch)
        ]
        return torch.cat(out).clamp(-1, 1)

    @torch.no_grad()
    def probs(self, images: torch.Tensor) -> torch.Tensor:
        """``images [B, C, R, R]`` → class probabilities ``[B, K]``."""
        images = images.to(self.device)
        out = [
            class_probs(self.classifier, images[a : a + self.batch])
            for a in range(0, images.shape[0], self.batch)
        ]
        return torch.cat(out)

    def class_index(self, cls: int | str) -> int:
        if isinstance(cls, str):
            if cls not in self.class_names:
                raise StylexError(f"no class {cls!r}; classes: {self.class_names}")
            return self.class_names.index(cls)
        if not 0 <= int(cls) < len(self.class_names):
            raise StylexError(f"class index {cls} out of range 0..{len(self.class_names) - 1}")
        return int(cls)

    def attributes(self, cls: int | str) -> list[Attribute]:
        """The class's ordered attributes (AttFind's selection)."""
        return self.result[self.class_names[self.class_index(cls)]].attributes

    def attribute(self, cls: int | str, k: int) -> Attribute:
        attrs = self.attributes(cls)
        if not 0 <= k < len(attrs):
            name = self.class_names[self.class_index(cls)]
            raise StylexError(f"class {name!r} has {len(attrs)} attribute(s); no attribute #{k}")
        return attrs[k]

    def edit(
        self, styles: list[torch.Tensor], attributes: Attribute | list[Attribute]
    ) -> list[torch.Tensor]:
        """A copy of ``styles`` with the attribute(s) applied (in order) to every image."""
        if isinstance(attributes, Attribute):
            attributes = [attributes]
        for a in attributes:
            styles = edit_styles(styles, self.space, a.index, a.target, self.shift_size)
        return styles

    @torch.no_grad()
    def counterfactual(
        self, images: torch.Tensor, attributes: Attribute | list[Attribute]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstructions of ``images`` with ``attributes`` applied → (edited ``[B, C, R, R]``,
        probabilities ``[B, K]``)."""
        edited = self.generate(self.edit(self.encode(images), attributes))
        return edited, self.probs(edited)

    # ----------------------------------------------------------------------------- sweeps
    @torch.no_grad()
    def sweep(
        self, image_styles: list[torch.Tensor], attribute: Attribute, steps: int = 9
    ) -> torch.Tensor:
        """Frames ``[steps, C, R, R]`` in [-1, 1]: one image with the attribute's coordinate set
        to ``steps`` evenly spaced values from its min to its max over AttFind's images.

        ``image_styles``: per-layer styles of one image (``[1, C_l]`` or ``[C_l]``; of a batch
        only the first image is used). Only the layers from the edited one on are re-run.
        """
        if steps < 2:
            raise StylexError(f"a sweep needs at least 2 steps, got {steps}")
        styles = [(s if s.dim() == 2 else s[None])[:1].to(self.device) for s in image_styles]
        i = attribute.index
        layer, ch = self.space.locate(i)
        lo, hi = float(self.effects.style_min[i]), float(self.effects.style_max[i])
        values = torch.linspace(lo, hi, steps, device=self.device, dtype=styles[layer].dtype)
        state = self.generator.run_until(styles, layer).repeat_interleave(steps)
        rep = [s.expand(steps, -1) for s in styles]
        s = rep[layer].clone()
        s[:, ch] = values
        rep[layer] = s
        return self.generator.run_from(state, rep, layer).clamp(-1, 1)

    def sweep_values(self, attribute: Attribute, steps: int = 9) -> torch.Tensor:
        """``[steps]`` the coordinate values of :meth:`sweep`."""
        i = attribute.index
        return torch.linspace(
            float(self.effects.style_min[i]), float(self.effects.style_max[i]), steps
        )

    # ----------------------------------------------------------------------------- views
    def _pool(self) -> dict[str, Any]:
        """AttFind's images, re-encoded (cached): real images, styles, base probabilities and
        whether AttFind's stored Δ applies to them (same images, same styles, same shift)."""
        if self._pool_cache is not None:
            return self._pool_cache
        eff = self.effects
        split = str(self.result.config.get("split", "val"))
        idx = eff.image_indices.to(torch.int64)
        ds = self.run.dataset(split)
        stored = bool((idx >= 0).all()) and bool((idx < len(ds)).all()) and eff.num_images > 0
        if stored:
            stored = [ds.ids[int(j)] for j in idx] == list(eff.image_ids)
        if not stored:  # AttFind ran on other images: take the split's first N
            idx = torch.arange(min(max(eff.num_images, 1), len(ds)))
        if len(idx) == 0:
            raise StylexError(f"the run's {split!r} split has no images")
        real = ds.float_images(idx)
        styles = self.encode(real)
        flat = self.space.flatten(styles).float().cpu()
        if stored:
            stored = flat.shape == eff.styles.shape and bool(
                torch.allclose(flat, eff.styles.float(), atol=1e-3, rtol=1e-3)
            )
        if stored and eff.base_probs.shape[0] == len(idx):
            base = eff.base_probs.float()
        else:
            base = self.probs(self.generate(styles)).cpu()
        unstable = self.result.unstable
        if not stored or unstable is None or unstable.shape[0] != len(idx):
            unstable = torch.zeros(len(idx), dtype=torch.bool)
        self._pool_cache = {
            "indices": idx,
            "ids": [ds.ids[int(j)] for j in idx],
            "real": real,
            "styles": styles,
            "base": base,
            "unstable": unstable,
            "stored": stored,
        }
        return self._pool_cache

    @torch.no_grad()
    def _edited_probs(self, styles: list[torch.Tensor], attribute: Attribute) -> torch.Tensor:
        """Class probabilities ``[N, K]`` of every image with one attribute applied (re-runs
        only the layers from the edited one on)."""
        layer, _ = self.space.locate(attribute.index)
        out = []
        for a in range(0, styles[0].shape[0], self.batch):
            st = [s[a : a + self.batch] for s in styles]
            state = self.generator.run_until(st, layer)
            img = self.generator.run_from(state, self.edit(st, attribute), layer)
            out.append(class_probs(self.classifier, img).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def attribute_view(self, class_name: int | str, k: int, num_images: int = 6) -> AttributeView:
        """Class ``class_name``'s attribute ``k`` (0 = top) on the ``num_images`` of AttFind's
        images whose probability of the class it raises most (among stable images not already
        predicted as the class; others fill in when there are too few).

        The ranking uses AttFind's stored Δ when it applies (same images and shift size) and
        recomputes it otherwise; the images and probabilities shown are always recomputed.
        """
        y = self.class_index(class_name)
        attr = self.attribute(y, k)
        pool = self._pool()
        if pool["stored"] and math.isclose(self.shift_size, self.effects.shift_size):
            score = self.effects.delta[:, attr.direction_index, attr.index, y].float()
        else:
            score = self._edited_probs(pool["styles"], attr)[:, y] - pool["base"][:, y]
        preferred = (pool["base"].argmax(1) != y) & ~pool["unstable"]
        # preferred images first (by score), then the others (by score)
        key = score + torch.where(preferred, 10.0, 0.0)
        order = torch.argsort(key, descending=True, stable=True)[: max(1, int(num_images))]
        sel = order.to(self.device)
        styles = [s.index_select(0, sel) for s in pool["styles"]]
        originals = self.generate(styles)
        edited = self.generate(self.edit(styles, attr))
        return AttributeView(
            class_name=self.class_names[y],
            class_index=y,
            rank=k,
            attribute=attr,
            shift_size=self.shift_size,
            image_ids=[pool["ids"][int(j)] for j in order],
            image_indices=pool["indices"][order],
            real=pool["real"][order].cpu(),
            originals=originals.cpu(),
            edited=edited.cpu(),
            probs_before=self.probs(originals).cpu(),
            probs_after=self.probs(edited).cpu(),
        )

    # ----------------------------------------------------------------------------- per image
    def _candidates(self, mode: str) -> tuple[torch.Tensor, dict[tuple[int, int], list[str]]]:
        """``[2, S]`` mask of the candidate (direction, coordinate) pairs and, per pair, the
        classes (with ranks) that AttFind selected it for."""
        if mode not in CANDIDATES:
            raise StylexError(f"candidates must be one of {CANDIDATES}, got {mode!r}")
        sources: dict[tuple[int, int], list[str]] = {}
        for c in self.result.classes:
            for r, a in enumerate(c.attributes):
                sources.setdefault((a.direction_index, a.index), []).append(f"{c.name} #{r + 1}")
        mask = torch.zeros(2, self.space.total, dtype=torch.bool)
        if mode == "all" or not sources:
            mask[:] = True
        else:
            for d, i in sources:
                mask[d, i] = True
        return mask, sources

    def _make_attribute(self, d: int, i: int, delta: float) -> Attribute:
        layer, ch = self.space.locate(i)
        return Attribute(
            layer=layer,
            channel=ch,
            index=i,
            direction=DIRECTIONS[d],
            target=float(self.effects.targets[d, i]),
            effect=float(delta),
            flipped=0,
        )

    @torch.no_grad()
    def explain(
        self,
        images: torch.Tensor,
        top_k: int = 5,
        target: int | str | None = None,
        candidates: str = "attributes",
        names: list[str] | None = None,
    ) -> list[ImageExplanation]:
        """Per-image explanations (module docstring) of ``images [B, C, R, R]`` in [-1, 1].

        Args:
            top_k: attributes per image (independent counterfactuals; the subset uses them).
            target: the class to rank toward (default: the runner-up class of each image).
            candidates: ``"attributes"`` (AttFind's selections for all classes) or ``"all"``
                (every coordinate and direction: 2·S edits per image).
            names: optional per-image names (file names) stored in the results.
        """
        if images.dim() == 3:
            images = images[None]
        if top_k < 1:
            raise StylexError(f"top_k must be ≥ 1, got {top_k}")
        k_classes = len(self.class_names)
        tgt_fixed = None if target is None else self.class_index(target)
        mask, sources = self._candidates(candidates)
        images = images.to(self.device)
        styles = self.encode(images)
        delta, base = fast_effects(
            self.generator,
            self.classifier,
            styles,
            self.effects.style_min.to(self.device),
            self.effects.style_max.to(self.device),
            self.space,
            self.shift_size,
            computed=mask,
            batch=self.batch,
        )
        recon = self.generate(styles).cpu()
        input_probs = self.probs(images).cpu()
        pairs = mask.nonzero()  # [P, 2] (direction, index)
        out = []
        for b in range(images.shape[0]):
            pred = int(base[b].argmax())
            if tgt_fixed is not None:
                tgt = tgt_fixed
            else:
                p = base[b].clone()
                p[pred] = -1.0
                tgt = int(p.argmax()) if k_classes > 1 else pred
            d_t = delta[b, pairs[:, 0], pairs[:, 1], tgt]  # [P]
            # rank, one direction per coordinate (the better one)
            order = torch.argsort(d_t, descending=True, stable=True)
            chosen: list[tuple[int, int, float]] = []
            seen: set[int] = set()
            for j in order.tolist():
                d, i = int(pairs[j, 0]), int(pairs[j, 1])
                if i in seen:
                    continue
                seen.add(i)
                chosen.append((d, i, float(d_t[j])))
                if len(chosen) == top_k:
                    break
            attrs = [self._make_attribute(d, i, v) for d, i, v in chosen]
            srcs = [sources.get((d, i), []) for d, i, _ in chosen]
            st_b = [s[b : b + 1] for s in styles]
            independent, subset, needed = [], [], None
            if attrs:
                n = len(attrs)
                single = [s.expand(n, -1).clone() for s in st_b]  # row r: attribute r alone
                cumulative = [s.expand(n, -1).clone() for s in st_b]  # row r: attributes ≤ r
                for r, a in enumerate(attrs):  # distinct coordinates, so order is irrelevant
                    layer, ch = self.space.locate(a.index)
                    v = torch.tensor(a.target, dtype=single[layer].dtype, device=self.device)
                    single[layer][r, ch] = shifted(single[layer][r, ch], v, self.shift_size)
                    cumulative[layer][r:, ch] = shifted(
                        cumulative[layer][r:, ch], v, self.shift_size
                    )
                img_i, img_c = self.generate(single), self.generate(cumulative)
                p_i, p_c = self.probs(img_i).cpu(), self.probs(img_c).cpu()
                base_t = float(base[b, tgt])
                for r, a in enumerate(attrs):
                    independent.append(
                        Counterfactual(
                            [a], img_i[r].cpu(), p_i[r], float(p_i[r, tgt]) - base_t, [srcs[r]]
                        )
                    )
                needed = first_flip(pred, p_c)
                stop = n if needed is None else needed
                for r in range(stop):
                    subset.append(
                        Counterfactual(
                            attrs[: r + 1],
                            img_c[r].cpu(),
                            p_c[r],
                            float(p_c[r, tgt]) - base_t,
                            srcs[: r + 1],
                        )
                    )
            out.append(
                ImageExplanation(
                    image=images[b].cpu(),
                    input_probs=input_probs[b],
                    reconstruction=recon[b],
                    probs=base[b].cpu(),
                    predicted=pred,
                    target=tgt,
                    independent=independent,
                    subset=subset,
                    subset_size=needed,
                    class_names=list(self.class_names),
                    shift_size=self.shift_size,
                    candidates=candidates,
                    name=names[b] if names is not None else "",
                )
            )
        return out


def first_flip(predicted: int, step_probs: torch.Tensor) -> int | None:
    """The number of cumulative steps after which the predicted class is no longer
    ``predicted`` (``step_probs [T, K]``: probabilities after steps 1..T), or None."""
    changed = (step_probs.argmax(1) != predicted).nonzero().flatten()
    return int(changed[0]) + 1 if changed.numel() else None


# ------------------------------------------------------------------------------------ files
def read_images(paths: list[str | Path], resolution: int, channels: int) -> torch.Tensor:
    """Image files (any format/size/mode Pillow reads) → ``[B, channels, R, R]`` in [-1, 1],
    converted by the data layer's rule (:mod:`stylex.data.dataset`: pad or resize+crop, grey ↔
    RGB, alpha over black). Raises :class:`~stylex.errors.DataError` naming every bad file."""
    import numpy as np

    from stylex.data.user import _decode
    from stylex.errors import DataError

    arrays, bad = [], []
    for path in paths:
        try:
            arrays.append(_decode(Path(path), resolution, channels))
        except ValueError as e:
            bad.append(f"  {path}: {e}")
    if bad:
        raise DataError(f"cannot read {len(bad)} image file(s):\n" + "\n".join(bad))
    if not arrays:
        raise DataError("no image files given")
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return x.float() / 127.5 - 1.0


# ------------------------------------------------------------------------------------ drawing
def display_scale(resolution: int, target: int = 128) -> int:
    """Integer nearest-neighbour upscaling that makes ``resolution``-px images about
    ``target`` px (×8 for 16 px, ×4 for 32 px, ×1 from 128 px)."""
    return max(1, target // max(1, int(resolution)))


def font(size: int = 12) -> ImageFont.ImageFont:
    """Pillow's default font (a scalable one where Pillow has FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _fit_text(draw: ImageDraw.ImageDraw, text: str, fnt, width: int) -> str:
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
        draw.text((pad, y), _fit_text(draw, line, fnt, w), fill=(20, 20, 20), font=fnt)
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
    return name if len(name) <= n else name[: n - 2] + ".."


def attribute_label(a: Attribute) -> str:
    return f"L{a.layer} c{a.channel} {a.direction}"


FLIP_COLOUR = (214, 39, 40)


def explanation_panel(e: ImageExplanation, scale: int | None = None) -> Image.Image:
    """A PNG-ready panel: input | reconstruction | each top attribute alone | the subset
    counterfactual, with the predicted and target classes' probabilities under each image.
    Images whose predicted class differs from the reconstruction's are framed in red."""
    names = e.class_names
    p, t = e.predicted, e.target
    scale = scale or display_scale(e.image.shape[-1])

    def prob_lines(probs: torch.Tensor) -> list[str]:
        lines = [f"p({short(names[p])})={float(probs[p]):.2f}"]
        if t != p:
            lines.append(f"p({short(names[t])})={float(probs[t]):.2f}")
        return lines

    def frame(probs: torch.Tensor):
        return FLIP_COLOUR if int(probs.argmax()) != p else None

    tiles = [
        captioned(e.image, ["input", *prob_lines(e.input_probs)], scale),
        captioned(e.reconstruction, ["reconstruction", *prob_lines(e.probs)], scale),
    ]
    for r, c in enumerate(e.independent):
        label = f"#{r + 1} {attribute_label(c.attributes[-1])}"
        tiles.append(captioned(c.image, [label, *prob_lines(c.probs)], scale, frame(c.probs)))
    if e.subset:
        c = e.subset[-1]
        label = f"top {e.subset_size} (flip)" if e.flipped else f"top {len(e.subset)}: no flip"
        tiles.append(captioned(c.image, [label, *prob_lines(c.probs)], scale, frame(c.probs)))
    title = (e.name + ": " if e.name else "") + e.summary()
    return hstack(tiles, title)


__all__ = [
    "CANDIDATES",
    "AttributeView",
    "Counterfactual",
    "Explainer",
    "ImageExplanation",
    "captioned",
    "display_scale",
    "explanation_panel",
    "first_flip",
    "hstack",
    "read_images",
]
