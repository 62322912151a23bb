"""AttFind's effect tensor Δ: the reference loop (the definition) and the exact fast path.

For N images with style vectors ``s`` (flat over a :class:`~stylex.models.StyleSpace` of S
coordinates), per-coordinate targets ``target[0] = min_n s`` and ``target[1] = max_n s``, and a
shift size ``t``, the edit ``(d, i)`` of image ``n`` sets

    s_i ← s_i + t · (target[d, i] − s_i)

and regenerates the image (constant noise). The effect tensor is

    Δ[n, d, i, k] = p_k(edited) − p_k(original)        [N, 2, S, K], float32

where ``p = softmax(classifier(image.clamp(-1, 1)))`` and *original* is the un-edited generated
image ``G(s_n)`` (not the real photo), so Δ measures the generator edit alone.

:func:`reference_effects` is the definition: one edit → one full synthesis + classification.
:func:`fast_effects` computes the same numbers (up to floating-point rounding; the tests hold
them equal):

* styles are computed once; the synthesis runs once per image chunk, layer by layer, and the
  state *before* each style layer is cached, so an edit of layer ``l`` re-runs layers ``≥ l``
  only (``Generator.run_layers``);
* all edits of one layer, for all images of the chunk, are rows of one large batch, built by
  tensor indexing (no Python loop per coordinate) and cut into batches of ``batch`` rows, so
  memory is bounded for any N and S;
* a toRGB edit (``include_rgb``) changes only the skip image, which later layers upsample
  (bilinear, linear) and add to: its final image is ``G(s) + upsampleᵏ(rgb_l(s') − rgb_l(s))``,
  so no later convolution is re-run.

Where the time goes (``benchmarks/attfind.py``, 32 px, width 128, 896 coordinates): an edit of
any layer before the last conv still pays for the full-resolution convolutions, which are 60–75 %
of the synthesis FLOPs, so caching the layers before the edit saves only ~1.2× in FLOPs. On a
GPU the reference loop is bound by kernel launches and batching many edits per forward gives
~120× (H100). On 2 CPU cores the batch-1 reference already runs at about half the machine's conv
throughput and the fast path near all of it, so exact Δ is only ~2× faster there: the work is
dense and cannot be skipped without approximating. That is what the screening mode
(:mod:`stylex.attfind.screen`) is for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from stylex.errors import RunError
from stylex.models.generator import Generator, StyleSpace
from stylex.models.layers import upsample2x
from stylex.utils.fs import atomic_write_bytes, atomic_write_json

ProgressFn = Callable[[int], None]

EFFECTS_FORMAT = 1
DIRECTIONS = ("min", "max")


# ------------------------------------------------------------------------------------ helpers
def style_bounds(flat_styles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-coordinate min and max over images: ``[N, S]`` → ``([S], [S])``."""
    if flat_styles.ndim != 2 or flat_styles.shape[0] == 0:
        raise ValueError(f"flat styles must be [N, S] with N ≥ 1, got {list(flat_styles.shape)}")
    return flat_styles.amin(0), flat_styles.amax(0)


def edit_targets(style_min: torch.Tensor, style_max: torch.Tensor) -> torch.Tensor:
    """``[2, S]``: row 0 the targets of direction "min", row 1 of direction "max"."""
    return torch.stack([style_min, style_max]).float()


def shifted(value: torch.Tensor, target: torch.Tensor, shift_size: float) -> torch.Tensor:
    """The edited style value ``s + shift · (target − s)`` (the one formula both paths use)."""
    return value + shift_size * (target - value)


def edit_styles(
    styles: Sequence[torch.Tensor],
    space: StyleSpace,
    index: int,
    target: float,
    shift_size: float = 1.0,
) -> list[torch.Tensor]:
    """A copy of per-layer ``styles`` (all synthesis layers, [B, C_l]) with coordinate ``index``
    of ``space`` moved toward ``target`` for every image. Only the edited layer is copied."""
    layer, ch = space.locate(index)
    out = list(styles)
    s = styles[layer].clone()
    t = torch.as_tensor(target, dtype=s.dtype, device=s.device)
    s[:, ch] = shifted(s[:, ch], t, shift_size)
    out[layer] = s
    return out


def class_probs(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``images [B, C, R, R]`` (clamped to [-1, 1] here) → softmax probabilities ``[B, K]``."""
    return torch.softmax(classifier(images.clamp(-1, 1)).float(), dim=1)


def _check_inputs(
    generator: Generator,
    styles: Sequence[torch.Tensor],
    style_min: torch.Tensor,
    style_max: torch.Tensor,
    space: StyleSpace,
    computed: torch.Tensor | None,
) -> torch.Tensor:
    if len(styles) != generator.num_layers:
        raise ValueError(
            f"styles must list all {generator.num_layers} synthesis layers, got {len(styles)}"
        )
    s = space.total
    if style_min.shape != (s,) or style_max.shape != (s,):
        raise ValueError(
            f"style_min/max must be [{s}] (the StyleSpace's size), got "
            f"{list(style_min.shape)} / {list(style_max.shape)}"
        )
    if computed is None:
        return torch.ones(2, s, dtype=torch.bool)
    computed = torch.as_tensor(computed, dtype=torch.bool).cpu()
    if computed.shape != (2, s):
        raise ValueError(f"computed must be a [2, {s}] bool mask, got {list(computed.shape)}")
    return computed


# ------------------------------------------------------------------------------ the definition
@torch.no_grad()
def reference_effects(
    generator: Generator,
    classifier: nn.Module,
    styles: Sequence[torch.Tensor],
    style_min: torch.Tensor,
    style_max: torch.Tensor,
    space: StyleSpace,
    shift_size: float = 1.0,
    *,
    computed: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The effect tensor by the plain loop: one edit → one full synthesis + classification.

    Args:
        generator: the (frozen) generator; ``classifier``: images in [-1, 1] → logits [B, K].
        styles: per-layer style vectors of the N images (all synthesis layers, ``[N, C_l]``).
        style_min, style_max: ``[S]`` per-coordinate targets over ``space``.
        space: the StyleSpace whose coordinates are edited (``generator.style_space(...)``).
        shift_size: ``t`` in ``s ← s + t·(target − s)``.
        computed: optional ``[2, S]`` bool mask of the (direction, coordinate) pairs to compute
            (the others stay 0).
        progress: called with the number of edits done after each edit.

    Returns:
        ``(delta [N, 2, S, K], base_probs [N, K])``, float32, on the CPU.
    """
    computed = _check_inputs(generator, styles, style_min, style_max, space, computed)
    targets = edit_targets(style_min, style_max).to(styles[0].device)
    n = styles[0].shape[0]
    delta = base_all = None
    for b in range(n):
        s_b = [s[b : b + 1] for s in styles]
        base = class_probs(classifier, generator.synthesize(s_b, noise_mode="const"))[0]
        if delta is None:
            k = base.shape[0]
            delta = torch.zeros(n, 2, space.total, k)
            base_all = torch.zeros(n, k)
        base_all[b] = base.cpu()
        for d in range(2):
            for i in range(space.total):
                if not computed[d, i]:
                    continue
                edited = edit_styles(s_b, space, i, targets[d, i], shift_size)
                p = class_probs(classifier, generator.synthesize(edited, noise_mode="const"))[0]
                delta[b, d, i] = (p - base).cpu()
                if progress is not None:
                    progress(1)
    return delta, base_all


# ------------------------------------------------------------------------------ the fast path
def memory_budget(device: torch.device | str) -> float:
    """Bytes a batched no-grad pass may plan for: 1 GiB on CPU; on CUDA 40% of the memory
    free now (at least 1 GiB), so the batch grows with the GPU."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return float(2**30)
    free, _ = torch.cuda.mem_get_info(dev)
    return max(0.4 * free, float(2**30))


def default_batch(generator: Generator, budget_bytes: float | None = None) -> int:
    """Rows per forward so that the largest activations stay within ``budget_bytes``
    (default :func:`memory_budget`: 1 GiB on CPU, 40% of free GPU memory). At 128 px and
    width 256 that is 8 rows on CPU; on an H200 (~140 GB) the 2048 cap up to 64 px, ~400 rows
    at 128 px."""
    dev = generator.const.device
    if budget_bytes is None:
        budget_bytes = memory_budget(dev)
    per_row = max(layer.style_dim * layer.resolution**2 for layer in generator.layers)
    per_row = max(per_row, generator.config.img_channels * generator.config.resolution**2)
    rows = int(budget_bytes // (per_row * 4 * 8))  # ~8 live fp32 activations per row
    return max(1, min(rows, 2048))


@torch.no_grad()
def fast_effects(
    generator: Generator,
    classifier: nn.Module,
    styles: Sequence[torch.Tensor],
    style_min: torch.Tensor,
    style_max: torch.Tensor,
    space: StyleSpace,
    shift_size: float = 1.0,
    *,
    computed: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
    batch: int | None = None,
    images_per_chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same effect tensor as :func:`reference_effects`, computed fast (see the module doc).

    Extra args: ``batch`` rows (edited images) per forward (default :func:`default_batch`);
    ``images_per_chunk`` images whose cached states are held at once.
    """
    computed = _check_inputs(generator, styles, style_min, style_max, space, computed)
    targets = edit_targets(style_min, style_max).to(styles[0].device)
    batch = batch or default_batch(generator)
    n = styles[0].shape[0]
    deltas, bases = [], []
    for a in range(0, n, images_per_chunk):
        chunk = [s[a : a + images_per_chunk] for s in styles]
        d, b = _fast_chunk(
            generator, classifier, chunk, targets, space, shift_size, computed, batch, progress
        )
        deltas.append(d)
        bases.append(b)
    return torch.cat(deltas), torch.cat(bases)


def _fast_chunk(
    g: Generator,
    classifier: nn.Module,
    styles: Sequence[torch.Tensor],
    targets: torch.Tensor,
    space: StyleSpace,
    shift_size: float,
    computed: torch.Tensor,
    batch: int,
    progress: ProgressFn | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    n = styles[0].shape[0]
    dev = styles[0].device
    noise = g.make_noise(n, "const", dtype=styles[0].dtype)
    base_img = g.synthesize(list(styles), noise=noise)
    base = class_probs(classifier, base_img)
    delta = torch.zeros(n, 2, space.total, base.shape[1], device=dev)
    position = {layer: p for p, layer in enumerate(space.layers)}
    state = g.initial_state(n, styles[0].dtype)
    num_layers = g.num_layers
    for layer in range(num_layers):
        p = position.get(layer)
        if p is not None:
            off, size = space.offsets[p], space.sizes[p]
            d_e, c_e = computed[:, off : off + size].nonzero(as_tuple=True)  # E edits, by (d, c)
            d_e, c_e = d_e.to(dev), c_e.to(dev)
            num_edits = d_e.numel()
            if num_edits:
                tgt_e = targets[d_e, off + c_e]
                rgb = g.layers[layer].kind == "rgb"
                if rgb:  # the un-edited skip image after this layer, per image
                    rgb_base = g.run_layers(state, styles, layer, layer + 1, noise).img
                rows_total = n * num_edits
                for r0 in range(0, rows_total, batch):
                    r = torch.arange(r0, min(r0 + batch, rows_total), device=dev)
                    img_idx, e = r // num_edits, r % num_edits
                    ch = c_e[e]
                    s = styles[layer].index_select(0, img_idx)  # a copy: edit in place
                    rows = torch.arange(r.numel(), device=dev)
                    s[rows, ch] = shifted(s[rows, ch], tgt_e[e], shift_size)
                    st = state.index_select(img_idx)
                    edited = [None] * num_layers
                    edited[layer] = s
                    if rgb:
                        img = g.run_layers(st, edited, layer, layer + 1, noise).img
                        diff = img - rgb_base.index_select(0, img_idx)
                        while diff.shape[-1] < base_img.shape[-1]:
                            diff = upsample2x(diff)
                        images = base_img.index_select(0, img_idx) + diff
                    else:
                        for m in range(layer + 1, num_layers):
                            edited[m] = styles[m].index_select(0, img_idx)
                        images = g.run_layers(st, edited, layer, num_layers, noise).img
                    probs = class_probs(classifier, images)
                    delta[img_idx, d_e[e], off + ch] = probs - base.index_select(0, img_idx)
                    if progress is not None:
                        progress(r.numel())
        state = g.run_layers(state, styles, layer, layer + 1, noise)
    return delta.cpu(), base.cpu()


# ------------------------------------------------------------------------------ the result
@dataclass
class Effects:
    """Δ and what it was computed from.

    Attributes:
        delta: ``[N, 2, S, K]`` float32, ``p_k(edited) − p_k(original)``; direction 0 = toward
            the min, 1 = toward the max. Pairs not computed (screening) are 0.
        base_probs: ``[N, K]`` class probabilities of the un-edited generated images.
        style_min, style_max: ``[S]`` per-coordinate targets (over the N images).
        styles: ``[N, S]`` the images' style vectors, flat over the StyleSpace.
        image_indices: ``[N]`` int64, positions of the images in their dataset split (or -1).
        image_ids: N stable ids (dataset ids).
        layers, sizes: the StyleSpace (synthesis-layer positions and widths).
        computed: ``[2, S]`` bool, the (direction, coordinate) pairs whose Δ was computed.
    """

    delta: torch.Tensor
    base_probs: torch.Tensor
    style_min: torch.Tensor
    style_max: torch.Tensor
    styles: torch.Tensor
    image_indices: torch.Tensor
    image_ids: list[str]
    layers: list[int]
    sizes: list[int]
    include_rgb: bool
    shift_size: float
    class_names: list[str]
    computed: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.computed is None:
            self.computed = torch.ones(2, self.num_coords, dtype=torch.bool)

    @property
    def num_images(self) -> int:
        return int(self.delta.shape[0])

    @property
    def num_coords(self) -> int:
        return int(self.delta.shape[2])

    @property
    def num_classes(self) -> int:
        return int(self.delta.shape[3])

    @property
    def space(self) -> StyleSpace:
        return StyleSpace(self.layers, self.sizes)

    @property
    def targets(self) -> torch.Tensor:
        """``[2, S]``: the min (row 0) and max (row 1) targets."""
        return edit_targets(self.style_min, self.style_max)

    @property
    def predicted(self) -> torch.Tensor:
        """``[N]`` the classifier's class for each un-edited generated image."""
        return self.base_probs.argmax(1)

    def edited_predictions(self) -> torch.Tensor:
        """``[N, 2, S]`` the predicted class after each single edit (from base + Δ)."""
        return (self.base_probs[:, None, None, :] + self.delta).argmax(-1)

    # -------------------------------------------------------------------------- files
    def save(self, directory: str | Path) -> None:
        """Write ``effects.safetensors`` (tensors) and ``effects.json`` (ids, meta), atomically."""
        directory = Path(directory)
        tensors = {
            "delta": self.delta.float().contiguous(),
            "base_probs": self.base_probs.float().contiguous(),
            "style_min": self.style_min.float().contiguous(),
            "style_max": self.style_max.float().contiguous(),
            "styles": self.styles.float().contiguous(),
            "image_indices": self.image_indices.to(torch.int64).contiguous(),
            "computed": self.computed.to(torch.uint8).contiguous(),
        }
        atomic_write_bytes(
            directory / "effects.safetensors", st_save({k: v.cpu() for k, v in tensors.items()})
        )
        atomic_write_json(
            directory / "effects.json",
            {
                "format_version": EFFECTS_FORMAT,
                "shape": {
                    "num_images": self.num_images,
                    "directions": list(DIRECTIONS),
                    "num_coords": self.num_coords,
                    "num_classes": self.num_classes,
                },
                "image_ids": list(self.image_ids),
                "class_names": list(self.class_names),
                "style_space": {
                    "layers": list(self.layers),
                    "sizes": list(self.sizes),
                    "include_rgb": self.include_rgb,
                },
                "shift_size": self.shift_size,
                "meta": self.meta,
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> Effects:
        directory = Path(directory)
        tpath, jpath = directory / "effects.safetensors", directory / "effects.json"
        for p in (tpath, jpath):
            if not p.is_file():
                raise RunError(f"AttFind effects not found: {p} (run `stylex attfind` first)")
        try:
            t = st_load(tpath.read_bytes())
            j = json.loads(jpath.read_text())
        except Exception as e:
            raise RunError(f"cannot read AttFind effects in {directory}: {e}") from e
        if j.get("format_version", 0) > EFFECTS_FORMAT:
            raise RunError(f"{jpath} was written by a newer stylex; upgrade stylex")
        sp = j["style_space"]
        return cls(
            delta=t["delta"],
            base_probs=t["base_probs"],
            style_min=t["style_min"],
            style_max=t["style_max"],
            styles=t["styles"],
            image_indices=t["image_indices"],
            image_ids=list(j["image_ids"]),
            layers=list(sp["layers"]),
            sizes=list(sp["sizes"]),
            include_rgb=bool(sp["include_rgb"]),
            shift_size=float(j["shift_size"]),
            class_names=list(j["class_names"]),
            computed=t["computed"].bool(),
            meta=dict(j.get("meta", {})),
        )


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` covering ``0..n`` in chunks of ``size``."""
    return [(a, min(a + size, n)) for a in range(0, n, size)] if n else []


def num_edits(computed: torch.Tensor, num_images: int) -> int:
    return int(computed.sum()) * num_images


__all__ = [
    "DIRECTIONS",
    "Effects",
    "chunk_bounds",
    "class_probs",
    "default_batch",
    "memory_budget",
    "edit_styles",
    "edit_targets",
    "fast_effects",
    "reference_effects",
    "shifted",
    "style_bounds",
]
