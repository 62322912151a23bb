"""StylEx training: the run folder's config, losses, the training loop, checkpoints.

Modules: :mod:`~stylex.training.config` (:class:`TrainConfig`), :mod:`~stylex.training.run_config`
(:class:`RunConfig`, the schema of ``RUN/config.json``), :mod:`~stylex.training.run_folder`
(``create_run``: a new run folder), :mod:`~stylex.training.setup` (``resume_run``, device and
data set-up), :mod:`~stylex.training.trainer` (the loop), :mod:`~stylex.training.stylex_loss`
(the loss of each phase), :mod:`~stylex.training.losses` (pure loss functions),
:mod:`~stylex.training.api` (``stylex.train``).
"""

from stylex.training.config import TrainConfig
from stylex.training.run_config import RunConfig

__all__ = ["RunConfig", "TrainConfig"]
