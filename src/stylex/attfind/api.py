"""The user-facing AttFind object: ``AttFind(run).attribute(...) -> AttFindResult``.

Steps (DESIGN.md, "AttFind"): encode N held-out images → style vectors; per-coordinate min and
max over them; the effect tensor Δ; drop unstable images; greedy selection per class
(one-vs-rest); optional discriminator filter.

Modes. The default is **screening** (:mod:`stylex.attfind.screen`): a first-order estimate ranks
every (coordinate, direction) pair, and the exact Δ is computed for the best
``DEFAULT_CANDIDATES_PER_TOP_K · top_k`` candidates per class only; selection runs on those
exact numbers. ``screen=False`` (CLI ``--exact``) computes the exact Δ of every pair (the
paper's procedure; ~20–50× slower on CPU). The default candidate count was chosen by measuring
agreement with exact mode (``benchmarks/attfind.py --run``) on the shipped runs: see
``DEFAULT_CANDIDATES_PER_TOP_K``.

Resume: Δ is computed in chunks of ``images_per_chunk`` images; each finished chunk is written
atomically to ``RUN/attfind/partial/`` under a key of everything its numbers depend on
(:mod:`stylex.attfind.resume`). A restarted AttFind reuses every chunk whose file is there with
the same key and deletes the partial files once Δ is complete.

Multi-process: under ``torchrun`` (``WORLD_SIZE > 1``; gloo on CPU, NCCL on GPU) chunk ``j``
is computed by rank ``j mod WORLD_SIZE``; Δ is merged with one all-reduce (each rank holds
zeros outside its chunks, so the sum is exact); every rank then holds the full Δ, and rank 0
writes the files.

Filters on picked pairs (rejected pairs are listed per class): the discriminator filter
(``d_filter``, :mod:`stylex.attfind.d_filter`: the edit may not drop D's mean realness by more
than ``d_margin`` stds) and the joint check (on by default, :mod:`stylex.attfind.joint_check`:
a class's top-k applied together flip at least as many images as its top-(k−1); ``joint=False``
/ ``--no-joint-check`` is the colab's selection).

The result type :class:`AttFindResult` lives in :mod:`stylex.attfind.result`.
"""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import torch

import stylex.attfind.resume as resume_files
from stylex import distributed as distr
from stylex.attfind.d_filter import discriminator_filter
from stylex.attfind.delta import ProgressFn, fast_effects, reference_effects
from stylex.attfind.effects import DEFAULT_INCLUDE_RGB, DIRECTIONS, Effects, chunk_bounds
from stylex.attfind.joint_check import chain, joint_check, shortfall_note
from stylex.attfind.result import AttFindResult, agreement
from stylex.attfind.screen import DEFAULT_CANDIDATES_PER_TOP_K, screen_pairs
from stylex.attfind.select import (
    DEFAULT_MAX_FLIP_FRACTION,
    DEFAULT_THRESHOLD,
    select_attributes,
)
from stylex.attfind.tempered import TemperedClassifier
from stylex.attfind.visibility import annotate_with_context
from stylex.errors import RunError, StylexError
from stylex.models.stylespace import EditContext, style_bounds


class AttFind:
    """Find the style coordinates that most move the classifier (the paper's AttFind).

    Args:
        run: a :class:`stylex.run.Run` (generator, encoder, classifier; discriminator for the
            ``d_filter``).
        shift_size: ``t`` in ``s ← s + t·(target − s)`` (1 = all the way to the min/max).
        include_rgb: also edit the toRGB layers' styles (default; the flat index then covers
            them). StyleSpace as Wu et al. 2021 define it counts the toRGB channels, and a
            generator may draw the classifier's factor there (colour, in the skip
            architecture): on shapes `hue<0.5` with ``--encoder-features effnet`` every
            condition coordinate that flips the class is a toRGB one (benchmarks/recipe_log.md,
            session 16). ``False`` searches the conv layers only (the default before session 16).
        batch: edited images per forward pass (default: from a memory budget).
        progress: show a tqdm bar with ETA (rank 0 only).
        images_per_chunk: images per resumable chunk of Δ.
        method: ``"fast"`` (default) or ``"reference"`` (the plain loop, for checking).
        temperature: effects are measured on ``softmax(logits / temperature)`` (default 1, the
            paper's Δ); > 1 for saturated classifiers (:class:`TemperedClassifier`).
        classifier: measure the effects with this classifier instead of the run's (same data
            contract; the run's own still conditions the generator): :mod:`stylex.attfind.other`.
    """

    def __init__(
        self,
        run,
        shift_size: float = 1.0,
        include_rgb: bool = DEFAULT_INCLUDE_RGB,
        batch: int | None = None,
        progress: bool = True,
        images_per_chunk: int = 16,
        method: str = "fast",
        temperature: float = 1.0,
        classifier=None,
    ):
        if not temperature > 0:
            raise StylexError(f"temperature must be > 0, got {temperature}")
        if method not in ("fast", "reference"):
            raise ValueError(f"method must be 'fast' or 'reference', got {method!r}")
        if not shift_size > 0:
            raise StylexError(f"shift size must be > 0, got {shift_size}")
        self.run = run
        self.shift_size = float(shift_size)
        self.include_rgb = bool(include_rgb)
        self.batch = batch
        self.progress = progress
        self.images_per_chunk = max(1, int(images_per_chunk))
        self.method = method
        self.generator = run.generator.eval()
        self.temperature = float(temperature)
        self.classifier = (run.classifier if classifier is None else classifier).eval()
        if self.temperature != 1.0:
            self.classifier = TemperedClassifier(self.classifier, self.temperature).eval()
        self.space = self.generator.style_space(include_rgb=self.include_rgb)
        self.device = torch.device(run.device)
        self.stats: dict[str, Any] = {}
        self._fingerprint: str | None = None

    # ----------------------------------------------------------------------------- encoding
    @torch.no_grad()
    def encode(
        self, images: torch.Tensor, batch: int = 64
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """``images [N, C, R, R]`` in [-1, 1] → (per-layer styles ``[N, C_l]``, condition
        ``[N, cond_dim]`` or None)."""
        ws, cs = [], []
        for a in range(0, images.shape[0], batch):
            w, c = self.run.encode(images[a : a + batch].to(self.device))
            ws.append(w)
            cs.append(c)
        w = torch.cat(ws)
        c = None if cs[0] is None else torch.cat(cs)
        return self.generator.styles(w, c), c

    def model_fingerprint(self) -> str:
        """A hash of the generator's and the classifier's weights (keys resume files)."""
        if self._fingerprint is None:
            self._fingerprint = resume_files.model_fingerprint((self.generator, self.classifier))
        return self._fingerprint

    def edit_context(self, style_min: torch.Tensor, style_max: torch.Tensor) -> EditContext:
        """This AttFind's generator, classifier, StyleSpace and shift size with these targets."""
        return EditContext(
            self.generator, self.classifier, self.space, style_min, style_max, self.shift_size
        )

    # ----------------------------------------------------------------------------- Δ
    def effects(
        self,
        images: torch.Tensor | None = None,
        *,
        styles: list[torch.Tensor] | None = None,
        image_ids: list[str] | None = None,
        image_indices: torch.Tensor | None = None,
        computed: torch.Tensor | None = None,
        partial_dir: str | Path | None = None,
        resume: bool = True,
    ) -> Effects:
        """The effect tensor Δ ``[N, 2, S, K]`` of ``images [N, C, R, R]`` in [-1, 1] (or of
        given per-layer ``styles``), with resume and multi-process sharding.

        ``computed``: optional ``[2, S]`` mask of pairs to compute (others stay 0).
        ``partial_dir``: where resumable chunks go (default ``RUN/attfind/partial``).
        """
        if styles is None:
            if images is None:
                raise ValueError("give images or styles")
            styles, _ = self.encode(images)
        styles = [s.to(self.device) for s in styles]
        n = styles[0].shape[0]
        if n == 0:
            raise StylexError("AttFind needs at least one image")
        flat = self.space.flatten(styles)
        lo, hi = style_bounds(flat)
        computed = (
            torch.ones(2, self.space.total, dtype=torch.bool)
            if computed is None
            else computed.bool().cpu()
        )
        info = distr.init_from_env(self.device.type)
        if partial_dir is None and resume and getattr(self.run, "path", None) is not None:
            partial_dir = Path(self.run.path) / "attfind" / "partial"
        partial_dir = Path(partial_dir) if (resume and partial_dir is not None) else None
        chunks = chunk_bounds(n, self.images_per_chunk)
        edits_per_image = int(computed.sum())
        bar = resume_files.progress_bar(n * edits_per_image, self.progress and info.is_main)
        self.stats = {
            "chunks": len(chunks),
            "reused": 0,
            "computed": 0,
            "rank": info.rank,
            "world": info.world,
        }
        t0 = time.perf_counter()
        try:
            delta, base = resume_files.chunked_effects(
                styles,
                [c for j, c in enumerate(chunks) if j % info.world == info.rank],
                lambda chunk: self._compute_chunk(chunk, lo, hi, computed, bar),
                partial_dir=partial_dir,
                config_key=self._config_key(lo, hi, computed),
                num_coords=self.space.total,
                stats=self.stats,
                skipped=(lambda m: bar.update(m * edits_per_image)) if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()
        if delta is None or base is None:  # a rank without chunks: zeros for the merge
            k = self._num_classes()
            delta, base = torch.zeros(n, 2, self.space.total, k), torch.zeros(n, k)
        if info.enabled:  # ranks without chunks still take part in the merge
            delta = distr.all_reduce_sum(delta, info, self.device)
            base = distr.all_reduce_sum(base, info, self.device)
        self.stats["seconds"] = time.perf_counter() - t0
        distr.barrier(info)
        if partial_dir is not None and info.is_main and partial_dir.is_dir():
            shutil.rmtree(partial_dir, ignore_errors=True)
        return Effects(
            delta=delta,
            base_probs=base,
            style_min=lo.cpu(),
            style_max=hi.cpu(),
            styles=flat.cpu(),
            image_indices=(
                torch.full((n,), -1, dtype=torch.int64)
                if image_indices is None
                else torch.as_tensor(image_indices, dtype=torch.int64)
            ),
            image_ids=list(image_ids) if image_ids is not None else [str(i) for i in range(n)],
            layers=list(self.space.layers),
            sizes=list(self.space.sizes),
            include_rgb=self.include_rgb,
            shift_size=self.shift_size,
            class_names=self._class_names(),
            computed=computed,
            meta={"method": self.method, "world_size": info.world},
        )

    def _compute_chunk(
        self,
        chunk: list[torch.Tensor],
        lo: torch.Tensor,
        hi: torch.Tensor,
        computed: torch.Tensor,
        bar: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Δ and base probabilities of one chunk of images (the unit of resume and sharding)."""
        ctx = self.edit_context(lo, hi)
        progress: ProgressFn | None = bar.update if bar is not None else None
        if self.method == "fast":
            return fast_effects(
                ctx,
                chunk,
                computed=computed,
                progress=progress,
                batch=self.batch,
                images_per_chunk=self.images_per_chunk,
            )
        return reference_effects(ctx, chunk, computed=computed, progress=progress)

    def _config_key(self, lo: torch.Tensor, hi: torch.Tensor, computed: torch.Tensor) -> str:
        settings = {
            "shift": self.shift_size,
            "temperature": self.temperature,
            "layers": self.space.layers,
            "sizes": self.space.sizes,
            "v": 1,
        }
        return resume_files.config_key(settings, (lo, hi, computed), self.model_fingerprint())

    def _class_names(self) -> list[str]:
        names = list(getattr(self.classifier, "class_names", []) or [])
        if not names and getattr(self.run, "config", None):
            names = list(self.run.config.classifier.class_names)
        return names

    def _num_classes(self) -> int:
        names = self._class_names()
        if names:
            return len(names)
        with torch.no_grad():
            g = self.generator
            r, c = g.config.resolution, g.config.img_channels
            return int(self.classifier(torch.zeros(1, c, r, r, device=self.device)).shape[1])

    # ----------------------------------------------------------------------------- attribute
    def attribute(
        self,
        images: torch.Tensor | None = None,
        num_images: int = 256,
        top_k: int = 10,
        *,
        screen: bool = True,
        candidates: int | None = None,
        screen_pool: int = 0,
        screen_subset: int = 32,
        threshold: float = DEFAULT_THRESHOLD,
        max_flip_fraction: float | None = DEFAULT_MAX_FLIP_FRACTION,
        d_filter: bool = False,
        d_margin: float = 1.0,
        one_direction: bool = True,
        joint: bool = True,
        split: str = "val",
        image_ids: list[str] | None = None,
        partial_dir: str | Path | None = None,
        resume: bool = True,
    ) -> AttFindResult:
        """Run AttFind and return per-class ordered attributes.

        Args:
            images: ``[N, C, R, R]`` in [-1, 1]; default: the first ``num_images`` images of
                the run's ``split`` (held-out "val").
            top_k: attributes per class.
            screen: screening (the default; see :mod:`stylex.attfind.screen`): ``candidates``
                pairs per class (default ``DEFAULT_CANDIDATES_PER_TOP_K · top_k``) chosen by a
                first-order estimate get the exact Δ, and selection uses those exact numbers.
                ``screen=False``: the exact Δ of every pair (slow, the reference). With
                ``screen_pool > 0``, a two-stage screen: ``screen_pool`` pairs per class by the
                first-order estimate, re-ranked by their exact Δ on ``screen_subset`` images.
            threshold: the greedy selection's per-image accumulated-effect threshold.
            max_flip_fraction: unstable-image rule (None: keep all images).
            d_filter, d_margin, joint: the filters (module docstring).
            one_direction: a class never gets both directions of one coordinate (False: the
                colab's rule; :mod:`stylex.attfind.select`).
        """
        t0 = time.perf_counter()
        image_indices = None
        if images is None:
            ds = self.run.dataset(split)
            n = min(num_images, len(ds))
            if n == 0:
                raise StylexError(f"the run's {split!r} split has no images")
            images = ds.float_images(slice(0, n))
            image_ids = list(ds.ids[:n])
            image_indices = torch.arange(n)
        styles, cond = self.encode(images)
        if d_filter and getattr(self.run, "discriminator", None) is None:
            raise RunError("--d-filter needs the run's discriminator.safetensors")
        cfg: dict[str, Any] = {
            "top_k": top_k,
            "screen": bool(screen),
            "threshold": threshold,
            "max_flip_fraction": max_flip_fraction,
            "d_filter": d_filter,
            "d_margin": d_margin if d_filter else None,
            "one_direction": bool(one_direction),
            "joint_check": bool(joint),
            "split": split,
            "method": self.method,
            "temperature": self.temperature,
        }
        computed = None
        if screen:
            candidates = candidates or DEFAULT_CANDIDATES_PER_TOP_K * top_k
            cfg["candidates"] = candidates
            t1 = time.perf_counter()
            computed = screen_pairs(
                self.edit_context(*style_bounds(self.space.flatten(styles))),
                styles,
                candidates,
                pool=screen_pool,
                subset=screen_subset,
                threshold=threshold,
                max_flip_fraction=max_flip_fraction,
                batch=self.batch,
                one_direction=one_direction,
            )
            if screen_pool > 0:
                cfg.update(screen_pool=screen_pool, screen_subset=screen_subset)
            cfg["screen_seconds"] = time.perf_counter() - t1
            cfg["pairs_computed"] = int(computed.sum())
        effects = self.effects(
            styles=styles,
            image_ids=image_ids,
            image_indices=image_indices,
            computed=computed,
            partial_dir=partial_dir,
            resume=resume,
        )
        cfg["effects_seconds"] = self.stats.get("seconds")
        ctx = self.edit_context(effects.style_min, effects.style_max)
        d_acc = (
            discriminator_filter(self.run.discriminator, ctx, styles, cond, d_margin, self.device)
            if d_filter
            else None
        )
        j_acc = joint_check(ctx, styles, self.device, self.batch or 64, top_k) if joint else None
        accept_factory = chain(d_acc, j_acc)  # the D filter first
        classes, unstable = select_attributes(
            effects,
            top_k,
            threshold=threshold,
            max_flip_fraction=max_flip_fraction,
            accept_factory=accept_factory,
            one_direction=one_direction,
        )
        cfg["num_unstable"] = int(unstable.sum())
        t2 = time.perf_counter()  # display strengths (attribute.extra["visibility"])
        annotate_with_context(ctx, classes, styles, top_k, batch=self.batch or 64)
        cfg["visibility_seconds"] = time.perf_counter() - t2
        cfg["seconds"] = time.perf_counter() - t0
        for c in classes:
            if len(c.attributes) < top_k:
                warnings.warn(shortfall_note(c, top_k, joint), stacklevel=2)
        return AttFindResult(classes, effects, cfg, unstable)


__all__ = [
    "DEFAULT_CANDIDATES_PER_TOP_K",
    "DIRECTIONS",
    "AttFind",
    "AttFindResult",
    "TemperedClassifier",
    "agreement",
]
