"""Model configurations as plain dataclasses that round-trip through JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from stylex.utils.images import check_channels, check_resolution

T = TypeVar("T")


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature-map width at resolution ``res``: ``min(channel_base // res, channel_max)``."""
    return max(1, min(channel_base // res, channel_max))


class ConfigMixin:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(cast(Any, self))  # every subclass is a dataclass

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**d)


@dataclass
class GeneratorConfig(ConfigMixin):
    """StyleGAN2 generator. Widths: ``min(channel_base // res, channel_max)`` per resolution.

    ``cond_dim`` is the size of the condition vector ``c`` concatenated to ``w`` before every
    style affine (StylEx: the classifier's output; 0 = unconditional baseline).
    ``cond_min_res``: the condition enters only the layers of at least this resolution (0 =
    every layer, the paper's); the coarser layers' styles are functions of ``w`` alone.
    """

    resolution: int = 32
    img_channels: int = 1
    z_dim: int = 512
    w_dim: int = 512
    cond_dim: int = 0
    mapping_layers: int = 8
    mapping_lr_mult: float = 0.01
    channel_base: int = 16384
    channel_max: int = 512
    modconv: str = "auto"  # "auto" (fused on CUDA, unfused on CPU) | "fused" | "unfused"
    w_avg_beta: float = 0.995
    noise_seed: int = 0  # seed of the constant noise maps used by noise_mode="const"
    cond_min_res: int = 0

    def __post_init__(self) -> None:
        check_resolution(self.resolution)
        if self.cond_min_res < 0 or self.cond_min_res > self.resolution:
            raise ValueError(
                f"cond_min_res must be in [0, resolution={self.resolution}], "
                f"got {self.cond_min_res}"
            )
        check_channels(self.img_channels, "img_channels")
        if self.modconv not in ("auto", "fused", "unfused"):
            raise ValueError(f"modconv must be auto|fused|unfused, got {self.modconv!r}")
        if self.cond_dim < 0:
            raise ValueError("cond_dim must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """As stored: ``cond_min_res`` only when set, so a generator without it writes the
        same config as before the field existed (configs round-trip unchanged)."""
        d = super().to_dict()
        if not d["cond_min_res"]:
            del d["cond_min_res"]
        return d


@dataclass
class DiscriminatorConfig(ConfigMixin):
    """Residual StyleGAN2 discriminator, conditioned on ``c`` by projection (cond_dim 0 = off)."""

    resolution: int = 32
    img_channels: int = 1
    cond_dim: int = 0
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group: int = 4

    def __post_init__(self) -> None:
        check_resolution(self.resolution)
        check_channels(self.img_channels, "img_channels")


ENCODER_FEATURES = ("trained", "effnet")
"""What an encoder reads from the image (:class:`EncoderConfig`'s ``features``)."""


@dataclass
class EncoderConfig(ConfigMixin):
    """Encoder image → ``w``: ``features`` selects what it reads from the image.

    * ``"trained"`` (the paper's): the discriminator's residual architecture, trained from
      scratch with the generator;
    * ``"effnet"``: the frozen ImageNet EfficientNet-Lite0's stride-8 and stride-16 feature
      maps (standardised with statistics of the training images), read by a trained two-layer
      head. Its ``w`` carries what pretrained features see at once (an object's outline),
      which a from-scratch trunk learns only after many images (``benchmarks/recipe_log.md``,
      session 15). ``channel_base`` / ``channel_max`` are unused.
    """

    resolution: int = 32
    img_channels: int = 1
    w_dim: int = 512
    channel_base: int = 16384
    channel_max: int = 512
    features: str = "trained"

    def __post_init__(self) -> None:
        check_resolution(self.resolution)
        check_channels(self.img_channels, "img_channels")
        if self.features not in ENCODER_FEATURES:
            raise ValueError(
                f"encoder features must be one of {', '.join(ENCODER_FEATURES)}, "
                f"got {self.features!r}"
            )
