"""Classifier consistency and reconstruction quality of ``x' = G(E(x))`` on held-out images.

Definitions (``p`` = softmax of the classifier's logits on the image clamped to [-1, 1]):

* ``consistency`` = fraction of images with ``argmax p(x') == argmax p(x)`` (0–1).
* ``prob_diff`` = mean over images of ``|p_ŷ(x) − p_ŷ(x')|`` where ``ŷ = argmax p(x)`` is the
  class predicted on the real image (for two classes this equals ``max_k |p_k(x) − p_k(x')|``).
* ``prob_tv`` = mean total-variation distance ``½ Σ_k |p_k(x) − p_k(x')|`` (= ``prob_diff`` for
  two classes; differs with more).
* ``reconstruction_l1`` = mean absolute pixel difference ``|x − x'|`` with images in [-1, 1]
  (so 0…2; divide by 2 for the [0, 1] scale).
* ``perceptual`` = mean :func:`stylex.perceptual.perceptual_distance` (LPIPS-like on
  EfficientNet-Lite0 features, *not* LPIPS; 0 for identical images).
"""

from __future__ import annotations

import torch

from stylex.perceptual import perceptual_distance


def _batches(n: int, batch: int):
    batch = max(1, int(batch))
    for a in range(0, n, batch):
        yield a, min(n, a + batch)


@torch.no_grad()
def reconstruct_all(run, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """``run.reconstruct`` over ``images [N, C, R, R]`` in [-1, 1], in batches → ``[N, C, R, R]``
    in [-1, 1] on the CPU."""
    out = [run.reconstruct(images[a:b]).float().cpu() for a, b in _batches(len(images), batch)]
    return torch.cat(out) if out else images.new_zeros((0, *images.shape[1:]))


@torch.no_grad()
def probs_all(run, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """``run.probs`` over ``images`` in batches → ``[N, K]`` on the CPU."""
    return torch.cat(
        [run.probs(images[a:b]).float().cpu() for a, b in _batches(len(images), batch)]
    )


def consistency_metrics(real_probs: torch.Tensor, recon_probs: torch.Tensor) -> dict[str, float]:
    """``consistency``, ``prob_diff`` and ``prob_tv`` (module docstring) from ``[N, K]``
    probabilities of the real images and of their reconstructions."""
    if real_probs.shape != recon_probs.shape or real_probs.ndim != 2 or len(real_probs) == 0:
        raise ValueError(
            f"probabilities must be two equal non-empty [N, K] tensors, got "
            f"{list(real_probs.shape)} and {list(recon_probs.shape)}"
        )
    pred = real_probs.argmax(1)
    same = (recon_probs.argmax(1) == pred).double().mean()
    diff = (real_probs - recon_probs).double().abs()
    return {
        "consistency": float(same),
        "prob_diff": float(diff.gather(1, pred[:, None]).mean()),
        "prob_tv": float(0.5 * diff.sum(1).mean()),
    }


@torch.no_grad()
def reconstruction_metrics(
    images: torch.Tensor,
    recon: torch.Tensor,
    batch: int = 64,
    perceptual: bool = True,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """``reconstruction_l1`` and ``perceptual`` (module docstring) of ``recon`` against
    ``images`` (both ``[N, C, R, R]`` in [-1, 1]). ``perceptual=False`` skips the network."""
    if images.shape != recon.shape or len(images) == 0:
        raise ValueError(
            f"images and reconstructions differ: {list(images.shape)} vs {list(recon.shape)}"
        )
    l1 = (images.double() - recon.double()).abs().mean()
    out = {"reconstruction_l1": float(l1)}
    if perceptual:
        dev = torch.device(device) if device is not None else images.device
        total = 0.0
        for a, b in _batches(len(images), batch):
            total += float(perceptual_distance(images[a:b].to(dev), recon[a:b].to(dev)).sum())
        out["perceptual"] = total / len(images)
    else:
        out["perceptual"] = float("nan")  # not computed (null in metrics.json)
    return out


@torch.no_grad()
def classifier_consistency(
    run, images: torch.Tensor, batch: int = 64, perceptual: bool = True
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """All of this module's metrics for ``run`` (anything with ``reconstruct(images)`` and
    ``probs(images)``) on ``images [N, C, R, R]`` in [-1, 1].

    Returns ``(metrics, reconstructions [N, C, R, R], real_probs [N, K])`` (CPU tensors).
    """
    recon = reconstruct_all(run, images, batch)
    real_p = probs_all(run, images, batch)
    rec_p = probs_all(run, recon, batch)
    metrics = consistency_metrics(real_p, rec_p)
    metrics.update(
        reconstruction_metrics(
            images, recon, batch, perceptual=perceptual, device=getattr(run, "device", None)
        )
    )
    return metrics, recon, real_p


__all__ = [
    "classifier_consistency",
    "consistency_metrics",
    "probs_all",
    "reconstruct_all",
    "reconstruction_metrics",
]
