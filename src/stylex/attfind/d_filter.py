"""AttFind's discriminator filter (``d_filter``): reject edits that make images less real.

When a pair is picked for class y, the considered images are generated with and without the
edit and scored by the discriminator D (conditioned on each image's own condition). The pair is
rejected when the mean realness drops by more than ``margin`` standard deviations of the
originals' scores: ``mean(D(orig) − D(edited)) > margin · std(D(orig))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from stylex.attfind.select import AcceptFn
from stylex.models.stylespace import EditContext


def discriminator_filter(
    discriminator: nn.Module,
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    cond: torch.Tensor | None,
    margin: float,
    device: torch.device,
    batch: int = 64,
) -> Callable[[int], AcceptFn | None]:
    """The ``accept_factory`` of :func:`~stylex.attfind.select.select_attributes`: per class a
    filter ``accept(direction, index, considered_image_idx) -> (ok, info)`` on the images whose
    per-layer ``styles`` and condition ``cond`` (``[N, cond_dim]`` or None) are given."""
    g = ctx.generator
    targets = ctx.targets
    d_cond = int(getattr(getattr(discriminator, "config", None), "cond_dim", 0))

    @torch.no_grad()
    def realness(st: Sequence[torch.Tensor], c: torch.Tensor | None) -> torch.Tensor:
        out = []
        for a in range(0, st[0].shape[0], batch):
            img = g.synthesize([s[a : a + batch] for s in st], noise_mode="const")
            cc = None if c is None or d_cond == 0 else c[a : a + batch]
            out.append(discriminator(img.clamp(-1, 1), cc).float().cpu())
        return torch.cat(out)

    def factory(_y: int) -> AcceptFn:
        cache: dict[str, torch.Tensor] = {}

        def accept(d: int, i: int, idx: torch.Tensor) -> tuple[bool, dict[str, Any]]:
            idx_d = idx.to(device)
            sub = [s.index_select(0, idx_d) for s in styles]
            c = None if cond is None else cond.index_select(0, idx_d)
            if "orig" not in cache:
                cache["orig"] = realness(sub, c)
            orig = cache["orig"]
            edited = realness(ctx.edit(sub, i, targets[d, i].item()), c)
            drop = float((orig - edited).mean())
            spread = float(orig.std()) if orig.numel() > 1 else 0.0
            limit = margin * spread
            return drop <= limit, {"d_drop": drop, "d_limit": limit}

        return accept

    return factory


__all__ = ["discriminator_filter"]
