"""The counterfactual community's metrics, on one set of counterfactuals (pure functions).

Every function takes the *originals* ``x`` (for stylex: the reconstructions ``G(E(x))``, the
un-edited images a counterfactual differs from) and the *counterfactuals* ``x'``, both
``[N, C, R, R]`` in [-1, 1], plus each image's source class ``s`` and target class ``t``.
:mod:`stylex.metrics.field` builds the counterfactuals of each explainer and calls these.

* :func:`flip_rate`: share of counterfactuals the classifier assigns to ``t``.
* :func:`cout`: COUT, the counterfactual transition of C3LT (Khorram & Fuxin, CVPR 2022) as
  used by ACE (Jeanneret et al., CVPR 2023): paste ``x'``'s pixels into ``x`` in order of
  decreasing ``Σ_channels |x' − x|`` over ``T`` (50) equal steps; ``COUT = AUC(p_t) − AUC(p_s)``
  of the two probability curves over the fraction of pixels pasted (trapezoid rule on
  ``[0, 1]``), in [−1, 1]. As there, it is meant for correctly classified images. Note what it
  rewards: a pair that changes nothing has the flat curve ``p_t(x) − p_s(x)`` (≈ −1 for a
  confident classifier, 0 only where it is undecided), a counterfactual whose few largest
  changes flip the decision scores near +1.
* :func:`proximity_l1`, :func:`proximity_perceptual`: per-image mean ``|x' − x|`` and the
  LPIPS-like EfficientNet-Lite0 distance (:func:`stylex.perceptual.perceptual_distance`, not
  LPIPS).
* :func:`style_sparsity`: StyleSpace coordinates a counterfactual changes.
* :func:`split_fd`: sFID's idea (Jeanneret et al., "Diffusion models for counterfactual
  explanations", ACCV 2022) in EfficientNet-Lite0 feature space, **not Inception**.
* :func:`minimality`: MNAC's idea (Rodríguez et al., "Beyond trivial counterfactual
  explanations with diverse valuable explanations", ICCV 2021: mean number of attributes
  changed, read by an oracle) with stylex's factor probe as the oracle.

:func:`cout` batches all ``T + 1`` pasted images of a chunk of pairs into few classifier
calls; :func:`reference_cout` is the plain loop (one image, one step) the tests hold it to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from stylex.metrics.realism import fd
from stylex.models.stylespace import class_probs

COUT_STEPS = 50
SPARSITY_TOL = 0.01
Classifier = Callable[[torch.Tensor], torch.Tensor]


def _check_pair(x: torch.Tensor, x_cf: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape != x_cf.shape:
        raise ValueError(
            f"x and x_cf must be equal [N, C, R, R], got {list(x.shape)} and {list(x_cf.shape)}"
        )


# ------------------------------------------------------------------------------ validity
def flip_rate(probs_cf: torch.Tensor, target: torch.Tensor) -> float:
    """Share of counterfactuals predicted as their target: ``mean(argmax p(x') == t)``
    (``probs_cf [N, K]``, ``target [N]``); NaN for N = 0."""
    if len(target) == 0:
        return float("nan")
    return float((probs_cf.argmax(1).cpu() == target.cpu()).double().mean())


# ------------------------------------------------------------------------------ COUT
def paste_order(x: torch.Tensor, x_cf: torch.Tensor) -> torch.Tensor:
    """``[N, R·R]`` pixel indices by decreasing ``Σ_channels |x' − x|`` (ties: raster order)."""
    diff = (x_cf - x).abs().sum(1).flatten(1)
    return torch.argsort(diff, dim=1, descending=True, stable=True)


def paste_counts(num_pixels: int, steps: int = COUT_STEPS) -> list[int]:
    """Pixels pasted after step ``j = 0 … T``: ``round(j · P / T)`` (0 first, all last)."""
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    return [round(j * num_pixels / steps) for j in range(steps + 1)]


def _auc(curve: torch.Tensor) -> torch.Tensor:
    """Trapezoid area of ``[..., T + 1]`` values on an even grid over [0, 1]."""
    t = curve.shape[-1] - 1
    return (curve[..., 1:] + curve[..., :-1]).sum(-1) / (2 * t)


@torch.no_grad()
def cout_curves(
    classifier: Classifier,
    x: torch.Tensor,
    x_cf: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    steps: int = COUT_STEPS,
    batch: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The probability curves of COUT (module docstring): ``p_s`` and ``p_t``, each
    ``[N, T + 1]``, at 0, 1/T, …, 1 of the pixels pasted from ``x_cf`` into ``x``."""
    _check_pair(x, x_cf)
    n, c, h, w = x.shape
    counts = paste_counts(h * w, steps)
    order = paste_order(x, x_cf)
    # rank[n, p] = position of pixel p in image n's order; pasted at step j iff rank < counts[j]
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(h * w, device=order.device).expand(n, -1))
    thresholds = torch.tensor(counts, device=x.device)
    ps, pt = torch.empty(n, steps + 1), torch.empty(n, steps + 1)
    per = max(1, batch // (steps + 1))
    for a in range(0, n, per):
        b = min(n, a + per)
        mask = (rank[a:b, None, :] < thresholds[None, :, None]).to(x.dtype)  # [B, T+1, P]
        mask = mask.view(b - a, steps + 1, 1, h, w)
        mixed = x_cf[a:b, None] * mask + x[a:b, None] * (1 - mask)
        p = class_probs(classifier, mixed.view(-1, c, h, w)).view(b - a, steps + 1, -1).cpu()
        rows = torch.arange(b - a)
        ps[a:b] = p[rows, :, source[a:b].cpu()]
        pt[a:b] = p[rows, :, target[a:b].cpu()]
    return ps, pt


def cout(
    classifier: Classifier,
    x: torch.Tensor,
    x_cf: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    steps: int = COUT_STEPS,
    batch: int = 256,
) -> torch.Tensor:
    """Per-pair COUT ``[N]`` in [−1, 1] (module docstring): ``AUC(p_t) − AUC(p_s)``.

    Args:
        classifier: images ``[B, C, R, R]`` in [-1, 1] → logits ``[B, K]``.
        x, x_cf: originals and counterfactuals ``[N, C, R, R]`` in [-1, 1].
        source, target: ``[N]`` class indices (``s``: the original's class).
        steps: ``T``; ``batch``: pasted images per classifier call.
    """
    ps, pt = cout_curves(classifier, x, x_cf, source, target, steps, batch)
    return _auc(pt) - _auc(ps)


@torch.no_grad()
def reference_cout(
    classifier: Classifier,
    x: torch.Tensor,
    x_cf: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    steps: int = COUT_STEPS,
) -> torch.Tensor:
    """COUT, plainly: per image, sort the pixels, paste ``k_j`` of them, classify, integrate."""
    _check_pair(x, x_cf)
    out = []
    for i in range(x.shape[0]):
        diff = (x_cf[i] - x[i]).abs().sum(0).flatten().tolist()
        order = sorted(range(len(diff)), key=lambda p: -diff[p])  # stable: ties in raster order
        s_curve, t_curve = [], []
        for k in paste_counts(len(diff), steps):
            mixed = x[i].clone().flatten(1)
            mixed[:, order[:k]] = x_cf[i].flatten(1)[:, order[:k]]
            p = class_probs(classifier, mixed.view_as(x[i])[None])[0]
            s_curve.append(float(p[int(source[i])]))
            t_curve.append(float(p[int(target[i])]))
        auc_t = sum((t_curve[j] + t_curve[j + 1]) / 2 for j in range(steps)) / steps
        auc_s = sum((s_curve[j] + s_curve[j + 1]) / 2 for j in range(steps)) / steps
        out.append(auc_t - auc_s)
    return torch.tensor(out, dtype=torch.float32)


# ------------------------------------------------------------------------------ proximity
def proximity_l1(x: torch.Tensor, x_cf: torch.Tensor) -> torch.Tensor:
    """Per-pair mean absolute pixel difference ``[N]`` (images in [-1, 1], so in [0, 2])."""
    _check_pair(x, x_cf)
    return (x_cf.float() - x.float()).abs().flatten(1).mean(1).cpu()


@torch.no_grad()
def proximity_perceptual(
    x: torch.Tensor, x_cf: torch.Tensor, batch: int = 64, device=None
) -> torch.Tensor:
    """Per-pair LPIPS-like EfficientNet-Lite0 distance ``[N]`` (not LPIPS; 0 when equal)."""
    from stylex.perceptual import get_feature_extractor, perceptual_distance

    _check_pair(x, x_cf)
    dev = torch.device(device) if device is not None else x.device
    ext = get_feature_extractor(dev)
    out = [
        perceptual_distance(x[a : a + batch].to(dev), x_cf[a : a + batch].to(dev), ext).cpu()
        for a in range(0, x.shape[0], batch)
    ]
    return torch.cat(out) if out else torch.zeros(0)


def style_sparsity(
    styles: torch.Tensor, styles_cf: torch.Tensor, scale: torch.Tensor, tol: float = SPARSITY_TOL
) -> torch.Tensor:
    """StyleSpace coordinates changed per pair ``[N]``: ``#{i : |s'_i − s_i| > tol · σ_i}``
    with flat styles ``[N, S]`` and ``σ [S]`` each coordinate's spread (e.g. its std over the
    evaluated images; 0-spread coordinates use 1). One attribute edit changes exactly one."""
    if styles.shape != styles_cf.shape or styles.dim() != 2:
        raise ValueError(
            f"styles must be equal [N, S], got {list(styles.shape)} and {list(styles_cf.shape)}"
        )
    sigma = torch.where(scale > 0, scale, torch.ones_like(scale)).to(styles.device)
    return ((styles_cf - styles).abs() > tol * sigma).sum(1).cpu()


# ------------------------------------------------------------------------------ realism
def split_halves(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of ``range(n)`` into two halves (the first gets ``⌊n/2⌋``)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2].sort().values, perm[n // 2 :].sort().values


def split_fd(
    real_features: torch.Tensor, cf_features: torch.Tensor, seed: int = 0
) -> dict[str, float]:
    """Split Fréchet distance (sFID's idea) between real images and counterfactuals.

    ``real_features``, ``cf_features``: ``[N, D]`` features of the real images and of *their*
    counterfactuals (row ``i`` of both = image ``i``). The images are split into halves A and B
    (:func:`split_halves`); ``split_fd = ½ (FD(real_A, cf_B) + FD(real_B, cf_A))``, so a
    counterfactual gains nothing from being pixel-aligned with its own source.
    ``split_fd_floor = FD(real_A, real_B)``: the same two real halves against each other
    (FD is symmetric), the value a perfect generator reaches at this N (FD is biased upward
    for small N; read the two together). Features are EfficientNet-Lite0's (not Inception).
    """
    n = real_features.shape[0]
    if cf_features.shape != real_features.shape:
        raise ValueError("real and counterfactual features must be equal [N, D]")
    if n < 4:
        return {"split_fd": float("nan"), "split_fd_floor": float("nan"), "split_fd_n": n // 2}
    a, b = split_halves(n, seed)
    value = 0.5 * (fd(real_features[a], cf_features[b]) + fd(real_features[b], cf_features[a]))
    floor = fd(real_features[a], real_features[b])
    return {"split_fd": value, "split_fd_floor": floor, "split_fd_n": int(len(a))}


# ------------------------------------------------------------------------------ minimality
def minimality(
    changes: dict[str, torch.Tensor], label_factors: Sequence[str], threshold: float
) -> dict[str, float]:
    """MNAC-style minimality from per-image factor changes.

    ``changes``: factor → ``[N]`` normalised change between original and counterfactual (as
    :func:`stylex.metrics.ground_truth.factor_changes`: units of the factor's spread; the
    categorical one is a scaled TV distance). A factor is *changed* when ``|change| >
    threshold``. Returns ``factors_changed`` (mean number of changed factors: MNAC with the
    factor probe as oracle; lower is more minimal), ``only_label_factors`` (share of
    counterfactuals that change at least one factor and only factors of the label rule),
    ``label_factor_changed`` (share that change some label factor) and ``num_images``.
    """
    if not changes:
        return {
            "factors_changed": float("nan"),
            "only_label_factors": float("nan"),
            "label_factor_changed": float("nan"),
            "num_images": 0,
        }
    names = list(changes)
    moved = torch.stack([changes[f].abs().double() > threshold for f in names], 1)  # [N, F]
    lab = torch.tensor([f in set(label_factors) for f in names])
    n = moved.shape[0]
    if n == 0:
        return minimality({}, label_factors, threshold)
    any_label = (moved & lab).any(1)
    only_label = any_label & ~(moved & ~lab).any(1)
    return {
        "factors_changed": float(moved.sum(1).double().mean()),
        "only_label_factors": float(only_label.double().mean()),
        "label_factor_changed": float(any_label.double().mean()),
        "num_images": int(n),
    }


def mean(values: torch.Tensor | Sequence[float]) -> float:
    """Mean of a 1-d tensor or list; NaN when empty."""
    v = np.asarray(torch.as_tensor(values, dtype=torch.float64).cpu())
    return float(v.mean()) if v.size else float("nan")


__all__ = [
    "COUT_STEPS",
    "SPARSITY_TOL",
    "cout",
    "cout_curves",
    "flip_rate",
    "mean",
    "minimality",
    "paste_counts",
    "paste_order",
    "proximity_l1",
    "proximity_perceptual",
    "reference_cout",
    "split_fd",
    "split_halves",
    "style_sparsity",
]
