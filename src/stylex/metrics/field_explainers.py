"""The counterfactuals of each explainer the field metrics compare (:mod:`stylex.metrics.field`):
StylEx's global attributes, StylEx's per-image explanations and the gradient baseline, all as
:class:`Counterfactuals` of the same N images toward the same targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from stylex.metrics.gradient_baseline import run_gradient_baseline
from stylex.metrics.sufficiency import attfind_context, attribute_edits
from stylex.models.stylespace import synthesize_batched


@dataclass
class Counterfactuals:
    """One explainer's counterfactuals of N images: ``images [N, C, R, R]`` in [-1, 1] and
    ``probs [N, K]`` (CPU), flat full-StyleSpace vectors ``styles [N, S]`` and ``needed [N]``
    (attributes applied; NaN where the class did not flip to the target)."""

    images: torch.Tensor
    probs: torch.Tensor
    styles: torch.Tensor
    needed: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)


def source_target(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``probs [N, K]`` → (predicted class, runner-up class), each ``[N]``."""
    top2 = probs.topk(min(2, probs.shape[1]), dim=1).indices
    return top2[:, 0], top2[:, -1]


def _stack(items: list[torch.Tensor | None]) -> torch.Tensor:
    """``torch.stack`` of per-image results, every one of which must have been filled."""
    filled = [t for t in items if t is not None]
    if len(filled) != len(items):
        raise ValueError(f"{len(items) - len(filled)} of {len(items)} images have no result")
    return torch.stack(filled)


# ------------------------------------------------------------------------------ explainers
@torch.no_grad()
def attribute_counterfactuals(
    run,
    attfind,
    styles: list[torch.Tensor],
    target: torch.Tensor,
    max_k: int = 10,
    batch: int = 64,
) -> Counterfactuals:
    """Global attributes, cumulative until the target class (module docstring).
    ``styles``: per-layer styles of the N images (on the run's device)."""
    ctx = attfind_context(run, attfind)
    g = ctx.generator
    full = g.style_space(include_rgb=True)
    edits = attribute_edits(attfind)
    n = styles[0].shape[0]
    images: list[torch.Tensor | None] = [None] * n
    probs: list[torch.Tensor | None] = [None] * n
    flat = full.flatten(styles).clone()
    needed = torch.full((n,), float("nan"))
    for y in target.unique().tolist():
        idx = (target == y).nonzero().flatten().to(styles[0].device)
        attrs = list(edits[y] if y < len(edits) else [])[:max_k]
        cur = [s.index_select(0, idx) for s in styles]
        img = synthesize_batched(g, cur, batch)
        p = ctx.probs(img)
        done = p.argmax(1) == y
        needed[idx[done].cpu()] = 0.0
        best_img, best_p, best_flat = img.clone(), p.clone(), full.flatten(cur).clone()
        for k, a in enumerate(attrs, 1):
            if bool(done.all()):
                break
            cur = ctx.edit(cur, int(a.index), float(a.target))
            img = synthesize_batched(g, cur, batch)
            p = ctx.probs(img)
            take = ~done  # not yet flipped: this step is its counterfactual for now
            best_img[take], best_p[take] = img[take], p[take]
            best_flat[take] = full.flatten(cur)[take]
            new = take & (p.argmax(1) == y)
            needed[idx[new].cpu()] = float(k)
            done |= new
        for j, i in enumerate(idx.tolist()):
            images[i], probs[i] = best_img[j].cpu(), best_p[j].cpu()
        flat[idx] = best_flat
    return Counterfactuals(_stack(images), _stack(probs), flat.cpu(), needed)


@torch.no_grad()
def per_image_counterfactuals(
    run, attfind, images: torch.Tensor, target: torch.Tensor, max_k: int = 10, batch: int = 64
) -> Counterfactuals:
    """StylEx's per-image explanations' subset counterfactuals toward ``target``."""
    from stylex.explain import Explainer

    ex = Explainer(run, attfind, batch=batch)
    full = run.generator.style_space(include_rgb=True)
    n = images.shape[0]
    out_img: list[torch.Tensor | None] = [None] * n
    out_p: list[torch.Tensor | None] = [None] * n
    out_flat: list[torch.Tensor | None] = [None] * n
    needed = torch.full((n,), float("nan"))
    for y in target.unique().tolist():
        idx = (target == y).nonzero().flatten()
        sub = images[idx]
        styles = ex.encode(sub)
        exps = ex.explain(sub, top_k=max_k, target=y)
        for j, (i, e) in enumerate(zip(idx.tolist(), exps, strict=True)):
            st = [s[j : j + 1] for s in styles]
            if e.predicted == y or not e.subset:  # the reconstruction is already the target
                img, p, attrs = e.reconstruction, e.probs, []
            else:
                cf = e.subset[-1]
                img, p, attrs = cf.image, cf.probs, cf.attributes
            out_img[i], out_p[i] = img.cpu(), p.cpu()
            out_flat[i] = full.flatten(ex.edit(st, attrs))[0].cpu()
            if int(p.argmax()) == y:
                needed[i] = float(len(attrs))
    return Counterfactuals(_stack(out_img), _stack(out_p), _stack(out_flat), needed)


def gradient_counterfactuals_of_run(run, images, target, batch=64, **kw) -> Counterfactuals:
    """:func:`~stylex.metrics.gradient_baseline.run_gradient_baseline` as
    :class:`Counterfactuals` (``needed`` = gradient steps, NaN where it did not flip)."""
    res, flat, settings = run_gradient_baseline(run, images, target, batch=batch, **kw)
    steps = res.steps.double()
    needed = torch.where(res.flipped, steps, torch.full_like(steps, float("nan")))
    return Counterfactuals(res.images.float().cpu(), res.probs.cpu(), flat, needed, settings)


__all__ = [
    "Counterfactuals",
    "attribute_counterfactuals",
    "gradient_counterfactuals_of_run",
    "per_image_counterfactuals",
    "source_target",
]
