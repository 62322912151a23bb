"""Realism: Fréchet distances between real held-out images and generated ones.

**Fréchet distance in EfficientNet-Lite0 feature space, not Inception FID.** Features are
:func:`stylex.perceptual.embed` (the 1280-d pooled head of the frozen ImageNet
EfficientNet-Lite0, images resized to 64 px); the distance is
:func:`stylex.perceptual.frechet_distance_from_features`. The numbers are not comparable with
published FID, and like FID they are biased upward for small N: compare only numbers computed
with the same N (every set here has the same N as the real held-out set).

* ``fd_samples``: real held-out images vs N random samples ``G(z, c)`` with ``z ~ N(0, I)``
  (no truncation), ``c`` = the generator's condition from the classifier's output on the real
  held-out images in a shuffled order (the training's random branch), constant noise.
* ``fd_reconstructions``: real held-out images vs their reconstructions ``G(E(x))``.
* ``fd_real_reference``: real held-out images vs N *training* images — the distance two real
  sets of this size have, the floor to read the two numbers above against.

Inception FID is not computed: its weights (pytorch-fid / torch-fidelity) are not available
offline here, and stylex never downloads.
"""

from __future__ import annotations

import numpy as np
import torch

from stylex.perceptual import embed, frechet_distance_from_features

FD_NOTE = (
    "Fréchet distance in EfficientNet-Lite0 feature space (1280-d pooled head, 64 px), "
    "not Inception FID; comparable only at equal N"
)


@torch.no_grad()
def random_samples(
    run, real_images: torch.Tensor, n: int | None = None, seed: int = 0, batch: int = 64
) -> torch.Tensor:
    """``n`` (default ``len(real_images)``) random samples ``[n, C, R, R]`` in [-1, 1] (CPU).

    ``z ~ N(0, I)`` from ``seed``; the condition of sample ``i`` is that of real image
    ``perm[i mod N]`` (a seeded permutation); constant noise; no truncation.
    """
    g = run.generator
    n = len(real_images) if n is None else int(n)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(real_images), generator=gen)
    z_all = torch.randn(n, g.config.z_dim, generator=gen)
    out = []
    for a in range(0, n, batch):
        b = min(n, a + batch)
        z = z_all[a:b].to(run.device)
        c = None
        if g.config.cond_dim:
            src = real_images[perm[torch.arange(a, b) % len(real_images)]].to(run.device)
            c = run.condition(run.classifier(src))
        out.append(g(z, c, noise_mode="const").clamp(-1, 1).float().cpu())
    return torch.cat(out)


def fd(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to feature sets ``[N1, D]``, ``[N2, D]``
    (unbiased covariances), equal to
    :func:`stylex.perceptual.frechet_distance_from_features`.

    For sample counts up to ``2·D`` it uses the exact low-rank form: with centred, scaled
    features ``A = (a − μ_a)/√(N1 − 1)`` and ``B`` likewise, ``Σ_a = AᵀA`` and ``Σ_b = BᵀB``,
    the non-zero eigenvalues of ``Σ_a Σ_b`` are the squared singular values of ``A Bᵀ``, so
    ``tr((Σ_a Σ_b)^½) = Σ σ(A Bᵀ)``: one ``N1 × N2`` SVD instead of two ``D × D``
    eigendecompositions (256 vs 1280-d features: ~100× faster, and no clamping of rounding
    negatives is needed).
    """
    fa = np.asarray(a.detach().cpu().double() if isinstance(a, torch.Tensor) else a, np.float64)
    fb = np.asarray(b.detach().cpu().double() if isinstance(b, torch.Tensor) else b, np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(f"features must be [N, D] with equal D, got {fa.shape} and {fb.shape}")
    (n1, d), n2 = fa.shape, fb.shape[0]
    if n1 < 2 or n2 < 2:
        raise ValueError(f"need at least 2 samples per set, got {n1} and {n2}")
    if max(n1, n2) > 2 * d:
        return frechet_distance_from_features(fa, fb)
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    xa = (fa - mu_a) / np.sqrt(n1 - 1)
    xb = (fb - mu_b) / np.sqrt(n2 - 1)
    tr_cov = np.linalg.svd(xa @ xb.T, compute_uv=False).sum()
    diff = mu_a - mu_b
    value = diff @ diff + np.square(xa).sum() + np.square(xb).sum() - 2.0 * tr_cov
    return float(max(value, 0.0))


@torch.no_grad()
def realism_metrics(
    real: torch.Tensor,
    samples: torch.Tensor | None = None,
    recon: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    batch: int = 64,
    device: str | torch.device | None = None,
    real_features: torch.Tensor | None = None,
) -> dict[str, float]:
    """``fd_samples``, ``fd_reconstructions`` and ``fd_real_reference`` for whichever sets are
    given (all ``[N, C, R, R]`` in [-1, 1]). ``real_features`` reuses an earlier
    :func:`~stylex.perceptual.embed` of ``real``."""
    if real_features is None:
        real_features = embed(real, batch=batch, device=device)
    out: dict[str, float] = {}
    for key, imgs in (
        ("fd_samples", samples),
        ("fd_reconstructions", recon),
        ("fd_real_reference", reference),
    ):
        if imgs is not None:
            out[key] = fd(real_features, embed(imgs, batch=batch, device=device))
    return out


__all__ = ["FD_NOTE", "fd", "random_samples", "realism_metrics"]
