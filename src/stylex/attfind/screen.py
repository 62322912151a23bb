"""Screening mode (approximate): rank all (coordinate, direction) pairs cheaply, then compute the
exact Δ only for the best candidates.

Estimate: one forward and ``K − 1`` backward passes per image give the Jacobian of the logit
differences ``u_k = logit_k − logit_0`` with respect to every style coordinate. The edit
``(d, i)`` moves ``s_i`` by ``δ = t·(target[d, i] − s_i)``; its estimated effect is

    Δ̂[n, d, i, :] = softmax(u_n + J_n[:, i] · δ) − softmax(u_n)

i.e. first order in logit space, passed through the softmax (which keeps the estimate a
difference of probabilities and captures saturation, unlike a first-order step in p).

Candidates for class y are the greedy picks (:func:`stylex.attfind.select.select_class`) on Δ̂,
``candidates`` of them, with the same rules as the exact mode (considered images, threshold,
unstable filter on Δ̂). Their union over classes is the ``[2, S]`` mask of pairs whose Δ is then
computed exactly on all N images; selection runs on those only. Cost per image: one forward +
``K − 1`` backward passes, plus one partial re-run per candidate pair, instead of ``2·S``.
How often the result equals the exact mode's is measured in ``benchmarks/attfind.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from stylex.attfind.effects import ProgressFn, edit_targets
from stylex.attfind.select import DEFAULT_MAX_FLIP_FRACTION, DEFAULT_THRESHOLD, select_class
from stylex.attfind.select import unstable_images as _unstable
from stylex.models.generator import Generator, StyleSpace


def first_order_effects(
    generator: Generator,
    classifier: nn.Module,
    styles: Sequence[torch.Tensor],
    style_min: torch.Tensor,
    style_max: torch.Tensor,
    space: StyleSpace,
    shift_size: float = 1.0,
    *,
    batch: int = 32,
    progress: ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated effects ``Δ̂ [N, 2, S, K]`` and the base probabilities ``[N, K]`` (float32, CPU).

    Same arguments as :func:`stylex.attfind.effects.reference_effects`; ``batch`` images per
    forward/backward pass.
    """
    targets = edit_targets(style_min, style_max).to(styles[0].device)
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


def screen_candidates(
    estimate: torch.Tensor,
    base_probs: torch.Tensor,
    candidates: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_flip_fraction: float | None = DEFAULT_MAX_FLIP_FRACTION,
) -> tuple[torch.Tensor, list[list[int]]]:
    """The ``[2, S]`` bool mask of candidate pairs: per class, the first ``candidates`` greedy
    picks on the estimate ``[N, 2, S, K]``. Also returns each class's flat picks (d·S + i)."""
    n, _, s, k = estimate.shape
    keep = None
    if max_flip_fraction is not None:
        keep = ~_unstable(estimate, base_probs, max_flip_fraction)
    mask = torch.zeros(2, s, dtype=torch.bool)
    per_class = []
    for y in range(k):
        picked, _, _ = select_class(
            estimate, base_probs, y, candidates, threshold=threshold, keep=keep
        )
        flat = [r["direction"] * s + r["index"] for r in picked]
        for r in picked:
            mask[r["direction"], r["index"]] = True
        per_class.append(flat)
    return mask, per_class
