"""A gradient counterfactual baseline in the run's own generator (Latent-Shift style).

Latent Shift (Cohen et al., "Gifsplanation via Latent Shift", MIDL 2021) explains a classifier
by moving an autoencoder's latent along the classifier's gradient and decoding. Here the
latent is the run's encoder output ``w`` (the condition ``c = C(x)`` of a StylEx generator is
kept fixed: the baseline may only move what the encoder controls) or, with ``space="styles"``,
the flat StyleSpace vector itself. Per image, with target class ``t``:

1. ``l_0`` = the image's latent; ``η`` = ``step_size`` (absolute; :func:`run_gradient_baseline`
   takes it relative to the spread of the latents over the evaluated images);
2. repeat at most ``max_steps`` times, stopping as soon as the decoded image is predicted
   ``t``: ``l ← l + η · g / ‖g‖`` with ``g = ∇_l log softmax(C(G(l)))_t`` (re-computed at every
   step: normalised gradient ascent on the target class's log-probability);
3. the counterfactual is ``G(l)`` at the stop (or after ``max_steps`` if the class never
   flipped; ``flipped`` says which).

Everything is decoded with constant noise and classified clamped to [-1, 1], as AttFind does.
Unlike a StylEx attribute, a step moves every StyleSpace coordinate (a dense edit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from stylex.errors import StylexError

SPACES = ("w", "styles")
DEFAULT_STEP = 0.05
DEFAULT_MAX_STEPS = 40


@dataclass
class GradientCounterfactuals:
    """Result of :func:`gradient_counterfactuals` for N images.

    ``latents [N, D]`` where each image stopped; ``images [N, C, R, R]`` in [-1, 1];
    ``probs [N, K]``; ``steps [N]`` gradient steps taken (0: already the target);
    ``flipped [N]`` bool, predicted as the target at the stop.
    """

    latents: torch.Tensor
    images: torch.Tensor
    probs: torch.Tensor
    steps: torch.Tensor
    flipped: torch.Tensor


def gradient_counterfactuals(
    decode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    classifier: Callable[[torch.Tensor], torch.Tensor],
    latents: torch.Tensor,
    target: torch.Tensor,
    step_size: float,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> GradientCounterfactuals:
    """Normalised gradient ascent on ``log p_t`` in latent space (module docstring).

    Args:
        decode: ``(latents [B, D], rows [B])`` → images ``[B, C, R, R]`` in [-1, 1],
            differentiable; ``rows`` are the latents' positions among the N (for per-image
            context such as a fixed condition).
        classifier: images → logits ``[B, K]``, differentiable w.r.t. its input.
        latents: ``[N, D]`` starting points; ``target``: ``[N]`` class indices.
        step_size: ``η``, the length of every step in latent units.
        max_steps: the bound on steps per image.
    """
    if not step_size > 0 or max_steps < 0:
        raise StylexError(f"need step_size > 0 and max_steps ≥ 0, got {step_size}, {max_steps}")
    lat = latents.detach().clone()
    target = target.to(lat.device)
    n = lat.shape[0]
    steps = torch.zeros(n, dtype=torch.int64)
    done = torch.zeros(n, dtype=torch.bool, device=lat.device)
    images: torch.Tensor | None = None
    probs: torch.Tensor | None = None
    for k in range(max_steps + 1):
        active = (~done).nonzero().flatten()
        if active.numel() == 0:
            break
        x = lat[active].requires_grad_(True)
        with torch.enable_grad():
            img = decode(x, active).clamp(-1, 1)
            logp = torch.log_softmax(classifier(img).float(), dim=1)
            hit = logp.argmax(1) == target[active]
            if images is None or probs is None:
                images = torch.empty(n, *img.shape[1:], dtype=img.dtype, device=img.device)
                probs = torch.empty(n, logp.shape[1], device=img.device)
            images[active] = img.detach()
            probs[active] = logp.detach().exp()
            steps[active.cpu()] = k
            stop = hit if k < max_steps else torch.ones_like(hit)
            done[active[stop]] = True
            move = active[~stop]
            if move.numel() == 0:
                break
            chosen = logp.gather(1, target[active, None]).sum()
            (g,) = torch.autograd.grad(chosen, x)
        g = g[~stop]
        norm = g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (g.dim() - 1))
        lat[move] = lat[move] + step_size * g / norm
    if images is None or probs is None:
        raise StylexError("the gradient baseline needs at least one image")
    flipped = probs.argmax(1) == target
    return GradientCounterfactuals(lat, images, probs, steps, flipped.cpu())


def latent_spread(latents: torch.Tensor) -> float:
    """RMS distance of the latents ``[N, D]`` from their mean (the unit of the step size)."""
    if latents.shape[0] < 2:
        return float(latents.flatten(1).norm(dim=1).mean()) or 1.0
    c = latents.flatten(1) - latents.flatten(1).mean(0, keepdim=True)
    return float(c.square().sum(1).mean().sqrt()) or 1.0


def run_gradient_baseline(
    run,
    images: torch.Tensor,
    target: torch.Tensor,
    space: str = "w",
    step: float = DEFAULT_STEP,
    max_steps: int = DEFAULT_MAX_STEPS,
    batch: int = 64,
) -> tuple[GradientCounterfactuals, torch.Tensor, dict]:
    """The gradient baseline on a :class:`~stylex.run.Run`: ``images [N, C, R, R]`` in [-1, 1]
    toward ``target [N]``; the step is ``step ×`` :func:`latent_spread` of the N latents.

    Returns the counterfactuals, their flat StyleSpace vectors ``[N, S]`` (every synthesis
    layer, toRGB included) and the settings used.
    """
    if space not in SPACES:
        raise StylexError(f"space must be one of {SPACES}, got {space!r}")
    g = run.generator
    full = g.style_space(include_rgb=True)
    ws, cs = [], []
    for a in range(0, len(images), batch):
        w, c = run.encode(images[a : a + batch])
        ws.append(w)
        cs.append(c)
    w = torch.cat(ws)
    c = None if cs[0] is None else torch.cat(cs)
    parts, flat_styles = [], []
    if space == "w":
        lat0 = w
    else:
        lat0 = full.flatten(g.styles(w, c))
    eta = step * latent_spread(lat0)
    for a in range(0, len(images), batch):
        sl = slice(a, a + batch)
        c_b = None if c is None else c[sl]
        template = g.styles(w[sl], c_b)

        if space == "w":

            def decode(x, rows, c_b=c_b):
                return g.generate(x, None if c_b is None else c_b[rows], noise_mode="const")
        else:

            def decode(x, rows, template=template):
                sub = [t[rows] for t in template]
                return g.synthesize(full.unflatten(x, sub), noise_mode="const")

        res = gradient_counterfactuals(decode, run.classifier, lat0[sl], target[sl], eta, max_steps)
        parts.append(res)
        with torch.no_grad():
            st = (
                g.styles(res.latents, c_b)
                if space == "w"
                else full.unflatten(res.latents, template)
            )
        flat_styles.append(full.flatten(st).cpu())
    out = GradientCounterfactuals(
        *[
            torch.cat([getattr(p, f) for p in parts])
            for f in ("latents", "images", "probs", "steps", "flipped")
        ]
    )
    settings = {
        "space": space,
        "step": step,
        "step_abs": eta,
        "max_steps": max_steps,
        "objective": "log softmax of the target class, normalised gradient steps",
    }
    return out, torch.cat(flat_styles), settings


__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_STEP",
    "SPACES",
    "GradientCounterfactuals",
    "gradient_counterfactuals",
    "latent_spread",
    "run_gradient_baseline",
]
