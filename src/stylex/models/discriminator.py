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


class Encoder(PretrainedMixin, nn.Module):
    """E(img [B, C, R, R] in [-1, 1]) → w [B, w_dim]; the discriminator's trunk, no mbstd."""

    config_class = EncoderConfig
    default_name = "encoder"

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = cfg = config
        self.trunk = ResidualTrunk(
            cfg.resolution, cfg.img_channels, cfg.channel_base, cfg.channel_max
        )
        c4 = self.trunk.out_channels
        self.conv = EqualConv2d(c4, c4, 3, activation=True)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, cfg.w_dim)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.trunk(img))
        return self.out(self.fc(h.flatten(1)))
