"""StyleGAN2 networks with an explicit StyleSpace: generator, discriminator, encoder."""

from stylex.models.config import DiscriminatorConfig, EncoderConfig, GeneratorConfig
from stylex.models.discriminator import Discriminator, Encoder
from stylex.models.generator import Generator, StyleSpace, SynthesisState, num_params
from stylex.models.io import load_state, save_state

__all__ = [
    "Discriminator",
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
