"""StyleGAN2 generator with an explicit, first-class StyleSpace.

The synthesis network is a flat sequence of *style layers*, each consuming one style vector:

    [conv(4), rgb(4), conv↑(8), conv(8), rgb(8), conv↑(16), conv(16), rgb(16), …]

A *conv* layer maps the feature map ``x``; an *rgb* layer adds its image to the upsampled skip
image. The running state between layers is ``SynthesisState(x, img)``. Because every layer is a
function of (state, its style, its noise), the network can be run up to layer ``l`` once, the
state kept, and layers ``≥ l`` re-run for many edited style sets (``run_from``): that is what
AttFind, the viewer and the metrics use.

Style coordinates: ``(layer, channel)`` with ``layer`` the position in the sequence above. The
flat index (:class:`StyleSpace`) runs over conv layers only by default; toRGB styles on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from stylex.models.config import GeneratorConfig, channels_at
from stylex.models.io import PretrainedMixin
from stylex.models.layers import EqualLinear, upsample2x
from stylex.models.style_layers import ConvLayer, RGBLayer, StyleLayer, SynthesisState
from stylex.models.stylespace import StyleSpace

NoiseMode = str  # "const" | "random" | "none"


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Module):
    """z [B, z_dim] → w [B, w_dim]: pixel norm, then an MLP with lr multiplier (0.01)."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, lr_mul: float):
        super().__init__()
        dims = [z_dim] + [w_dim] * num_layers
        self.norm = PixelNorm()
        self.net = nn.Sequential(
            *[EqualLinear(a, b, lr_mul=lr_mul, activation=True) for a, b in zip(dims, dims[1:])]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(z))


NoiseList = list[torch.Tensor | None]


class Generator(PretrainedMixin, nn.Module):
    """StyleGAN2 generator: mapping z→w, style affines on concat(w, c), skip synthesis.

    Images are [B, img_channels, R, R], nominally in [-1, 1] (not clamped).
    """

    config_class = GeneratorConfig
    default_name = "generator"
    config: GeneratorConfig
    layers: nn.ModuleList
    const: nn.Parameter
    w_avg: torch.Tensor

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = cfg = config
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_mult)
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))
        affine_in = cfg.w_dim + cfg.cond_dim

        def ch(r: int) -> int:
            return channels_at(r, cfg.channel_base, cfg.channel_max)

        self.const = nn.Parameter(torch.randn(1, ch(4), 4, 4))
        layers: list[StyleLayer] = [
            ConvLayer(affine_in, ch(4), ch(4), 4, upsample=False, modconv=cfg.modconv),
            RGBLayer(affine_in, ch(4), cfg.img_channels, 4, modconv=cfg.modconv),
        ]
        res = 8
        while res <= cfg.resolution:
            layers += [
                ConvLayer(
                    affine_in, ch(res // 2), ch(res), res, upsample=True, modconv=cfg.modconv
                ),
                ConvLayer(affine_in, ch(res), ch(res), res, upsample=False, modconv=cfg.modconv),
                RGBLayer(affine_in, ch(res), cfg.img_channels, res, modconv=cfg.modconv),
            ]
            res *= 2
        self.layers = nn.ModuleList(layers)
        g = torch.Generator().manual_seed(cfg.noise_seed)
        for i, layer in enumerate(layers):
            if layer.kind == "conv":
                r = layer.resolution
                self.register_buffer(f"noise_const_{i}", torch.randn(1, 1, r, r, generator=g))

    # ----------------------------------------------------------------------------- structure
    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def layer(self, i: int) -> StyleLayer:
        """Synthesis layer ``i`` (typed access to :attr:`layers`)."""
        return cast(StyleLayer, self.layers[i])

    def style_layers(self) -> list[StyleLayer]:
        """The synthesis layers in order (typed)."""
        return [cast(StyleLayer, layer) for layer in self.layers]

    def layer_kinds(self) -> list[str]:
        return [layer.kind for layer in self.style_layers()]

    def describe_layer(self, i: int) -> str:
        """``"conv 16 px"`` / ``"toRGB 32 px"``: what synthesis layer ``i`` is, for captions."""
        layer = self.layer(i)
        return f"{'toRGB' if layer.kind == 'rgb' else 'conv'} {layer.resolution} px"

    def style_space(self, include_rgb: bool = False) -> StyleSpace:
        layers = self.style_layers()
        ids = [i for i, layer in enumerate(layers) if include_rgb or layer.kind == "conv"]
        return StyleSpace(ids, [layers[i].style_dim for i in ids])

    # ----------------------------------------------------------------------------- mapping
    def map(
        self, z: torch.Tensor, truncation: float = 1.0, update_w_avg: bool = False
    ) -> torch.Tensor:
        """z [B, z_dim] → w [B, w_dim], with truncation toward the tracked mean w."""
        w = self.mapping(z)
        if update_w_avg:
            with torch.no_grad():
                beta = self.config.w_avg_beta
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, beta))
        if truncation != 1.0:
            w = self.w_avg.to(w.dtype).lerp(w, truncation)
        return w

    def condition_weights(self) -> list[torch.Tensor]:
        """Per synthesis layer, the effective affine weights applied to the condition c:
        ``[C_l, cond_dim]`` (row i: how coordinate i of that layer's style responds to c)."""
        wd = self.config.w_dim
        return [
            layer.affine.weight[:, wd:] * (layer.affine.scale * self.conditioned(layer))
            for layer in self.style_layers()
        ]

    def conditioned(self, layer: StyleLayer) -> bool:
        """Whether the condition enters this layer's style (``cond_min_res``)."""
        return bool(self.config.cond_dim) and layer.resolution >= self.config.cond_min_res

    def condition_usage(self, rel: float = 0.1) -> dict[str, float]:
        """How the condition enters StyleSpace: mean row norm of :meth:`condition_weights` and
        the number of style coordinates whose row norm is at least ``rel`` × the largest."""
        if not self.config.cond_dim:
            return {"cond_row_norm": 0.0, "cond_active": 0.0}
        with torch.no_grad():
            norms = torch.cat([w.float().norm(dim=1) for w in self.condition_weights()])
        return {
            "cond_row_norm": float(norms.mean()),
            "cond_active": float((norms >= rel * norms.max()).sum()),
        }

    def styles(self, w: torch.Tensor, c: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Style vectors for every synthesis layer: list of [B, C_l].

        w: [B, w_dim] or per-layer [B, num_layers, w_dim]; c: [B, cond_dim] (None iff 0).
        """
        cd = self.config.cond_dim
        if cd and c is None:
            raise ValueError(f"this generator is conditional (cond_dim={cd}): pass c")
        if not cd and c is not None and c.numel():
            raise ValueError("this generator is unconditional (cond_dim=0): c must be None")
        out = []
        for i, layer in enumerate(self.style_layers()):
            wi = w[:, i] if w.dim() == 3 else w
            if cd and c is not None:
                ci = c.to(wi.dtype) if self.conditioned(layer) else wi.new_zeros(len(wi), cd)
                inp = torch.cat([wi, ci], dim=1)
            else:
                inp = wi
            out.append(layer.affine(inp))
        return out

    # ----------------------------------------------------------------------------- synthesis
    def make_noise(
        self,
        batch: int,
        mode: NoiseMode,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> NoiseList:
        """Per-layer noise list (None for rgb layers and for mode "none")."""
        noise: NoiseList = []
        for i, layer in enumerate(self.style_layers()):
            if layer.kind != "conv" or mode == "none":
                noise.append(None)
            elif mode == "const":
                noise.append(getattr(self, f"noise_const_{i}"))
            elif mode == "random":
                r = layer.resolution
                noise.append(
                    torch.randn(batch, 1, r, r, device=device or self.const.device, dtype=dtype)
                )
            else:
                raise ValueError(f"noise mode must be const|random|none, got {mode!r}")
        return noise

    def initial_state(self, batch: int, dtype: torch.dtype | None = None) -> SynthesisState:
        x = self.const.expand(batch, -1, -1, -1)
        return SynthesisState(x if dtype is None else x.to(dtype), None)

    def run_layers(
        self,
        state: SynthesisState,
        styles: Sequence[torch.Tensor],
        start: int,
        stop: int,
        noise: Sequence[torch.Tensor | None],
        fused: bool | None = None,
    ) -> SynthesisState:
        """Apply synthesis layers ``start..stop-1`` to ``state`` (styles indexed by layer)."""
        for i in range(start, stop):
            state = self.layers[i](state, styles[i], noise[i], fused=fused)
        return state

    def synthesize(
        self,
        styles: Sequence[torch.Tensor],
        noise: Sequence[torch.Tensor | None] | None = None,
        noise_mode: NoiseMode = "const",
        fused: bool | None = None,
    ) -> torch.Tensor:
        """Styles (list over all layers of [B, C_l]) → images [B, img_channels, R, R]."""
        b = styles[0].shape[0]
        if noise is None:
            noise = self.make_noise(b, noise_mode, dtype=styles[0].dtype)
        state = self.run_layers(
            self.initial_state(b, styles[0].dtype), styles, 0, self.num_layers, noise, fused
        )
        return _final_image(state)

    def run_until(
        self,
        styles: Sequence[torch.Tensor],
        layer: int,
        noise: Sequence[torch.Tensor | None] | None = None,
        noise_mode: NoiseMode = "const",
    ) -> SynthesisState:
        """Run layers ``< layer`` and return the state to cache (the input of ``layer``)."""
        b = styles[0].shape[0]
        if noise is None:
            noise = self.make_noise(b, noise_mode, dtype=styles[0].dtype)
        return self.run_layers(self.initial_state(b, styles[0].dtype), styles, 0, layer, noise)

    def run_from(
        self,
        state: SynthesisState,
        styles: Sequence[torch.Tensor],
        layer: int,
        noise: Sequence[torch.Tensor | None] | None = None,
        noise_mode: NoiseMode = "const",
    ) -> torch.Tensor:
        """Re-run layers ``≥ layer`` from a cached state. Only ``styles[layer:]`` are read.

        ``state`` and ``styles[l]`` (l ≥ layer) must share a batch size; with const noise the
        result equals :meth:`synthesize` on the same styles.
        """
        b = state.x.shape[0]
        if noise is None:
            noise = self.make_noise(b, noise_mode, dtype=state.x.dtype)
        return _final_image(self.run_layers(state, styles, layer, self.num_layers, noise))

    # ----------------------------------------------------------------------------- skip path
    def skip_to_output(self, skip: torch.Tensor) -> torch.Tensor:
        """A skip image ``[B, C, r, r]`` (r ≤ R) carried to the output resolution the way the
        later toRGB layers carry it: upsampled 2× per block (bilinear, linear)."""
        while skip.shape[-1] < self.config.resolution:
            skip = upsample2x(skip)
        return skip

    def run_rgb_edit(
        self,
        state: SynthesisState,
        style: torch.Tensor,
        layer: int,
        base_images: torch.Tensor,
        base_skip: torch.Tensor,
    ) -> torch.Tensor:
        """Final images after an edit of toRGB layer ``layer``'s ``style`` ``[B, C_l]``, from
        the cached input ``state`` of that layer, without re-running any later convolution.

        A toRGB edit changes only the skip image, which the later layers upsample and add to
        (linear), so ``G(s') = G(s) + upsampleᵏ(rgb_l(s') − rgb_l(s))``: ``base_images`` are the
        un-edited final images ``G(s)`` and ``base_skip`` the un-edited skip image after this
        layer (``run_layers(state, styles, layer, layer + 1, noise).img``), both ``[B, …]``.
        Equals :meth:`synthesize` on the edited styles up to rounding.
        """
        rgb = self.layer(layer)
        if rgb.kind != "rgb":
            raise ValueError(f"layer {layer} is a {rgb.kind} layer, not a toRGB layer")
        img = _final_image(rgb(state, style, None))
        return base_images + self.skip_to_output(img - base_skip)

    # ----------------------------------------------------------------------------- convenience
    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation: float = 1.0,
        noise_mode: NoiseMode = "random",
    ) -> torch.Tensor:
        """Random sample: z [B, z_dim] (and c) → images."""
        return self.synthesize(self.styles(self.map(z, truncation), c), noise_mode=noise_mode)

    def generate(
        self, w: torch.Tensor, c: torch.Tensor | None = None, noise_mode: NoiseMode = "const"
    ) -> torch.Tensor:
        """w [B, w_dim] (e.g. from the encoder) and c → images."""
        return self.synthesize(self.styles(w, c), noise_mode=noise_mode)

    def layer_flops(self) -> list[float]:
        """FLOPs (2 × multiply-adds) of each synthesis layer's conv for one image."""
        out = []
        for layer in self.style_layers():
            conv = layer.conv
            r = layer.resolution
            if conv.upsample:  # transposed conv runs at the input resolution
                r = r // 2
            out.append(2.0 * conv.in_ch * conv.out_ch * conv.kernel**2 * r * r)
        return out

    def flops_per_image(self) -> float:
        """FLOPs (2 × multiply-adds) of the synthesis convs for one image (no mapping/affines)."""
        return sum(self.layer_flops())


def _final_image(state: SynthesisState) -> torch.Tensor:
    """The skip image of a state after at least one toRGB layer (every full synthesis)."""
    if state.img is None:
        raise ValueError("no toRGB layer has run yet: the state holds no image")
    return state.img


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "Generator",
    "MappingNetwork",
    "NoiseList",
    "NoiseMode",
    "PixelNorm",
    "StyleSpace",
    "SynthesisState",
    "num_params",
]
