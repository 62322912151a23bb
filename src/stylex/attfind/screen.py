"""Screening mode (approximate): rank all (coordinate, direction) pairs cheaply, then compute the
exact Δ only for the best candidates.

Estimate: one forward and ``K − 1`` backward passes per image give the Jacobian of the logit
differences ``u_k = logit_k − logit_0`` with respect to every style coordinate. The edit
``(d, i)`` moves ``s_i`` by ``δ = t·(target[d, i] − s_i)``; its estimated effect is

    Δ̂[n, d, i, :] = softmax(u_n + J_n[:, i] · δ) − softmax(u_n)

i.e. first order in logit space, passed through the softmax (which keeps the estimate a
difference of probabilities and captures saturation, unlike a first-order step in p).

Screening is AttFind's default mode (:class:`stylex.attfind.AttFind`; exact stays selectable).
Candidates for class y (:func:`screen_candidates`): ``candidates`` pairs (default
``DEFAULT_CANDIDATES_PER_TOP_K · top_k``, below), taken alternately from
the greedy selection's order on Δ̂ (:func:`stylex.attfind.select.select_class`, same rules as
the exact mode) and from the order of mean effect. Their union over classes is the ``[2, S]``
mask of pairs whose Δ is then computed exactly on all N images; selection runs on those only,
so every reported number (effect, flipped) is exact, only the choice of pairs is approximate.
Cost per image: one forward + ``K − 1`` backward passes, plus one partial re-run per candidate
pair, instead of ``2·S``.

Optional second stage (:func:`refine_candidates`, ``screen_pool``): a larger first-order pool
re-ranked by its exact Δ on a subset of images. With small subsets this ranked *worse* than
the first-order estimate over all N images in our measurements, so it is off by default.

Measured (``benchmarks/attfind.py``) on a Fashion-MNIST StylEx run (sneaker vs ankle-boot,
32 px, width 128, 896 coordinates), agreement = share of the exact top-10 per class also
returned: 2·top_k candidates per class → 90–95 % (N = 16, 32, 64), 68× the reference loop on
one CPU thread; 3·top_k → 95–100 %, 48×. On random weights agreement is lower (65–100 %).
``benchmarks/attfind.py --run RUN`` measures it for any run.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest

import torch

from stylex.attfind.delta import ProgressFn, fast_effects
from stylex.attfind.select import DEFAULT_MAX_FLIP_FRACTION, DEFAULT_THRESHOLD, select_class
from stylex.attfind.select import unstable_images as _unstable
from stylex.models.stylespace import EditContext

# Screening's default: exact Δ for this many candidate pairs per class and requested attribute
# (top_k = 10 → 50 per class). Measured with `benchmarks/attfind.py --run RUN --num-images 64
# --max-flip-fraction 0.05 --candidates …` on copies of the shipped runs (32 px, width 128),
# share of the exact top-10 per class also returned:
#   Fashion-MNIST: 10 → 95 %; 20, 30, 40 → 100 %
#   shapes:        10 → 80 %; 20, 30 → 95 %; 40 → 100 %
# 5× leaves a margin over the smallest count at 100 % on both (README, "Performance notes").
DEFAULT_CANDIDATES_PER_TOP_K = 5


def first_order_effects(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    *,
    batch: int = 32,
    progress: ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated effects ``Δ̂ [N, 2, S, K]`` and the base probabilities ``[N, K]`` (float32, CPU).

    Same arguments as :func:`stylex.attfind.delta.reference_effects`; ``batch`` images per
    forward/backward pass.
    """
    generator, classifier, space = ctx.generator, ctx.classifier, ctx.space
    shift_size = ctx.shift_size
    targets = ctx.targets.to(styles[0].device)
    n = styles[0].shape[0]
    est, bases = [], []
    for a in range(0, n, batch):
        chunk = [s[a : a + batch].detach() for s in styles]
        leaves = [chunk[layer].clone().requires_grad_(True) for layer in space.layers]
        inp = list(chunk)
        for layer, leaf in zip(space.layers, leaves):
            inp[layer] = leaf
        with torch.enable_grad():
            img = generator.synthesize(inp, noise_mode="const")
            logits = classifier(img.clamp(-1, 1)).float()
            u = logits - logits[:, :1]
            k = u.shape[1]
            jac = []  # per class k ≥ 1: [B, S]
            for c in range(1, k):
                grads = torch.autograd.grad(u[:, c].sum(), leaves, retain_graph=c < k - 1)
                jac.append(torch.cat(grads, dim=1))
        b = u.shape[0]
        u = u.detach()
        flat = space.flatten(chunk)  # [B, S]
        step = shift_size * (targets[None] - flat[:, None])  # [B, 2, S]
        jac_t = torch.stack([torch.zeros_like(jac[0])] + jac, dim=-1)  # [B, S, K]
        moved = u[:, None, None, :] + step[..., None] * jac_t[:, None]  # [B, 2, S, K]
        base = torch.softmax(u, dim=1)
        est.append((torch.softmax(moved, dim=-1) - base[:, None, None, :]).cpu())
        bases.append(base.cpu())
        if progress is not None:
            progress(b)
    return torch.cat(est), torch.cat(bases)


def _mean_order(estimate, base_probs, y, keep, computed):
    """Flat pairs (d·S + i) by decreasing mean max(0, Δ̂_y) over the considered images."""
    considered = base_probs.argmax(1) != y
    if keep is not None:
        considered &= keep
    if not bool(considered.any()):
        return []
    n, _, s, _ = estimate.shape
    score = estimate[considered, :, :, y].clamp_min(0).mean(0).reshape(2 * s)
    if computed is not None:
        score[~computed.reshape(-1)] = -torch.inf
    order = torch.argsort(score, descending=True, stable=True)
    return order[torch.isfinite(score[order])].tolist()


def screen_candidates(
    estimate: torch.Tensor,
    base_probs: torch.Tensor,
    candidates: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_flip_fraction: float | None = DEFAULT_MAX_FLIP_FRACTION,
    computed: torch.Tensor | None = None,
    one_direction: bool = True,
) -> tuple[torch.Tensor, list[list[int]]]:
    """The ``[2, S]`` bool mask of candidate pairs from effects ``[N, 2, S, K]`` (estimated or
    exact on a subset): per class, ``candidates`` pairs taken alternately from the greedy
    selection's order and from the order of mean effect (skipping repeats), so the pool covers
    both what the greedy rule would pick and what is strong on average. ``computed`` restricts
    the pairs; ``one_direction`` is the greedy rule's (:func:`select_class`). Also returns each
    class's flat picks (d·S + i), in order."""
    n, _, s, k = estimate.shape
    keep = None
    if max_flip_fraction is not None:
        keep = ~_unstable(estimate, base_probs, max_flip_fraction, computed)
    mask = torch.zeros(2, s, dtype=torch.bool)
    per_class = []
    for y in range(k):
        picked, _, _ = select_class(
            estimate,
            base_probs,
            y,
            candidates,
            threshold=threshold,
            keep=keep,
            computed=computed,
            one_direction=one_direction,
        )
        greedy = [r["direction"] * s + r["index"] for r in picked]
        by_mean = _mean_order(estimate, base_probs, y, keep, computed)[:candidates]
        flat: list[int] = []
        for pair in (p for two in zip_longest(greedy, by_mean) for p in two):
            if pair is not None and pair not in flat and len(flat) < candidates:
                flat.append(pair)
        for pair in flat:
            mask[pair // s, pair % s] = True
        per_class.append(flat)
    return mask, per_class


def refine_candidates(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    pool: torch.Tensor,
    candidates: int,
    *,
    subset: int = 32,
    threshold: float = DEFAULT_THRESHOLD,
    batch: int | None = None,
    one_direction: bool = True,
) -> torch.Tensor:
    """Second screening stage: the exact Δ of the ``pool`` pairs (``[2, S]`` mask) on ``subset``
    evenly spaced images, then :func:`screen_candidates` on it. Returns the ``[2, S]`` mask."""
    n = styles[0].shape[0]
    idx = torch.linspace(0, n - 1, min(subset, n)).round().long().unique()
    idx = idx.to(styles[0].device)
    sub = [s.index_select(0, idx) for s in styles]
    delta, base = fast_effects(ctx, sub, computed=pool, batch=batch)
    mask, _ = screen_candidates(
        delta,
        base,
        candidates,
        threshold=threshold,
        max_flip_fraction=None,
        computed=pool,
        one_direction=one_direction,
    )
    return mask


def screen_pairs(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    candidates: int,
    *,
    pool: int = 0,
    subset: int = 32,
    threshold: float = DEFAULT_THRESHOLD,
    max_flip_fraction: float | None = DEFAULT_MAX_FLIP_FRACTION,
    batch: int | None = None,
    one_direction: bool = True,
) -> torch.Tensor:
    """Screening as AttFind runs it: the ``[2, S]`` mask of the pairs whose exact Δ is then
    computed. :func:`first_order_effects` on all images, then :func:`screen_candidates`
    (``candidates`` per class); with ``pool > 0`` a first-order pool of that size re-ranked by
    :func:`refine_candidates` on ``subset`` images."""
    est, base = first_order_effects(ctx, styles)
    if pool > 0:
        pool_mask, _ = screen_candidates(
            est,
            base,
            pool,
            threshold=threshold,
            max_flip_fraction=max_flip_fraction,
            one_direction=one_direction,
        )
        return refine_candidates(
            ctx,
            styles,
            pool_mask,
            candidates,
            subset=subset,
            threshold=threshold,
            batch=batch,
            one_direction=one_direction,
        )
    mask, _ = screen_candidates(
        est,
        base,
        candidates,
        threshold=threshold,
        max_flip_fraction=max_flip_fraction,
        one_direction=one_direction,
    )
    return mask
