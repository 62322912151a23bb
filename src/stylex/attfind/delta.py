"""AttFind's effect tensor Δ: the reference loop (the definition) and the exact fast path.

Both take an :class:`~stylex.models.stylespace.EditContext` (generator, classifier,
StyleSpace, per-coordinate targets, shift size) and the images' per-layer styles.

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
  only (``Generator.run_from``);
* all edits of one layer, for all images of the chunk, are rows of one large batch, built by
  tensor indexing (no Python loop per coordinate) and cut into batches of ``batch`` rows, so
  memory is bounded for any N and S;
* a toRGB edit (``include_rgb``) changes only the skip image, which later layers upsample
  (bilinear, linear) and add to: its final image is ``G(s) + upsampleᵏ(rgb_l(s') − rgb_l(s))``,
  so no later convolution is re-run (``Generator.run_rgb_edit``).

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

from collections.abc import Callable, Sequence

import torch

from stylex.models.generator import SynthesisState
from stylex.models.memory import default_batch
from stylex.models.stylespace import EditContext

ProgressFn = Callable[[int], None]


def check_inputs(
    ctx: EditContext, styles: Sequence[torch.Tensor], computed: torch.Tensor | None
) -> torch.Tensor:
    """Validate ``styles`` and the context's targets; the ``[2, S]`` bool mask of pairs to
    compute (all pairs when ``computed`` is None), on the CPU."""
    generator, space = ctx.generator, ctx.space
    if len(styles) != generator.num_layers:
        raise ValueError(
            f"styles must list all {generator.num_layers} synthesis layers, got {len(styles)}"
        )
    s = space.total
    if ctx.style_min.shape != (s,) or ctx.style_max.shape != (s,):
        raise ValueError(
            f"style_min/max must be [{s}] (the StyleSpace's size), got "
            f"{list(ctx.style_min.shape)} / {list(ctx.style_max.shape)}"
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
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    *,
    computed: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The effect tensor by the plain loop: one edit → one full synthesis + classification.

    Args:
        ctx: the generator, classifier, StyleSpace, ``[S]`` targets and shift size.
        styles: per-layer style vectors of the N images (all synthesis layers, ``[N, C_l]``).
        computed: optional ``[2, S]`` bool mask of the (direction, coordinate) pairs to compute
            (the others stay 0).
        progress: called with the number of edits done after each edit.

    Returns:
        ``(delta [N, 2, S, K], base_probs [N, K])``, float32, on the CPU.
    """
    computed = check_inputs(ctx, styles, computed)
    g, total = ctx.generator, ctx.space.total
    targets = ctx.targets.to(styles[0].device)
    n = styles[0].shape[0]
    delta: torch.Tensor | None = None
    base_all = torch.zeros(n, 0)
    for b in range(n):
        s_b = [s[b : b + 1] for s in styles]
        base = ctx.probs(g.synthesize(s_b, noise_mode="const"))[0]
        if delta is None:
            k = base.shape[0]
            delta = torch.zeros(n, 2, total, k)
            base_all = torch.zeros(n, k)
        base_all[b] = base.cpu()
        for d in range(2):
            for i in range(total):
                if not computed[d, i]:
                    continue
                edited = ctx.edit(s_b, i, targets[d, i])
                p = ctx.probs(g.synthesize(edited, noise_mode="const"))[0]
                delta[b, d, i] = (p - base).cpu()
                if progress is not None:
                    progress(1)
    if delta is None:  # no images
        delta = torch.zeros(0, 2, total, 0)
    return delta, base_all


# ------------------------------------------------------------------------------ the fast path
@torch.no_grad()
def fast_effects(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    *,
    computed: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
    batch: int | None = None,
    images_per_chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same effect tensor as :func:`reference_effects`, computed fast (see the module doc).

    Extra args: ``batch`` rows (edited images) per forward (default
    :func:`~stylex.models.memory.default_batch`); ``images_per_chunk`` images whose cached
    states are held at once.
    """
    computed = check_inputs(ctx, styles, computed)
    targets = ctx.targets.to(styles[0].device)
    batch = batch or default_batch(ctx.generator)
    n = styles[0].shape[0]
    deltas, bases = [], []
    for a in range(0, n, images_per_chunk):
        chunk = [s[a : a + images_per_chunk] for s in styles]
        d, b = _fast_chunk(ctx, chunk, targets, computed, batch, progress)
        deltas.append(d)
        bases.append(b)
    return torch.cat(deltas), torch.cat(bases)


def _fast_chunk(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    targets: torch.Tensor,
    computed: torch.Tensor,
    batch: int,
    progress: ProgressFn | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Δ of one chunk of images: the synthesis runs once, layer by layer; at each edited layer
    all its edits of all the chunk's images are rows of batches re-run from the cached state."""
    g, space = ctx.generator, ctx.space
    n = styles[0].shape[0]
    dev = styles[0].device
    noise = g.make_noise(n, "const", dtype=styles[0].dtype)
    base_img = g.synthesize(styles, noise=noise)
    base = ctx.probs(base_img)
    delta = torch.zeros(n, 2, space.total, base.shape[1], device=dev)
    state = g.initial_state(n, styles[0].dtype)
    for layer in range(g.num_layers):
        p = space.position(layer)
        if p is not None:
            off, size = space.offsets[p], space.sizes[p]
            d_e, c_e = computed[:, off : off + size].nonzero(as_tuple=True)  # E edits, by (d, c)
            d_e, c_e = d_e.to(dev), c_e.to(dev)
            num_edits = d_e.numel()
            if num_edits:
                tgt_e = targets[d_e, off + c_e]
                rgb_base = None
                if g.layer(layer).kind == "rgb":  # the un-edited skip image after this layer
                    rgb_base = g.run_layers(state, styles, layer, layer + 1, noise).img
                rows_total = n * num_edits
                for r0 in range(0, rows_total, batch):
                    r = torch.arange(r0, min(r0 + batch, rows_total), device=dev)
                    img_idx, e = r // num_edits, r % num_edits
                    ch = c_e[e]
                    s = styles[layer].index_select(0, img_idx)  # a copy: edit in place
                    rows = torch.arange(r.numel(), device=dev)
                    s[rows, ch] = ctx.shifted(s[rows, ch], tgt_e[e])
                    st = state.index_select(img_idx)
                    images = _edited_images(
                        ctx, styles, st, s, layer, img_idx, noise, base_img, rgb_base
                    )
                    probs = ctx.probs(images)
                    delta[img_idx, d_e[e], off + ch] = probs - base.index_select(0, img_idx)
                    if progress is not None:
                        progress(r.numel())
        state = g.run_layers(state, styles, layer, layer + 1, noise)
    return delta.cpu(), base.cpu()


def _edited_images(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    state: SynthesisState,
    style: torch.Tensor,
    layer: int,
    img_idx: torch.Tensor,
    noise: Sequence[torch.Tensor | None],
    base_img: torch.Tensor,
    rgb_base: torch.Tensor | None,
) -> torch.Tensor:
    """Final images of rows ``img_idx`` with ``styles[layer]`` replaced by the edited ``style``,
    from the cached input ``state`` of ``layer`` (rows already selected)."""
    g = ctx.generator
    if rgb_base is not None:  # a toRGB edit: the skip path carries it, no later conv re-runs
        return g.run_rgb_edit(
            state,
            style,
            layer,
            base_img.index_select(0, img_idx),
            rgb_base.index_select(0, img_idx),
        )
    later = [styles[m].index_select(0, img_idx) for m in range(layer + 1, g.num_layers)]
    edited = [*styles[:layer], style, *later]  # layers < ``layer`` are not read
    return g.run_from(state, edited, layer, noise)


__all__ = ["ProgressFn", "check_inputs", "fast_effects", "reference_effects"]
