"""StyleGAN2 building blocks, named after the paper's parts.

Equalised learning rate everywhere: parameters are stored N(0, 1) and scaled at run time by
``1/sqrt(fan_in)``. Modulated convolutions come in two equal forms (tests hold them equal):

* **unfused** (default on CPU): scale the input by the style, run one plain convolution shared by
  the batch, scale the output by the demodulation coefficients;
* **fused** (default on CUDA): build a per-sample weight and run one grouped convolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def lrelu_gain(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) scaled by sqrt(2) to keep activations' variance."""
    return F.leaky_relu(x, 0.2) * SQRT2


def _blur_kernel(taps=(1.0, 3.0, 3.0, 1.0), gain: float = 1.0) -> torch.Tensor:
    k = torch.tensor(taps, dtype=torch.float32)
    k = torch.outer(k, k)
    return k / k.sum() * gain


class Blur(nn.Module):
    """Depthwise FIR filter ([1,3,3,1] ⊗ [1,3,3,1]) with explicit padding."""

    kernel: torch.Tensor

    def __init__(self, pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", _blur_kernel(gain=gain), persistent=False)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        p0, p1 = self.pad
        x = F.pad(x, (p0, p1, p0, p1))
        w = self.kernel.to(x.dtype)[None, None].expand(c, 1, -1, -1)
        return F.conv2d(x, w, groups=c)


def upsample2x(img: torch.Tensor) -> torch.Tensor:
    """2× upsampling with the [1,3,3,1] filter (bilinear, half-pixel centres)."""
    return F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate (and an lr multiplier)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias * self.lr_mul if self.bias is not None else None
        out = F.linear(x, self.weight * self.scale, b)
        return lrelu_gain(out) if self.activation else out


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate; optional [1,3,3,1] blur + stride-2 downsampling."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        bias: bool = True,
        activation: bool = False,
        downsample: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.activation = activation
        self.downsample = downsample
        if downsample:
            p = (4 - 2) + (kernel - 1)
            self.blur = Blur(((p + 1) // 2, p // 2))
            self.stride, self.padding = 2, 0
        else:
            self.stride, self.padding = 1, kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample:
            x = self.blur(x)
        out = F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)
        return lrelu_gain(out) if self.activation else out


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated (+ demodulated) convolution; the style comes from outside.

    ``forward(x, s)``: x [B, in_ch, H, W], s [B, in_ch] → [B, out_ch, H', W'] (H' = 2H with
    ``upsample``). The affine that produces ``s`` lives in the owning layer, so StyleSpace
    coordinates can be read and edited between the two.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        demodulate: bool = True,
        upsample: bool = False,
        fused: str = "auto",
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.in_ch, self.out_ch, self.kernel = in_ch, out_ch, kernel
        self.demodulate = demodulate
        self.upsample = upsample
        self.fused = fused
        if upsample:
            p = (4 - 2) - (kernel - 1)
            self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

    def _use_fused(self, x: torch.Tensor) -> bool:
        if self.fused == "auto":
            return x.device.type != "cpu"
        return self.fused == "fused"

    def demod_coefficients(self, s: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """[B, out_ch] float32 factors that give each output feature map unit expected variance.

        Always computed in float32 (autocast off): under bf16 the rounded sum of squares and
        rsqrt would put a ~0.4% error on every channel's scale (StyleGAN2 keeps this in fp32).
        """
        with torch.autocast(s.device.type, enabled=False):
            wsq = w.float().square().sum(dim=(2, 3))  # [out, in]
            return torch.rsqrt(s.float().square() @ wsq.t() + 1e-8)

    def forward(self, x: torch.Tensor, s: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        w = self.weight * self.scale
        dcoef = self.demod_coefficients(s, w) if self.demodulate else None
        if w.dtype != x.dtype:
            w, s = w.to(x.dtype), s.to(x.dtype)
        if fused is None:
            fused = self._use_fused(x)
        if fused:
            return self._forward_fused(x, s, w, dcoef)
        return self._forward_unfused(x, s, w, dcoef)

    def _forward_unfused(
        self, x: torch.Tensor, s: torch.Tensor, w: torch.Tensor, dcoef: torch.Tensor | None
    ) -> torch.Tensor:
        x = x * s[:, :, None, None]
        if self.upsample:
            x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
            x = self.blur(x)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        if dcoef is not None:
            x = x * dcoef.to(x.dtype)[:, :, None, None]
        return x

    def _forward_fused(
        self, x: torch.Tensor, s: torch.Tensor, w: torch.Tensor, dcoef: torch.Tensor | None
    ) -> torch.Tensor:
        b, _, h, wd = x.shape
        wb = w[None] * s[:, None, :, None, None]  # [B, out, in, k, k]
        if dcoef is not None:
            wb = wb * dcoef.to(wb.dtype)[:, :, None, None, None]
        x = x.reshape(1, b * self.in_ch, h, wd)
        if self.upsample:
            wt = wb.transpose(1, 2).reshape(b * self.in_ch, self.out_ch, self.kernel, self.kernel)
            x = F.conv_transpose2d(x, wt, stride=2, groups=b)
            x = x.reshape(b, self.out_ch, x.shape[2], x.shape[3])
            return self.blur(x)
        wg = wb.reshape(b * self.out_ch, self.in_ch, self.kernel, self.kernel)
        x = F.conv2d(x, wg, padding=self.kernel // 2, groups=b)
        return x.reshape(b, self.out_ch, h, wd)


class MinibatchStdDev(nn.Module):
    """Appends the mean feature std over groups of the minibatch as extra channel(s)."""

    def __init__(self, group_size: int = 4, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        while b % g:
            g -= 1
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # [B/g, f]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)
