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


def build_models(gen_cfg: GeneratorConfig, seed: int) -> tuple[Generator, Discriminator, Encoder]:
    """G, D and E initialised from ``seed`` (in that order), D and E matching G's resolution,
    channels, condition size and widths."""
    torch.manual_seed(seed)
    g = Generator(gen_cfg)
    shared = {
        "resolution": gen_cfg.resolution,
        "img_channels": gen_cfg.img_channels,
        "channel_base": gen_cfg.channel_base,
        "channel_max": gen_cfg.channel_max,
    }
    d = Discriminator(DiscriminatorConfig(cond_dim=gen_cfg.cond_dim, **shared))
    e = Encoder(EncoderConfig(w_dim=gen_cfg.w_dim, **shared))
    return g, d, e
