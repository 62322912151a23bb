"""Training configuration (a dataclass serialised into the run's config.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stylex.models.config import ENCODER_FEATURES, ConfigMixin


@dataclass
class TrainConfig(ConfigMixin):
    """Hyper-parameters of StylEx training. Defaults work for 32–64 px data.

    Loss weights (G and E step, encoder branch):
    ``λ_l1·L1(x, x') + λ_perc·perceptual(x, x') + λ_w·L1(E(x'), w) + λ_cls·KL(C(x) ‖ C(x'))``
    plus the adversarial terms of both branches (weight 1 each).
    The condition ``c`` is the classifier's softmax output (``cond_signal="probs"``), or its
    raw logits (``"logits"``).

    Two optional terms (off by default, i.e. the paper's StylEx) make the classifier's signal
    enter StyleSpace through few coordinates, which is what AttFind looks for:

    * ``cond_sparsity`` — ``λ · group_lasso`` over the rows of the style affines' condition
      columns (one row = one style coordinate): most coordinates stop responding to c;
    * ``lambda_cf`` — counterfactual condition loss ``KL(C(x_j) ‖ C(G(E(x_i), c_j)))`` with
      ``j`` a shuffle of the batch: the reconstruction of ``x_i`` under another image's
      condition must be classified like that image, so c keeps control of the class;
    * ``lambda_adv_cf`` — the generator's adversarial term on those counterfactuals,
      ``λ · softplus(−D(G(E(x_i), c_j), c_j))`` (same ramp as ``lambda_cf``): without it the
      counterfactual loss is met by any image the classifier reads as the other class,
      realistic or not;
    * ``lambda_cf_prox`` — ``λ · L1(G(E(x_i), c_j), x'_i)`` (same ramp as ``lambda_cf``; the
      reconstruction detached): the counterfactual may change no more of the image than the
      classifier needs, so the coordinates the condition drives change the classifier's factor
      and not others that happen to vary with the class in the generator;
    * ``cf_to_encoder`` — whether the counterfactual terms' gradient also reaches the encoder
      (through w); False: the counterfactual is generated from a detached w, so only the
      generator learns to let c carry the class and the encoder is trained by reconstruction
      alone (it is not pushed to leave the label's factors out of w);
    * ``d_cf`` — the discriminator also sees those counterfactuals as fakes (one more
      generator pass per step), so that ``lambda_adv_cf`` is judged by a discriminator that has
      learnt what a counterfactual looks like, not only reconstructions and samples;
    * ``cond_min_res`` — the condition enters only the generator's layers of at least this
      resolution (0 = all; an architecture field, stored in the generator's config);
    * ``gan_every`` — the adversarial game runs on one step in ``gan_every`` (1 = every step,
      the paper's): the D phase, the random branch (``G(z)``, its adversarial term and the
      inversion term on it) and the encoder branch's adversarial terms. The other steps train
      G and E on the encoder branch's reconstruction and classifier terms alone, at a fraction
      of the cost; R1 stays lazy over D's own steps (every ``r1_every`` of them).

    Recipe terms (off here, i.e. the paper's; :mod:`stylex.training.recipes` names presets and
    ``recipe`` records which one the run started from):

    * ``rec_loss`` — ``"l1"`` or ``"foreground"`` (:func:`~stylex.training.losses.foreground_l1`:
      per-image L1 relative to a flat background, foreground-weighted);
    * ``lambda_env`` — ``λ ·`` :func:`~stylex.training.losses.envelope_l1`` (x', x)`` on the
      encoder branch: the reconstruction must put the object where x has it, at its size and
      outline, whatever its texture;
    * ``lambda_edge`` — ``λ ·`` :func:`~stylex.training.losses.edge_l1`` (x', x)`` on the
      encoder branch: the reconstruction's outlines must be as sharp as x's (image gradients);
    * ``lambda_inv`` — ``λ · L1(E(G(w)), w)`` on the random branch (E learns inversion on
      generated samples, gradient to E only);
    * ``cond_dropout`` — probability that an image's condition on the encoder branch is replaced
      by the batch's mean condition (the image must then be carried by w);
    * ``balance_classes`` — draw each batch with every class equally likely (images weighted
      by 1 / their class's size) instead of uniformly over images: on imbalanced data the
      generator otherwise sees a small class rarely and loses it (the fitness verdict's
      per-class consistency);
    * ``encoder_features`` — what the encoder reads (:class:`~stylex.models.EncoderConfig`):
      ``"trained"`` (the paper's from-scratch trunk) or ``"effnet"`` (frozen pretrained
      EfficientNet-Lite0 feature maps and a trained head);
    * ``warmup_steps`` / ``warmup_adv`` — for the first ``warmup_steps`` steps ``cond_sparsity``
      and ``lambda_cf`` are off and the encoder branch's adversarial term has weight
      ``warmup_adv``; over the next ``warmup_steps`` all three ramp linearly to full.
    """

    steps: int = 10000
    batch: int = 16
    lr_g: float = 0.002
    lr_d: float = 0.002
    lr_e: float = 0.002
    beta1: float = 0.0
    beta2: float = 0.99
    r1_gamma: float = 1.0
    r1_every: int = 16
    lambda_l1: float = 1.0
    lambda_perc: float = 0.1  # the EfficientNet distance is ~10× LPIPS in scale
    lambda_w: float = 1.0
    lambda_cls: float = 1.0
    cond_sparsity: float = 0.0
    lambda_cf: float = 0.0
    lambda_adv_cf: float = 0.0
    lambda_cf_prox: float = 0.0
    cf_to_encoder: bool = True
    d_cf: bool = False
    cond_min_res: int = 0
    gan_every: int = 1
    cond_signal: str = "probs"
    baseline: bool = False  # no condition, no classifier loss (Wu et al.'s StyleSpace)
    ema_kimg: float = 10.0  # EMA half-life in thousands of images
    ema_rampup: float = 0.05  # half-life ≤ rampup × images seen so far
    seed: int = 0
    precision: str = "auto"  # auto (bf16 where faster: CUDA, AMX x86, Arm bf16) | fp32 | bf16
    compile: bool = False  # torch.compile the step's networks (stylex.training.fast)
    channels_last: bool = False  # NHWC memory format for the networks' convolutions
    # "effnet" (EfficientNet-Lite0 features) | "none"
    perceptual: Literal["effnet", "none"] = "effnet"
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    sample_every: int = 500
    log_every: int = 10
    eval_every: int = 250
    eval_images: int = 64
    recipe: str = "paper"
    rec_loss: str = "l1"
    lambda_inv: float = 0.0
    lambda_env: float = 0.0
    lambda_edge: float = 0.0
    cond_dropout: float = 0.0
    warmup_steps: int = 0
    warmup_adv: float = 1.0
    balance_classes: bool = False
    encoder_features: str = "trained"

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch < 1:
            raise ValueError("steps must be >= 0 and batch >= 1")
        if min(self.cond_sparsity, self.lambda_cf, self.lambda_adv_cf, self.lambda_cf_prox) < 0:
            raise ValueError(
                "cond_sparsity, lambda_cf, lambda_adv_cf and lambda_cf_prox must be >= 0"
            )
        if self.cond_signal not in ("probs", "logits"):
            raise ValueError("cond_signal must be 'probs' or 'logits'")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError("precision must be auto|fp32|bf16")
        if self.perceptual not in ("effnet", "none"):
            raise ValueError("perceptual must be 'effnet' or 'none'")
        if self.rec_loss not in ("l1", "foreground"):
            raise ValueError("rec_loss must be 'l1' or 'foreground'")
        if not 0 <= self.cond_dropout <= 1:
            raise ValueError("cond_dropout must be in [0, 1]")
        if self.lambda_inv < 0 or self.warmup_steps < 0 or self.warmup_adv < 0:
            raise ValueError("lambda_inv, warmup_steps and warmup_adv must be >= 0")
        if self.lambda_env < 0 or self.lambda_edge < 0:
            raise ValueError("lambda_env and lambda_edge must be >= 0")
        if self.cond_min_res < 0:
            raise ValueError("cond_min_res must be >= 0")
        if self.gan_every < 1:
            raise ValueError("gan_every must be >= 1")
        if self.encoder_features not in ENCODER_FEATURES:
            raise ValueError(f"encoder_features must be one of {', '.join(ENCODER_FEATURES)}")
