"""StylEx / StyleGAN2 losses as small pure functions (checkable against the papers)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating logistic D loss: softplus(D(fake)) + softplus(-D(real))."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: softplus(-D(fake))."""
    return F.softplus(-fake_logits).mean()


def d_r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1: mean over the batch of ||∇_x D(x)||² on real images (x must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


def classifier_kl(logits_real: torch.Tensor, logits_rec: torch.Tensor) -> torch.Tensor:
    """KL(C(x) ‖ C(x')) from logits [B, K], averaged over the batch (StylEx's classifier loss)."""
    logp = F.log_softmax(logits_real.float(), dim=1)
    logq = F.log_softmax(logits_rec.float(), dim=1)
    return (logp.exp() * (logp - logq)).sum(1).mean()


def group_lasso(rows: list[torch.Tensor], eps: float = 1e-8) -> torch.Tensor:
    """Mean over all rows (of all matrices ``[R_l, D]``) of the row's L2 norm.

    Used on the classifier-condition columns of the style affines (``cond_sparsity``): pushes
    whole rows, i.e. whole style coordinates, to ignore the condition, so that the classifier's
    signal enters StyleSpace through few coordinates.
    """
    norms = torch.cat([torch.sqrt(r.float().square().sum(1) + eps) for r in rows])
    return norms.mean()


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


def condition_from_logits(logits: torch.Tensor, signal: str) -> torch.Tensor:
    """The generator's condition c from classifier logits: ``probs`` (softmax) or ``logits``."""
    if signal == "probs":
        return F.softmax(logits.float(), dim=1)
    if signal == "logits":
        return logits.float()
    raise ValueError(f"condition signal must be 'probs' or 'logits', got {signal!r}")
