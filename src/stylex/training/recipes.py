"""Named training recipes: presets of :class:`TrainConfig` fields.

``stylex train`` starts from the :data:`DEFAULT_RECIPE` preset; ``--recipe paper`` gives the
paper's plain StylEx (exactly :class:`TrainConfig`'s own defaults). Explicit options override a
preset's values; the run's ``config.json`` records the resulting fields and the recipe's name.
How each preset value was chosen: ``benchmarks/recipe_log.md``.
"""

from __future__ import annotations

from typing import Any

from stylex.errors import StylexError
from stylex.training.config import TrainConfig

RECIPES: dict[str, dict[str, Any]] = {
    # Lang et al. 2021 as implemented here: TrainConfig's defaults, nothing else.
    "paper": {},
    # From scratch on new data (measured in benchmarks/recipe_log.md).
    "stylex": {
        "precision": "auto",
        "batch": 8,
        "perceptual": "none",
        "rec_loss": "foreground",
        "lambda_l1": 20.0,
        "lambda_env": 20.0,
        "lambda_inv": 1.0,
        "cond_dropout": 0.5,
        "lambda_cf": 3.0,
        "cond_sparsity": 80.0,
        "warmup_steps": 500,
        "warmup_adv": 0.0,
        # session 16: an encoder on frozen pretrained features keeps the synthetic tasks'
        # shape and gives AttFind (over the full StyleSpace) the label factors
        "encoder_features": "effnet",
        # session 21 (measured in session 20): the adversarial game on one step in four; the
        # other steps train G and E on the reconstruction and classifier terms alone (about
        # twice the steps in the same time; lower reconstruction error on every task tried)
        "gan_every": 4,
    },
}
DEFAULT_RECIPE = "stylex"


class UnknownRecipe(StylexError):
    """A recipe name that is not in :data:`RECIPES`."""


def recipe_values(name: str) -> dict[str, Any]:
    """The preset's TrainConfig fields (a copy)."""
    if name not in RECIPES:
        raise UnknownRecipe(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return dict(RECIPES[name])


def recipe_config(name: str = DEFAULT_RECIPE, **overrides: Any) -> TrainConfig:
    """TrainConfig of recipe ``name`` with ``overrides`` (explicit options) applied on top."""
    return TrainConfig(**{**recipe_values(name), **overrides, "recipe": name})
