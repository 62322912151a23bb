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
atomically to ``RUN/attfind/partial/chunk-START-STOP-KEY.safetensors`` where KEY hashes
everything the chunk's numbers depend on (the chunk's style vectors, the targets, shift size,
StyleSpace, the pairs computed, generator and classifier weights). A restarted AttFind reuses
every chunk whose file is there with the same key and deletes the partial files once Δ is
complete.

Multi-process: under ``torchrun`` (``WORLD_SIZE > 1``; gloo on CPU, NCCL on GPU) chunk ``j``
is computed by rank ``j mod WORLD_SIZE``; Δ is merged with one all-reduce (each rank holds
zeros outside its chunks, so the sum is exact); every rank then holds the full Δ, and rank 0
writes the files.

Discriminator filter (``d_filter``): when a pair is picked for class y, the considered images
are generated with and without the edit and scored by the discriminator D (conditioned on each
image's own condition). The pair is rejected when the mean realness drops by more than
``d_margin`` standard deviations of the originals' scores:
``mean(D(orig) − D(edited)) > d_margin · std(D(orig))``. Rejected pairs are listed per class.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from stylex import distributed as distr
from stylex.attfind.effects import (
    DIRECTIONS,
    Effects,
    chunk_bounds,
    edit_styles,
    fast_effects,
    reference_effects,
    style_bounds,
)
from stylex.attfind.screen import first_order_effects, refine_candidates, screen_candidates
from stylex.attfind.select import (
    DEFAULT_MAX_FLIP_FRACTION,
    DEFAULT_THRESHOLD,
    ClassAttributes,
    select_attributes,
)
from stylex.errors import RunError, StylexError
from stylex.utils.faults import fault_point
from stylex.utils.fs import atomic_write_bytes, atomic_write_json

ATTRIBUTES_FORMAT = 1
# Screening's default: exact Δ for this many candidate pairs per class and requested attribute
# (top_k = 10 → 50 per class). Measured with `benchmarks/attfind.py --run RUN --num-images 64
# --max-flip-fraction 0.05 --candidates …` on copies of the shipped runs (32 px, width 128),
# share of the exact top-10 per class also returned:
#   Fashion-MNIST: 10 → 95 %; 20, 30, 40 → 100 %
#   shapes:        10 → 80 %; 20, 30 → 95 %; 40 → 100 %
# 5× leaves a margin over the smallest count at 100 % on both (README, "Performance notes").
DEFAULT_CANDIDATES_PER_TOP_K = 5


# ------------------------------------------------------------------------------------ result
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

    def to_json(self) -> dict:
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
        path = directory / "attributes.json"
        if not path.is_file():
            raise RunError(f"{path} not found: run `stylex attfind --run RUN` first")
        try:
            j = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise RunError(f"{path} is not valid JSON: {e}") from e
        if j.get("format_version", 0) > ATTRIBUTES_FORMAT:
            raise RunError(f"{path} was written by a newer stylex; upgrade stylex")
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
            lines.append(
                f"  {'#':>3} {'layer':>5} {'ch':>4} {'index':>6} {'dir':>4} "
                f"{'effect':>8} {'flipped':>8}"
            )
            for r, a in enumerate(c.attributes[:top] if top else c.attributes, 1):
                lines.append(
                    f"  {r:>3} {a.layer:>5} {a.channel:>4} {a.index:>6} "
                    f"{a.direction:>4} {a.effect:>8.4f} {a.flipped:>8}"
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


# ------------------------------------------------------------------------------------ AttFind
def _tensor_digest(h, t: torch.Tensor) -> None:
    t = t.detach().to("cpu").contiguous()
    h.update(str((t.dtype, tuple(t.shape))).encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


class TemperedClassifier(nn.Module):
    """``classifier(x) / T``: the same decisions (argmax), softer probabilities.

    AttFind measures effects as changes of class probability (the paper's Δ). A classifier
    that is almost always certain (p ≈ 0.9999) moves its probabilities by ~1e-4 under any
    single edit, however large the change of its logits, so Δ ranks coordinates by noise;
    dividing the logits by ``T > 1`` brings Δ back to a measurable scale. Flips (argmax) and
    hence sufficiency are unchanged.
    """

    def __init__(self, classifier: nn.Module, temperature: float):
        super().__init__()
        self.base = classifier
        self.temperature = float(temperature)
        self.class_names = list(getattr(classifier, "class_names", []) or [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) / self.temperature


class AttFind:
    """Find the style coordinates that most move the classifier (the paper's AttFind).

    Args:
        run: a :class:`stylex.run.Run` (generator, encoder, classifier; discriminator for the
            ``d_filter``).
        shift_size: ``t`` in ``s ← s + t·(target − s)`` (1 = all the way to the min/max).
        include_rgb: also edit the toRGB layers' styles (the flat index then covers them).
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
        include_rgb: bool = False,
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
            h = hashlib.sha256()
            for module in (self.generator, self.classifier):
                for name, t in sorted(module.state_dict().items()):
                    h.update(name.encode())
                    _tensor_digest(h, t)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

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
        config_key = self._config_key(lo, hi, computed)
        chunks = chunk_bounds(n, self.images_per_chunk)
        edits_per_image = int(computed.sum())
        bar = self._bar(n * edits_per_image, info)
        delta = base = None
        self.stats = {
            "chunks": len(chunks),
            "reused": 0,
            "computed": 0,
            "rank": info.rank,
            "world": info.world,
        }
        t0 = time.perf_counter()
        try:
            for j, (a, b) in enumerate(chunks):
                if j % info.world != info.rank:
                    continue
                chunk = [s[a:b] for s in styles]
                path = None
                if partial_dir is not None:
                    key = self._chunk_key(config_key, chunk)
                    path = partial_dir / f"chunk-{a:06d}-{b:06d}-{key}.safetensors"
                got = _read_partial(path) if path is not None else None
                if got is not None:
                    d_chunk, b_chunk = got
                    self.stats["reused"] += 1
                    if bar is not None:
                        bar.update((b - a) * edits_per_image)
                else:
                    d_chunk, b_chunk = self._compute_chunk(chunk, lo, hi, computed, bar)
                    self.stats["computed"] += 1
                    if path is not None:
                        atomic_write_bytes(
                            path,
                            st_save(
                                {"delta": d_chunk.contiguous(), "base_probs": b_chunk.contiguous()}
                            ),
                        )
                        fault_point("attfind.chunk")
                if delta is None:
                    k = d_chunk.shape[-1]
                    delta = torch.zeros(n, 2, self.space.total, k)
                    base = torch.zeros(n, k)
                delta[a:b] = d_chunk
                base[a:b] = b_chunk
        finally:
            if bar is not None:
                bar.close()
        if info.enabled:  # ranks without chunks still take part in the merge
            k = self._num_classes() if delta is None else delta.shape[-1]
            if delta is None:
                delta, base = torch.zeros(n, 2, self.space.total, k), torch.zeros(n, k)
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

    def _compute_chunk(self, chunk, lo, hi, computed, bar):
        """Δ and base probabilities of one chunk of images (the unit of resume and sharding)."""
        fn = fast_effects if self.method == "fast" else reference_effects
        kw = (
            {"batch": self.batch, "images_per_chunk": self.images_per_chunk}
            if self.method == "fast"
            else {}
        )
        return fn(
            self.generator,
            self.classifier,
            chunk,
            lo,
            hi,
            self.space,
            self.shift_size,
            computed=computed,
            progress=bar.update if bar is not None else None,
            **kw,
        )

    def _config_key(self, lo, hi, computed) -> str:
        h = hashlib.sha256()
        h.update(
            json.dumps(
                {
                    "shift": self.shift_size,
                    "temperature": self.temperature,
                    "layers": self.space.layers,
                    "sizes": self.space.sizes,
                    "v": 1,
                }
            ).encode()
        )
        for t in (lo, hi, computed):
            _tensor_digest(h, t)
        h.update(self.model_fingerprint().encode())
        return h.hexdigest()

    @staticmethod
    def _chunk_key(config_key: str, chunk: list[torch.Tensor]) -> str:
        h = hashlib.sha256(config_key.encode())
        for s in chunk:
            _tensor_digest(h, s)
        return h.hexdigest()[:16]

    def _bar(self, total: int, info: distr.DistInfo):
        if not self.progress or not info.is_main:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="edit", unit_scale=True, desc="AttFind Δ", smoothing=0.1)

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
            d_filter, d_margin: the discriminator filter (module docstring).
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
            "split": split,
            "method": self.method,
            "temperature": self.temperature,
        }
        computed = None
        if screen:
            candidates = candidates or DEFAULT_CANDIDATES_PER_TOP_K * top_k
            cfg["candidates"] = candidates
            t1 = time.perf_counter()
            lo, hi = style_bounds(self.space.flatten(styles))
            est, base = first_order_effects(
                self.generator, self.classifier, styles, lo, hi, self.space, self.shift_size
            )
            if screen_pool > 0:
                pool, _ = screen_candidates(
                    est, base, screen_pool, threshold=threshold, max_flip_fraction=max_flip_fraction
                )
                computed = refine_candidates(
                    self.generator,
                    self.classifier,
                    styles,
                    lo,
                    hi,
                    self.space,
                    self.shift_size,
                    pool,
                    candidates,
                    subset=screen_subset,
                    threshold=threshold,
                    batch=self.batch,
                )
                cfg.update(screen_pool=screen_pool, screen_subset=screen_subset)
            else:
                computed, _ = screen_candidates(
                    est, base, candidates, threshold=threshold, max_flip_fraction=max_flip_fraction
                )
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
        accept_factory = self._d_filter(styles, cond, effects, d_margin) if d_filter else None
        classes, unstable = select_attributes(
            effects,
            top_k,
            threshold=threshold,
            max_flip_fraction=max_flip_fraction,
            accept_factory=accept_factory,
        )
        cfg["num_unstable"] = int(unstable.sum())
        cfg["seconds"] = time.perf_counter() - t0
        for c in classes:
            if len(c.attributes) < top_k:
                warnings.warn(
                    f"AttFind: class {c.name!r} got {len(c.attributes)} of {top_k} "
                    f"attributes ({c.num_considered} images considered)",
                    stacklevel=2,
                )
        return AttFindResult(classes, effects, cfg, unstable)

    # ----------------------------------------------------------------------------- D filter
    def _d_filter(self, styles, cond, effects: Effects, margin: float, batch: int = 64):
        disc = self.run.discriminator
        g = self.generator
        targets = effects.targets

        @torch.no_grad()
        def realness(st, c) -> torch.Tensor:
            out = []
            for a in range(0, st[0].shape[0], batch):
                img = g.synthesize([s[a : a + batch] for s in st], noise_mode="const")
                cc = None if c is None or disc.config.cond_dim == 0 else c[a : a + batch]
                out.append(disc(img.clamp(-1, 1), cc).float().cpu())
            return torch.cat(out)

        def factory(_y: int):
            cache: dict[str, torch.Tensor] = {}

            def accept(d: int, i: int, idx: torch.Tensor):
                idx_d = idx.to(self.device)
                sub = [s.index_select(0, idx_d) for s in styles]
                c = None if cond is None else cond.index_select(0, idx_d)
                if "orig" not in cache:
                    cache["orig"] = realness(sub, c)
                orig = cache["orig"]
                edited = realness(
                    edit_styles(sub, self.space, i, targets[d, i].item(), self.shift_size), c
                )
                drop = float((orig - edited).mean())
                spread = float(orig.std()) if orig.numel() > 1 else 0.0
                limit = margin * spread
                return drop <= limit, {"d_drop": drop, "d_limit": limit}

            return accept

        return factory


def _read_partial(path: Path | None):
    if path is None or not path.is_file():
        return None
    try:
        t = st_load(path.read_bytes())
        return t["delta"], t["base_probs"]
    except Exception:  # a torn or foreign file: recompute the chunk
        return None


__all__ = ["DEFAULT_CANDIDATES_PER_TOP_K", "DIRECTIONS", "AttFind", "AttFindResult", "agreement"]
