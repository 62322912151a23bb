"""StylEx training: losses, the training loop, checkpoints, distributed glue."""

from stylex.training.config import TrainConfig

__all__ = ["TrainConfig"]
