"""The three networks a StylEx training builds: generator G, discriminator D and encoder E,
sharing one width setting (:class:`ModelSize`) and the generator's resolution and condition."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stylex.models import (
    Discriminator,
    DiscriminatorConfig,
    Encoder,
    EncoderConfig,
    Generator,
    GeneratorConfig,
)


@dataclass
class ModelSize:
    """Network widths (shared by G, D and E) and latent sizes."""

    channel_max: int = 256
    channel_base: int = 16384
    w_dim: int = 256
    mapping_layers: int = 4


def default_size(resolution: int, device_type: str) -> ModelSize:
    """The model size a run gets when none is given: the full width (256) on a GPU; on a CPU
    a width that fits a from-scratch training of ~30 minutes (64 up to 32 px, 128 at 64 px,
    256 above), with ``w_dim`` equal to the width. Measured in ``benchmarks/recipe_log.md``:
    at 32 px a step of the default recipe takes ~6 s at width 256 on this project's 2-core CPU
    (~300 steps in 30 minutes), ~0.5 s at width 64."""
    if device_type == "cuda" or resolution > 64:
        return ModelSize()
    width = 64 if resolution <= 32 else 128
    return ModelSize(channel_max=width, w_dim=width)


def build_models(
    gen_cfg: GeneratorConfig, seed: int, encoder_features: str = "trained"
) -> tuple[Generator, Discriminator, Encoder]:
    """G, D and E initialised from ``seed`` (in that order), D and E matching G's resolution,
    channels, condition size and widths; ``encoder_features`` is E's ``features`` (an
    ``"effnet"`` encoder still needs :meth:`~stylex.models.Encoder.fit_feature_stats`)."""
    torch.manual_seed(seed)
    g = Generator(gen_cfg)
    shared = {
        "resolution": gen_cfg.resolution,
        "img_channels": gen_cfg.img_channels,
        "channel_base": gen_cfg.channel_base,
        "channel_max": gen_cfg.channel_max,
    }
    d = Discriminator(DiscriminatorConfig(cond_dim=gen_cfg.cond_dim, **shared))
    e = Encoder(EncoderConfig(w_dim=gen_cfg.w_dim, features=encoder_features, **shared))
    return g, d, e
