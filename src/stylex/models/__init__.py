"""StyleGAN2 networks with an explicit StyleSpace: generator, discriminator, encoder; StyleSpace
editing (:mod:`stylex.models.stylespace`)."""

from stylex.models.config import DiscriminatorConfig, EncoderConfig, GeneratorConfig
from stylex.models.discriminator import Discriminator, Encoder
from stylex.models.generator import Generator, SynthesisState, num_params
from stylex.models.io import load_state, save_state
from stylex.models.stylespace import EditContext, StyleSpace

__all__ = [
    "Discriminator",
    "EditContext",
    "DiscriminatorConfig",
    "Encoder",
    "EncoderConfig",
    "Generator",
    "GeneratorConfig",
    "StyleSpace",
    "SynthesisState",
    "load_state",
    "num_params",
    "save_state",
]
