"""The :class:`Explainer`: counterfactual explanations of a run's classifier (the conventions
are in :mod:`stylex.explain`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from stylex.attfind.api import AttFindResult
from stylex.attfind.delta import fast_effects
from stylex.attfind.select import Attribute
from stylex.attfind.visibility import stored_visibility
from stylex.errors import RunError, StylexError
from stylex.explain.ranking import candidate_mask, make_attribute, target_class, top_per_coordinate
from stylex.explain.results import AttributeView, Counterfactual, ImageExplanation, first_flip
from stylex.models.stylespace import EditContext, class_probs, edit, shifted, synthesize_batched


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
        return synthesize_batched(self.generator, styles, self.batch)

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
        self,
        styles: list[torch.Tensor],
        attributes: Attribute | list[Attribute],
        shift: float | None = None,
    ) -> list[torch.Tensor]:
        """A copy of ``styles`` with the attribute(s) applied (in order) to every image, at
        strength ``shift`` (default: this explainer's shift size)."""
        if isinstance(attributes, Attribute):
            attributes = [attributes]
        t = self.shift_size if shift is None else float(shift)
        for a in attributes:
            styles = edit(styles, self.space, a.index, a.target, t)
        return styles

    def display_shift(self, attribute: Attribute) -> float:
        """The strength at which ``attribute`` is shown: AttFind's display strength
        (:mod:`stylex.attfind.visibility`, stored with the result) when it has one and this
        explainer uses AttFind's shift size, else this explainer's shift size."""
        vis = stored_visibility(attribute)
        if vis is not None and math.isclose(self.shift_size, self.effects.shift_size):
            return vis.shift
        return self.shift_size

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
    def attribute_view(
        self, class_name: int | str, k: int, num_images: int = 6, shift: float | None = None
    ) -> AttributeView:
        """Class ``class_name``'s attribute ``k`` (0 = top) on the ``num_images`` of AttFind's
        images whose probability of the class it raises most (among stable images not already
        predicted as the class; others fill in when there are too few).

        The ranking uses AttFind's stored Δ when it applies (same images and shift size) and
        recomputes it otherwise; the images and probabilities shown are always recomputed, with
        the edit at strength ``shift`` (default: this explainer's shift size; the report passes
        :meth:`display_shift`).
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
        t = self.shift_size if shift is None else float(shift)
        edited = self.generate(self.edit(styles, attr, t))
        return AttributeView(
            class_name=self.class_names[y],
            class_index=y,
            rank=k,
            attribute=attr,
            shift_size=t,
            image_ids=[pool["ids"][int(j)] for j in order],
            image_indices=pool["indices"][order],
            real=pool["real"][order].cpu(),
            originals=originals.cpu(),
            edited=edited.cpu(),
            probs_before=self.probs(originals).cpu(),
            probs_after=self.probs(edited).cpu(),
        )

    # ----------------------------------------------------------------------------- per image
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
        tgt_fixed = None if target is None else self.class_index(target)
        mask, sources = candidate_mask(self.result, self.space.total, candidates)
        images = images.to(self.device)
        styles = self.encode(images)
        ctx = EditContext(
            self.generator,
            self.classifier,
            self.space,
            self.effects.style_min.to(self.device),
            self.effects.style_max.to(self.device),
            self.shift_size,
        )
        delta, base = fast_effects(ctx, styles, computed=mask, batch=self.batch)
        recon = self.generate(styles).cpu()
        input_probs = self.probs(images).cpu()
        pairs = mask.nonzero()  # [P, 2] (direction, index)
        out = []
        for b in range(images.shape[0]):
            pred = int(base[b].argmax())
            tgt = target_class(base[b], pred, len(self.class_names), tgt_fixed)
            d_t = delta[b, pairs[:, 0], pairs[:, 1], tgt]  # [P]
            chosen = top_per_coordinate(d_t, pairs, top_k)
            targets = self.effects.targets
            attrs = [make_attribute(self.space, targets, d, i, v) for d, i, v in chosen]
            srcs = [sources.get((d, i), []) for d, i, _ in chosen]
            st_b = [s[b : b + 1] for s in styles]
            independent, subset, needed = self._counterfactuals(
                st_b, attrs, srcs, pred, tgt, float(base[b, tgt])
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

    @torch.no_grad()
    def _counterfactuals(
        self,
        image_styles: list[torch.Tensor],
        attrs: list[Attribute],
        srcs: list[list[str]],
        pred: int,
        tgt: int,
        base_t: float,
    ) -> tuple[list[Counterfactual], list[Counterfactual], int | None]:
        """One image's independent and subset counterfactuals (module docstring) and how many
        attributes the subset needed (None: no flip). ``base_t``: ``p_tgt`` of the
        reconstruction."""
        independent: list[Counterfactual] = []
        subset: list[Counterfactual] = []
        if not attrs:
            return independent, subset, None
        n = len(attrs)
        single = [s.expand(n, -1).clone() for s in image_styles]  # row r: attribute r alone
        cumulative = [s.expand(n, -1).clone() for s in image_styles]  # row r: attributes ≤ r
        for r, a in enumerate(attrs):  # distinct coordinates, so order is irrelevant
            layer, ch = self.space.locate(a.index)
            v = torch.tensor(a.target, dtype=single[layer].dtype, device=self.device)
            single[layer][r, ch] = shifted(single[layer][r, ch], v, self.shift_size)
            cumulative[layer][r:, ch] = shifted(cumulative[layer][r:, ch], v, self.shift_size)
        img_i, img_c = self.generate(single), self.generate(cumulative)
        p_i, p_c = self.probs(img_i).cpu(), self.probs(img_c).cpu()
        for r, a in enumerate(attrs):
            independent.append(
                Counterfactual([a], img_i[r].cpu(), p_i[r], float(p_i[r, tgt]) - base_t, [srcs[r]])
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
        return independent, subset, needed
