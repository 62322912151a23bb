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


# ------------------------------------------------------------------ recipe terms (issue 16)
def border_background(x: torch.Tensor) -> torch.Tensor:
    """Per-image, per-channel flat background: the median of the 1-px border.

    x: [B, C, H, W] → [B, C, 1, 1].
    """
    border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, 1:-1, 0], x[:, :, 1:-1, -1]], dim=2)
    return border.median(dim=2).values[..., None, None]


def foreground_l1(x_rec: torch.Tensor, x: torch.Tensor, eps: float = 0.02) -> torch.Tensor:
    """Reconstruction L1 that a flat background cannot dominate; mean over the batch.

    Per image, pixels are weighted by ``0.5 + 0.5·fg/mean(fg)`` with ``fg = |x − bg|``
    (channel mean, ``bg`` = :func:`border_background`), and the weighted L1 is divided by the
    same weighted L1 of the flat background image itself. So ``x_rec = x`` scores 0 and
    ``x_rec = bg`` (drawing nothing but the background) scores 1 for every image, however
    small its object. An (almost) flat image, whose reference is below ``eps``, is divided by
    ``eps`` instead. x_rec, x: [B, C, H, W] in [-1, 1].
    """
    x_rec, x = x_rec.float(), x.float()
    bg = border_background(x)
    fg = (x - bg).abs().mean(1, keepdim=True)  # [B, 1, H, W]
    weight = 0.5 + 0.5 * fg / fg.mean((2, 3), keepdim=True).clamp_min(1e-6)
    err = (weight * (x_rec - x).abs()).mean((1, 2, 3))
    ref = (weight * (bg - x).abs()).mean((1, 2, 3))
    return (err / ref.clamp_min(eps)).mean()


def envelope_l1(
    x_rec: torch.Tensor, x: torch.Tensor, scales: tuple[int, ...] = (8, 4), eps: float = 0.02
) -> torch.Tensor:
    """L1 between the foreground envelopes of x_rec and x: where the object is, not its texture.

    The envelope of an image on an s×s grid (``scales``: 8×8 and 4×4 cells, whatever the
    resolution) is the cell mean of ``mean_c |img − bg|``, with ``bg`` the
    :func:`border_background` of x (the same for both images), so a texture drawn at another
    phase (stripes shifted by half a period) has nearly the same envelope, while an object of
    another size, outline or position does not. Per image, the error summed over the scales is
    divided by the envelope mass of x (what drawing only the background scores), so the
    background-only image scores 1 and ``x_rec = x`` scores 0; an (almost) flat x is divided by
    ``eps``. Pixel L1 leaves the extent of a textured object (a grating's window) to the
    adversarial term; this term asks for it directly. x_rec, x: [B, C, H, W] in [-1, 1].
    """
    x_rec, x = x_rec.float(), x.float()
    bg = border_background(x)
    err = x.new_zeros(x.shape[0])
    ref = x.new_zeros(x.shape[0])
    for cells in scales:
        k = max(x.shape[-1] // cells, 1)
        e_rec = F.avg_pool2d((x_rec - bg).abs().mean(1, keepdim=True), k)
        e = F.avg_pool2d((x - bg).abs().mean(1, keepdim=True), k)
        err = err + (e_rec - e).abs().mean((1, 2, 3))
        ref = ref + e.mean((1, 2, 3))
    return (err / ref.clamp_min(eps)).mean()


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences of x [B, C, H, W] along width and height (channel mean):
    ``[B, 1, H, W-1]`` and ``[B, 1, H-1, W]``."""
    return (
        (x[..., :, 1:] - x[..., :, :-1]).mean(1, keepdim=True),
        (x[..., 1:, :] - x[..., :-1, :]).mean(1, keepdim=True),
    )


def edge_l1(x_rec: torch.Tensor, x: torch.Tensor, eps: float = 0.02) -> torch.Tensor:
    """L1 between the image gradients of x_rec and x: sharp outlines, not blurred ones.

    Pixel L1 (and the envelope) of a blurred outline is small: the blur moves little mass. A
    blurred edge spreads the gradient of a sharp one over several pixels at a fraction of its
    height, so its gradient L1 is up to twice the edge's own; a corner rounded off loses the
    gradient along both of its sides. Per image, the error of both directions is divided by the
    gradient mass of x (what a flat image scores), so a flat ``x_rec`` scores 1 and
    ``x_rec = x`` scores 0; an (almost) flat x is divided by ``eps``. The gradient difference
    loss of Mathieu et al. (ICLR 2016) with p = 1, normalised per image.
    x_rec, x: [B, C, H, W] in [-1, 1].
    """
    rx, ry = image_gradients(x_rec.float())
    gx, gy = image_gradients(x.float())
    err = (rx - gx).abs().sum((1, 2, 3)) + (ry - gy).abs().sum((1, 2, 3))
    ref = gx.abs().sum((1, 2, 3)) + gy.abs().sum((1, 2, 3))
    n = gx[0].numel() + gy[0].numel()
    return (err / (ref.clamp_min(eps * n))).mean()


def reconstruction_loss(x_rec: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """The encoder branch's pixel loss: ``"l1"`` (the paper's) or ``"foreground"``."""
    if kind == "l1":
        return l1(x_rec.float(), x)
    if kind == "foreground":
        return foreground_l1(x_rec, x)
    raise ValueError(f"reconstruction loss must be 'l1' or 'foreground', got {kind!r}")


def drop_condition(c: torch.Tensor, p: float, u: torch.Tensor) -> torch.Tensor:
    """Condition dropout: rows of c [B, K] with ``u < p`` (u: uniform [B]) become the batch's
    mean condition, so what they reconstruct must be carried by w alone."""
    keep = (u >= p).to(c.dtype)[:, None]
    return keep * c + (1 - keep) * c.mean(0, keepdim=True).detach()


def warmup_ramp(step: int, warmup: int) -> float:
    """Schedule factor: 0 for ``step < warmup``, then linear to 1 over the next ``warmup``
    steps; always 1 when ``warmup`` is 0."""
    if warmup <= 0:
        return 1.0
    return min(max((step - warmup) / warmup, 0.0), 1.0)
