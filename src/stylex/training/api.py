"""``stylex.train(...)``: create a run folder and train it, in one call (the CLI's ``train``)."""

from __future__ import annotations

from pathlib import Path

from stylex.training.config import TrainConfig
from stylex.training.networks import ModelSize
from stylex.training.recipes import recipe_config
from stylex.training.run_folder import create_run


def train(
    data: str,
    classifier: str,
    out: str | Path,
    *,
    resolution: int | None = None,
    config: TrainConfig | None = None,
    size: ModelSize | None = None,
    device: str | None = None,
    time_limit_s: float | None = None,
    progress: bool = True,
    overwrite: bool = False,
    contract: dict | None = None,
    force: bool = False,
) -> Path:
    """Train a StylEx generator + encoder for ``classifier`` on ``data``; return the run folder.

    Args:
        data: a dataset spec (a folder, CSV, ``.npz`` or a built-in such as ``mnist:3,8``).
        classifier: a TorchScript file or ``module:callable``.
        out: the new run folder.
        config: a :class:`TrainConfig` (steps, batch, loss weights, …); default: the default
            recipe, as ``stylex train`` with no options (:mod:`stylex.training.recipes`).
        size: a :class:`~stylex.training.networks.ModelSize` (widths), default the CLI's.
        time_limit_s: stop (after a checkpoint) once this much wall time has passed.
        contract: classifier contract fields over the classifier's own (``input_range``,
            ``resolution``, ``channels``, ``mean``, ``std``, ``output``, ``class_names``);
            stored in the run.
        force: train even when the classifier check fails (at chance, reversed class order,
            or another contract far more accurate; see :mod:`stylex.classifier.diagnose`).
    """
    if config is None:
        config = recipe_config()

    trainer = create_run(
        out,
        data,
        classifier,
        resolution=resolution,
        train=config,
        size=size,
        device=device,
        progress=progress,
        overwrite=overwrite,
        contract=contract,
        force=force,
    )
    try:
        trainer.train(time_limit_s=time_limit_s)
    finally:
        trainer.close()
    return Path(out)
