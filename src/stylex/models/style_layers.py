"""The synthesis network's style layers and the state that runs between them.

A *conv* layer maps the feature map ``x`` (modulated 3×3 conv, noise, bias, leaky ReLU); an
*rgb* layer adds its image to the upsampled skip image. Every layer is a function of
(``SynthesisState``, its style, its noise), which is what lets the generator re-run from any
layer (:mod:`stylex.models.generator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stylex.models.layers import EqualLinear, ModulatedConv2d, lrelu_gain, upsample2x


@dataclass
class SynthesisState:
    """Activations between style layers: features ``x`` [B, C, H, W], skip image or None."""

    x: torch.Tensor
    img: torch.Tensor | None

    def repeat_interleave(self, n: int) -> SynthesisState:
        """Each sample repeated ``n`` times along the batch (for many edits per image)."""
        img = None if self.img is None else self.img.repeat_interleave(n, dim=0)
        return SynthesisState(self.x.repeat_interleave(n, dim=0), img)

    def index_select(self, idx: torch.Tensor) -> SynthesisState:
        img = None if self.img is None else self.img.index_select(0, idx)
        return SynthesisState(self.x.index_select(0, idx), img)


class StyleLayer(nn.Module):
    """One entry of the synthesis sequence: its style affine and its operation."""

    kind: str  # "conv" or "rgb"
    conv: ModulatedConv2d

    def __init__(self, affine_in: int, in_ch: int, resolution: int):
        super().__init__()
        # Styles start at 1 (bias_init=1) so an untrained network passes features through.
        self.affine = EqualLinear(affine_in, in_ch, bias_init=1.0)
        self.style_dim = in_ch
        self.resolution = resolution

    def forward(
        self,
        state: SynthesisState,
        s: torch.Tensor,
        noise: torch.Tensor | None = None,
        fused: bool | None = None,
    ) -> SynthesisState:
        raise NotImplementedError


class ConvLayer(StyleLayer):
    """Modulated 3×3 conv (optionally upsampling 2×), per-pixel noise, bias, leaky ReLU."""

    kind = "conv"

    def __init__(
        self,
        affine_in: int,
        in_ch: int,
        out_ch: int,
        resolution: int,
        upsample: bool,
        modconv: str,
    ):
        super().__init__(affine_in, in_ch, resolution)
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, upsample=upsample, fused=modconv)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.out_ch = out_ch

    def forward(
        self,
        state: SynthesisState,
        s: torch.Tensor,
        noise: torch.Tensor | None = None,
        fused: bool | None = None,
    ) -> SynthesisState:
        x = self.conv(state.x, s, fused=fused)
        if noise is not None:
            x = x + noise.to(x.dtype) * self.noise_strength.to(x.dtype)
        x = lrelu_gain(x + self.bias.to(x.dtype)[None, :, None, None])
        return SynthesisState(x, state.img)


class RGBLayer(StyleLayer):
    """Modulated 1×1 conv to image channels (no demodulation), added to the upsampled skip."""

    kind = "rgb"

    def __init__(
        self, affine_in: int, in_ch: int, img_channels: int, resolution: int, modconv: str
    ):
        super().__init__(affine_in, in_ch, resolution)
        self.conv = ModulatedConv2d(in_ch, img_channels, 1, demodulate=False, fused=modconv)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(
        self,
        state: SynthesisState,
        s: torch.Tensor,
        noise: torch.Tensor | None = None,
        fused: bool | None = None,
    ) -> SynthesisState:
        y = self.conv(state.x, s, fused=fused) + self.bias.to(state.x.dtype)[None, :, None, None]
        if state.img is not None:
            y = y + upsample2x(state.img)
        return SynthesisState(state.x, y)


__all__ = ["ConvLayer", "RGBLayer", "StyleLayer", "SynthesisState"]
