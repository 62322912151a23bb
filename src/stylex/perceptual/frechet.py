"""Pooled EfficientNet-Lite0 embeddings and the Fréchet distance between feature sets (FD in
EfficientNet-Lite0 feature space, not Inception FID)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from stylex.perceptual.backbone import (
    DEFAULT_SIZE,
    EMBED_DIM,
    EfficientNetLite0Features,
    get_feature_extractor,
)


def embed(
    images: torch.Tensor | Iterable[torch.Tensor],
    batch: int = 64,
    *,
    size: int | None = DEFAULT_SIZE,
    device: str | torch.device | None = None,
    extractor: EfficientNetLite0Features | None = None,
) -> torch.Tensor:
    """Pooled EfficientNet-Lite0 features for Fréchet distance: ``[N, 1280]`` float32, CPU.

    The features are the 1280-channel head (1×1 conv, BN, ReLU6) averaged over space: the
    input of ImageNet's linear classifier, the analogue of Inception's pool3 in FID.

    Args:
        images: ``[N, C, H, W]`` in [-1, 1], or an iterable of such batches (e.g. generated
            on the fly).
        batch: images per forward pass (a tensor input is split into chunks of this size).
        size: working size (see :class:`EfficientNetLite0Features`); FD values are only
            comparable at the same size.
        device: where to run; defaults to the images' device (the first batch's).
        extractor: an explicit extractor (overrides ``size`` and ``device``).
    """
    if isinstance(images, torch.Tensor):
        if images.dim() != 4:
            raise ValueError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
        chunks: Iterable[torch.Tensor] = images.split(max(1, int(batch)))
    else:
        chunks = images
    out = []
    with torch.no_grad():
        for chunk in chunks:
            if extractor is None:
                extractor = get_feature_extractor(chunk.device if device is None else device, size)
            out.append(extractor.embedding(chunk).float().cpu())
    if not out:
        return torch.zeros(0, EMBED_DIM)
    return torch.cat(out)


def _as_array(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=np.float64)


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` (unbiased) of ``features [N, D]``, in float64."""
    f = _as_array(features)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be [N, D] with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative eigenvalues clamped to 0)."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``|mu1 − mu2|² + tr(S1) + tr(S2) − 2·tr((S1 S2)^½)``, in float64. The trace term is
    computed as ``Σ √λ`` over the eigenvalues of the symmetric PSD matrix ``S1^½ S2 S1^½``
    (same spectrum as ``S1 S2``), small negative eigenvalues clamped to 0. This is exact for
    singular covariances (fewer samples than dimensions) and needs no scipy, so results do not
    depend on what is installed. The result is clamped at 0 against rounding.

    Used on :func:`embed` features this is FD in EfficientNet-Lite0 feature space, not
    Inception FID; numbers are not comparable with published FID.
    """
    mu1, mu2 = np.atleast_1d(_as_array(mu1)), np.atleast_1d(_as_array(mu2))
    s1, s2 = np.atleast_2d(_as_array(sigma1)), np.atleast_2d(_as_array(sigma2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}"
        )
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    fd = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean
    return float(max(fd, 0.0))


def frechet_distance_from_features(
    f1: torch.Tensor | np.ndarray, f2: torch.Tensor | np.ndarray
) -> float:
    """Fréchet distance between the Gaussians fitted to feature sets ``[N1, D]`` and ``[N2, D]``.

    FD in EfficientNet-Lite0 feature space (when fed :func:`embed` output), not Inception FID;
    numbers are not comparable with published FID, and like FID they are biased upward for
    small N, so compare only at equal sample counts.
    """
    mu1, s1 = feature_statistics(f1)
    mu2, s2 = feature_statistics(f2)
    return frechet_distance(mu1, s1, mu2, s2)
