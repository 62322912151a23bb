"""The loss of one StylEx training step, phase by phase (StyleGAN2-ADA's ``accumulate_gradients``).

:class:`StylExLoss` computes and back-propagates the loss of a phase; the loop
(:class:`~stylex.training.trainer.Trainer`) owns the schedule: which networks train in a phase,
zeroing gradients, averaging them over ranks and the optimiser steps. Phases:

* ``"D"``: ``softplus(D(G(E(x), c), c)) + softplus(D(G(z, c'), c')) + softplus(-D(x, c))``
  (fakes of both branches averaged; with ``d_cf`` the counterfactuals ``G(E(x), c')`` are a
  third group of fakes), plus the lazy R1 penalty on the steps it is due.
* ``"GE"``: G and E together: adversarial on both branches, and on the encoder branch
  ``λ_l1·rec(x, x') + λ_perc·perceptual(x, x') + λ_w·L1(E(x'), w) + λ_cls·KL(C(x) ‖ C(x'))``;
  the recipe terms of :class:`~stylex.training.config.TrainConfig` on top.

The terms themselves are the pure functions of :mod:`stylex.training.losses`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from stylex import distributed as distr
from stylex.models import Discriminator, Encoder, Generator
from stylex.models.condition import condition_from_logits
from stylex.models.discriminator import feature_size
from stylex.perceptual.distance import distance_from_maps
from stylex.training.config import TrainConfig
from stylex.training.losses import (
    classifier_kl,
    d_logistic_loss,
    d_r1_penalty,
    drop_condition,
    edge_l1,
    envelope_l1,
    g_nonsaturating_loss,
    group_lasso,
    l1,
    reconstruction_loss,
    warmup_ramp,
)

PHASES = ("D", "GE")


@dataclass
class StepStats:
    """One step's scalars as detached (device) tensors: reading a value is a host
    synchronisation, so the loop reads them only at log time."""

    values: dict[str, torch.Tensor] = field(default_factory=dict)

    def add(self, **kw: torch.Tensor | float) -> None:
        for k, v in kw.items():
            self.values[k] = v.detach() if torch.is_tensor(v) else torch.tensor(float(v))


@dataclass
class StepInputs:
    """What both phases of one step share. x: real images [b, C, R, R] in [-1, 1];
    logits_real: C(x) [b, K] float32; c: the condition (None for a baseline run), c_enc: the
    encoder branch's (after condition dropout), c_shuf: c shuffled by ``perm`` for the random
    branch; z: [b, z_dim]; ramp / adv_rec_w: the warm-up schedule's factors; feat_x: an
    ``"effnet"`` encoder's pretrained features of x (frozen, so computed once for both phases),
    else None; maps_x: the extractor's stage maps of x, when the perceptual term reads them
    too (:attr:`StylExLoss.perceptual_from_encoder`), else None."""

    step: int
    x: torch.Tensor
    logits_real: torch.Tensor
    c: torch.Tensor | None
    c_enc: torch.Tensor | None
    c_shuf: torch.Tensor | None
    perm: torch.Tensor
    z: torch.Tensor
    ramp: float
    adv_rec_w: float
    feat_x: torch.Tensor | None = None
    maps_x: list[torch.Tensor] | None = None


def training_condition(logits: torch.Tensor, tc: TrainConfig) -> torch.Tensor | None:
    """The generator's condition during training (None for a baseline run)."""
    if tc.baseline:
        return None
    return condition_from_logits(logits, tc.cond_signal)


class StylExLoss:
    """Computes each phase's loss of a step and accumulates its gradients.

    ``autocast``: a factory of the step's autocast context; ``d_r1``: D's forward used for the
    R1 penalty (eager when D is compiled: double backward); ``perceptual``: the perceptual
    distance (None when off).

    With an ``"effnet"`` encoder and the ``"effnet"`` perceptual distance at the encoder's
    working size, both read the same frozen extractor at the same size: the step then passes
    each image through it once for both (:attr:`perceptual_from_encoder`; the real batch in
    :meth:`step_inputs`, the reconstruction for ``E(x')``), so the perceptual term costs no
    extra pass. Setting the attribute to False gives the reference (a pass of its own).
    """

    def __init__(
        self,
        G: Generator,
        D: Discriminator,
        E: Encoder,
        classifier: nn.Module,
        tc: TrainConfig,
        *,
        perceptual: nn.Module | None,
        autocast: Callable[[], AbstractContextManager[Any]],
        d_r1: Callable[..., torch.Tensor],
        dist: distr.DistInfo,
    ):
        self.G, self.D, self.E, self.C = G, D, E, classifier
        self.tc = tc
        self.perceptual = perceptual
        self.autocast = autocast
        self.d_r1 = d_r1
        self.dist = dist
        self.perceptual_from_encoder = (
            perceptual is not None
            and getattr(perceptual, "kind", None) == "effnet"
            and E.config.features == "effnet"
            and getattr(perceptual, "size", None) == feature_size(E.config.resolution)
        )

    def step_inputs(self, x: torch.Tensor, step: int) -> StepInputs:
        """The step's condition and random draws (global RNG, in this order: shuffle, z,
        condition dropout)."""
        tc, device = self.tc, x.device
        b = x.shape[0]
        with torch.no_grad():
            logits_real = self.C(x).float()
        c = training_condition(logits_real, tc)
        perm = torch.randperm(b, device=device)
        c_shuf = c[perm] if c is not None else None
        z = torch.randn(b, self.G.config.z_dim, device=device)
        # recipe (TrainConfig): condition dropout on the encoder branch, warm-up schedule
        c_enc = c
        if c is not None and tc.cond_dropout > 0:
            c_enc = drop_condition(c, tc.cond_dropout, torch.rand(b, device=device))
        ramp = warmup_ramp(step, tc.warmup_steps)
        adv_rec_w = tc.warmup_adv + (1 - tc.warmup_adv) * ramp if tc.warmup_steps else 1.0
        feat_x = maps_x = None
        if self.E.config.features == "effnet":
            with torch.no_grad(), self.autocast():
                if self.perceptual_from_encoder:
                    maps_x = self.E.pretrained_maps(x)
                    feat_x = self.E.features_from_maps(maps_x)
                else:
                    feat_x = self.E.pretrained_features(x)
        return StepInputs(
            step, x, logits_real, c, c_enc, c_shuf, perm, z, ramp, adv_rec_w, feat_x, maps_x
        )

    def accumulate_gradients(self, phase: str, inp: StepInputs, stats: StepStats) -> None:
        """Back-propagate ``phase``'s loss ("D" or "GE"); its scalars go to ``stats``."""
        if phase == "D":
            self._discriminator(inp, stats)
        elif phase == "GE":
            self._generator_encoder(inp, stats)
        else:
            raise ValueError(f"unknown phase {phase!r}; one of {PHASES}")

    # ----------------------------------------------------------------------------- phases
    def _discriminator(self, inp: StepInputs, stats: StepStats) -> None:
        tc, G, D, E = self.tc, self.G, self.D, self.E
        x, c, c_shuf = inp.x, inp.c, inp.c_shuf
        with self.autocast():
            with torch.no_grad():
                w = E(x, features=inp.feat_x)
                x_rec = G.generate(w, c, noise_mode="const")
                x_rand = G(inp.z, c_shuf, noise_mode="random")
            fakes = [D(x_rec.detach(), c), D(x_rand.detach(), c_shuf)]
            if tc.d_cf and c is not None and inp.ramp > 0:  # recipe: counterfactuals are fakes
                with torch.no_grad():
                    x_cf = G.generate(w, c_shuf, noise_mode="const")
                fakes.append(D(x_cf.detach(), c_shuf))
                stats.add(d_cf=fakes[-1].float().mean())
            fake_logits = torch.cat(fakes)
            real_logits = D(x, c)
            loss_d = d_logistic_loss(real_logits.float(), fake_logits.float())
        loss_d.backward()
        stats.add(
            loss_d=loss_d, d_real=real_logits.float().mean(), d_fake=fake_logits.float().mean()
        )
        if tc.r1_gamma > 0 and (inp.step // tc.gan_every) % tc.r1_every == 0:
            x_r1 = x.detach().requires_grad_(True)
            r1 = d_r1_penalty(self.d_r1(x_r1, c), x_r1)  # fp32, eager: double backward
            (r1 * (tc.r1_gamma / 2) * tc.r1_every).backward()
            stats.add(r1=r1)

    def _generator_encoder(self, inp: StepInputs, stats: StepStats) -> None:
        tc, G, D, E, C = self.tc, self.G, self.D, self.E, self.C
        x, c, c_shuf, ramp = inp.x, inp.c, inp.c_shuf, inp.ramp
        with self.autocast():
            w = E(x, features=inp.feat_x)
            x_rec = G.generate(w, inp.c_enc, noise_mode="const")
            gan = self.gan_step(inp.step)
            adv = x_rec.new_zeros((), dtype=torch.float32)
            if gan:  # the adversarial game (every step unless ``gan_every`` > 1)
                w_rand = G.map(inp.z)
                self._track_w_avg(w_rand)
                x_rand = G.synthesize(G.styles(w_rand, c_shuf), noise_mode="random")
                adv_rec = g_nonsaturating_loss(D(x_rec, c).float())
                adv = inp.adv_rec_w * adv_rec + g_nonsaturating_loss(D(x_rand, c_shuf).float())
            loss_l1 = l1(x_rec.float(), x)
            loss_rec = loss_l1  # recipe: or the foreground loss
            if tc.rec_loss != "l1":
                loss_rec = reconstruction_loss(x_rec, x, tc.rec_loss)
                stats.add(rec=loss_rec)
            maps_rec = None
            if self.perceptual_from_encoder and inp.maps_x is not None:
                maps_rec = E.pretrained_maps(x_rec)  # one pass for E(x') and the perceptual term
                w_rec = E(x_rec, features=E.features_from_maps(maps_rec))
            else:
                w_rec = E(x_rec)
            loss_w = l1(w_rec.float(), w.detach().float())
            loss = adv + tc.lambda_l1 * loss_rec + tc.lambda_w * loss_w
            if tc.lambda_env > 0:  # recipe: the object's extent, whatever its texture
                env = envelope_l1(x_rec, x)
                loss = loss + tc.lambda_env * env
                stats.add(env=env)
            if tc.lambda_edge > 0:  # recipe: outlines as sharp as the input's
                edge = edge_l1(x_rec, x)
                loss = loss + tc.lambda_edge * edge
                stats.add(edge=edge)
            if gan and tc.lambda_inv > 0:  # recipe: E inverts generated samples (to E only)
                inv = l1(E(x_rand.detach()).float(), w_rand.detach().float())
                loss = loss + tc.lambda_inv * inv
                stats.add(w_inv=inv)
            if self.perceptual is not None:
                if maps_rec is not None and inp.maps_x is not None:
                    loss_p = distance_from_maps(maps_rec, inp.maps_x).mean()
                else:
                    loss_p = self.perceptual(x_rec.float(), x)
                loss = loss + tc.lambda_perc * loss_p
                stats.add(perc=loss_p)
            if not tc.baseline and tc.lambda_cls > 0:
                kl = classifier_kl(inp.logits_real, C(x_rec.float()))
                loss = loss + tc.lambda_cls * kl
                stats.add(kl=kl)
            cf_terms = max(tc.lambda_cf, tc.lambda_adv_cf, tc.lambda_cf_prox)
            if not tc.baseline and cf_terms > 0 and ramp > 0:
                w_cf = w if tc.cf_to_encoder else w.detach()
                x_cf = G.generate(w_cf, c_shuf, noise_mode="const")
                if tc.lambda_cf > 0:
                    cf = classifier_kl(inp.logits_real[inp.perm], C(x_cf.float()))
                    loss = loss + tc.lambda_cf * ramp * cf
                    stats.add(cf=cf)
                if tc.lambda_cf_prox > 0:  # it changes no more than the class needs
                    prox = l1(x_cf.float(), x_rec.detach().float())
                    loss = loss + tc.lambda_cf_prox * ramp * prox
                    stats.add(cf_prox=prox)
                if gan and tc.lambda_adv_cf > 0:  # the counterfactual must also look real
                    adv_cf = g_nonsaturating_loss(D(x_cf, c_shuf).float())
                    loss = loss + tc.lambda_adv_cf * ramp * adv_cf
                    stats.add(adv_cf=adv_cf)
            if not tc.baseline and tc.cond_sparsity > 0 and ramp > 0:
                lasso = group_lasso(G.condition_weights())
                loss = loss + tc.cond_sparsity * ramp * lasso
                stats.add(cond_lasso=lasso)
        loss.backward()
        stats.add(loss_g=loss, l1=loss_l1, w_rec=loss_w)
        if gan:
            stats.add(adv=adv)

    def gan_step(self, step: int) -> bool:
        """Whether ``step`` runs the adversarial game (the D phase and the generator's
        adversarial terms): one step in ``gan_every``."""
        return step % self.tc.gan_every == 0

    @torch.no_grad()
    def _track_w_avg(self, w: torch.Tensor) -> None:
        """Running mean of w for truncation, averaged over ranks so they stay identical."""
        w_avg = self.G.get_buffer("w_avg")
        mean = distr.all_reduce_mean_tensor(w.detach().float().mean(0), self.dist)
        w_avg.copy_(mean.lerp(w_avg, self.G.config.w_avg_beta))
