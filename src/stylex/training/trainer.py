"""StylEx training: a StyleGAN2 generator and an encoder trained together with a frozen classifier.

:class:`Trainer` is the loop: it owns the networks, their optimisers and EMA copies, the
schedule of a step (which networks train in each phase, gradient averaging over ranks,
optimiser steps), logs, samples and checkpoints. The loss of each phase is computed by
:class:`~stylex.training.stylex_loss.StylExLoss` from the pure functions of
:mod:`stylex.training.losses`; a new run folder is made by
:func:`~stylex.training.run_folder.create_run`, an existing one re-opened by
:func:`~stylex.training.setup.resume_run`.

All randomness of a step (batch indices, z, noise, shuffles) derives from ``(seed, step, rank)``,
so a run resumed from a checkpoint reproduces the uninterrupted run exactly on CPU.

Speed (:mod:`stylex.training.fast`): the step never reads a value on the host (its scalars stay
on the device; the loop reads them, and checks them for NaN/inf, once per log/eval/sample/
checkpoint interval), batch indices are drawn on the device, and the kernels are chosen per
device; ``compile`` and ``channels_last`` are options of :class:`TrainConfig`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from stylex import distributed as distr
from stylex.classifier import Classifier
from stylex.data import StylexDataset
from stylex.errors import StylexError
from stylex.models import Encoder, Generator
from stylex.perceptual import PerceptualLoss
from stylex.training import checkpoint as ckpt
from stylex.training.fast import (
    StepWindow,
    autocast_dtype,
    compile_for_training,
    prepare_models,
)
from stylex.training.log import TrainLog
from stylex.training.monitor import held_out_numbers, save_sample_grid
from stylex.training.networks import build_models
from stylex.training.run_config import RunConfig
from stylex.training.stylex_loss import StepStats, StylExLoss, training_condition
from stylex.utils.faults import fault_point
from stylex.utils.images import from_uint8


class TrainingDiverged(StylexError):
    """A loss became NaN/inf; the last good checkpoint is kept."""


FEATURE_STATS_IMAGES = 512
"""Training images whose pretrained features set an ``"effnet"`` encoder's standardisation."""


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-image sampling weights ``1 / size of its class`` (float64 ``[N]``): each class
    present is drawn equally often."""
    counts = torch.bincount(labels)
    return 1.0 / counts[labels].double()


def _mix_seed(*parts: int) -> int:
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


@dataclass
class Phase:
    """One phase of a step: the networks it trains and their optimisers."""

    name: str  # a phase of StylExLoss.accumulate_gradients
    modules: list[nn.Module]
    optimizers: list[torch.optim.Optimizer]


class Trainer:
    """Owns the models, optimisers and the run folder of one StylEx training.

    Made by :func:`~stylex.training.run_folder.create_run` (a new run) or
    :func:`~stylex.training.setup.resume_run`; then :meth:`train`.
    """

    def __init__(
        self,
        run_dir: Path,
        config: RunConfig,
        dataset: tuple[StylexDataset, StylexDataset],
        classifier: Classifier,
        device: torch.device,
        dist_info: distr.DistInfo | None = None,
        progress: bool = True,
    ):
        self.run_dir = Path(run_dir)
        self.config = config
        self.tc = dataclasses.replace(config.train)
        self.gen_cfg = dataclasses.replace(config.generator)
        self.device = device
        self.dist = dist_info or distr.DistInfo()
        self.progress = progress and self.dist.is_main
        self.classifier = classifier.to(device)
        self.train_set, self.val_set = dataset

        g, d, e = build_models(self.gen_cfg, self.tc.seed, self.tc.encoder_features)
        self.G, self.D, self.E = g.to(device), d.to(device), e.to(device)
        self.G_ema: Generator = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.E_ema: Encoder = copy.deepcopy(self.E).eval().requires_grad_(False)
        # the step's autocast dtype, resolved once (``precision`` auto: bf16 where native)
        self.dtype = autocast_dtype(self.tc.precision, device)
        self.modconv = prepare_models(self)  # kernel choice per device; channels_last
        distr.broadcast_params([self.G, self.D, self.E, self.G_ema, self.E_ema], self.dist)

        tc = self.tc
        mb = tc.r1_every / (tc.r1_every + 1)  # lazy-regularisation correction (StyleGAN2)
        betas = (tc.beta1, tc.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=betas)
        self.opt_e = torch.optim.Adam(self.E.parameters(), lr=tc.lr_e, betas=betas)
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), lr=tc.lr_d * mb, betas=(betas[0] ** mb, betas[1] ** mb)
        )
        self.step = 0
        self.perceptual = self._make_perceptual()
        self.images = self.train_set.images.to(device)  # uint8, kept compact on the device
        self._data_gen = torch.Generator(device=device)  # batch indices drawn on the device
        self._class_weights = (
            balanced_weights(self.train_set.labels).to(device) if tc.balance_classes else None
        )
        d_r1 = compile_for_training(self) if self.tc.compile else self.D
        self.eval_x = self.val_set.float_images(
            torch.arange(min(tc.eval_images, len(self.val_set)))
        ).to(device)
        self.loss = StylExLoss(
            self.G,
            self.D,
            self.E,
            self.classifier,
            tc,
            perceptual=self.perceptual,
            autocast=self.autocast,
            d_r1=d_r1,
            dist=self.dist,
        )
        self.phases = [
            Phase("D", [self.D], [self.opt_d]),
            Phase("GE", [self.G, self.E], [self.opt_g, self.opt_e]),
        ]
        self.log = TrainLog(self.run_dir)

    # ----------------------------------------------------------------------------- set-up
    def fit_encoder_features(self) -> None:
        """A new run's ``"effnet"`` encoder (and its EMA copy): feature standardisation from
        :data:`FEATURE_STATS_IMAGES` training images evenly spaced over the set (which may be
        sorted by class). A resumed or ``--init-from`` run loads its own instead."""
        if self.E.config.features != "effnet":
            return
        n = min(FEATURE_STATS_IMAGES, len(self.train_set))
        spread = torch.linspace(0, len(self.train_set) - 1, n).round().long()
        self.E.fit_feature_stats(self.train_set.float_images(spread))
        self.E_ema.load_state_dict(self.E.state_dict())

    def _make_perceptual(self) -> nn.Module | None:
        if self.tc.perceptual == "none" or self.tc.lambda_perc == 0:
            return None
        return PerceptualLoss(kind=self.tc.perceptual).to(self.device)

    @property
    def per_rank_batch(self) -> int:
        if self.tc.batch % self.dist.world:
            raise StylexError(f"batch {self.tc.batch} is not divisible by {self.dist.world} ranks")
        return self.tc.batch // self.dist.world

    def autocast(self) -> AbstractContextManager[Any]:
        if self.dtype == torch.bfloat16:
            return torch.autocast(self.device.type, dtype=self.dtype)
        return nullcontext()

    def modules(self) -> dict[str, nn.Module]:
        return {
            "generator": self.G,
            "generator_ema": self.G_ema,
            "encoder": self.E,
            "encoder_ema": self.E_ema,
            "discriminator": self.D,
        }

    # ----------------------------------------------------------------------------- one step
    def _condition(self, logits: torch.Tensor) -> torch.Tensor | None:
        return training_condition(logits, self.tc)

    def batch_indices(self, step: int) -> torch.Tensor:
        """This rank's training-image indices for ``step`` (drawn on the device, no host round
        trip; on CPU equal to earlier versions' draws): uniform over images, or over classes
        with ``balance_classes``."""
        g = self._data_gen.manual_seed(_mix_seed(self.tc.seed, step, 0))
        if self._class_weights is not None:  # balance_classes: every class equally likely
            idx = torch.multinomial(self._class_weights, self.tc.batch, True, generator=g)
        else:
            idx = torch.randint(
                len(self.images), (self.tc.batch,), generator=g, device=self.images.device
            )
        b = self.per_rank_batch
        return idx[self.dist.rank * b : (self.dist.rank + 1) * b]

    def real_batch(self, step: int) -> torch.Tensor:
        """This rank's real images for ``step``: float [b, C, R, R] in [-1, 1]."""
        return from_uint8(self.images.index_select(0, self.batch_indices(step)))

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One D step and one G+E step. Returns the step's scalars as detached device tensors
        (no host synchronisation happens here; the loop reads them at log time)."""
        torch.manual_seed(_mix_seed(self.tc.seed, step, 1 + self.dist.rank))
        inputs = self.loss.step_inputs(self.real_batch(step), step)
        stats = StepStats()
        for phase in self.phases:
            if phase.name == "D" and not self.loss.gan_step(step):
                continue  # ``gan_every``: this step trains G and E on the encoder branch alone
            for m in (self.G, self.D, self.E):
                m.requires_grad_(any(m is t for t in phase.modules))
            for opt in phase.optimizers:
                opt.zero_grad(set_to_none=True)
            self.loss.accumulate_gradients(phase.name, inputs, stats)
            for trained in phase.modules:
                distr.average_gradients(trained.parameters(), self.dist)
            for opt in phase.optimizers:
                opt.step()
        self._update_ema(step)
        return stats.values

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        tc = self.tc
        nimg = (step + 1) * tc.batch
        ema_nimg = (
            min(tc.ema_kimg * 1000, nimg * tc.ema_rampup) if tc.ema_rampup else tc.ema_kimg * 1000
        )
        beta = 0.5 ** (tc.batch / max(ema_nimg, 1e-8))
        for src, dst in ((self.G, self.G_ema), (self.E, self.E_ema)):
            for p, pe in zip(src.parameters(), dst.parameters()):
                pe.lerp_(p.detach(), 1 - beta)
            for bsrc, bdst in zip(src.buffers(), dst.buffers()):
                bdst.copy_(bsrc)

    # ----------------------------------------------------------------------------- evaluation
    def evaluate(self) -> dict[str, float]:
        """Classifier consistency and L1 of EMA reconstructions on the fixed held-out batch."""
        return held_out_numbers(
            self.G_ema, self.E_ema, self.classifier, self.eval_x, self._condition
        )

    def _evaluate_and_log(self, **extra: Any) -> dict[str, float]:
        result = self.evaluate()
        self._log({"step": self.step, **extra, **{f"eval_{k}": v for k, v in result.items()}})
        return result

    def save_samples(self, step: int) -> Path:
        """Grid: 2 rows of random samples (fixed z), then originals above reconstructions."""
        path = self.run_dir / "samples" / f"step-{step:07d}.png"
        return save_sample_grid(
            self.G_ema, self.E_ema, self.classifier, self.eval_x, self._condition, path
        )

    # ----------------------------------------------------------------------------- persistence
    def save_checkpoint(self) -> Path:
        state = {
            "step": self.step,
            "opt_g": self.opt_g.state_dict(),
            "opt_e": self.opt_e.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }
        path = ckpt.write_checkpoint(
            self.run_dir, self.step, self.modules(), state, self.tc.keep_checkpoints
        )
        self.export_final()
        return path

    def export_final(self) -> None:
        """The models later stages use: EMA G and E, and D, at the run folder's top level."""
        self.G_ema.save_pretrained(self.run_dir, "generator")
        self.E_ema.save_pretrained(self.run_dir, "encoder")
        self.D.save_pretrained(self.run_dir, "discriminator")

    def load_checkpoint(self, path: Path) -> None:
        state = ckpt.read_checkpoint(path, self.modules())
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_e.load_state_dict(state["opt_e"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])

    def _log(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            self.log.write(record)

    def close(self) -> None:
        self.log.close()

    # ----------------------------------------------------------------------------- the loop
    def _host_read_due(self, total: int) -> bool:
        """Whether anything after the step just taken needs the step values (or must not run
        after a non-finite step): a log line, an evaluation, samples or a checkpoint."""
        tc, n = self.tc, self.step
        every = (tc.log_every, tc.eval_every, tc.sample_every, tc.checkpoint_every)
        return n == total or any(n % k == 0 for k in every)

    def _read_window(self, window: StepWindow, latest_of_each: bool = False) -> dict[str, float]:
        """The last step's values as floats (:meth:`StepWindow.read`); raises
        :class:`TrainingDiverged` if any step of the window had a non-finite value."""
        stats, bad = window.read(latest_of_each)
        if bad is not None:
            s, names = bad
            good = ckpt.latest_checkpoint(self.run_dir)
            raise TrainingDiverged(
                f"non-finite loss at step {s} ({', '.join(names)}); last good checkpoint: "
                f"{good if good else 'none'}. Try a lower learning rate, "
                "--precision fp32 or a larger --r1-gamma."
            )
        return stats

    def train(
        self, steps: int | None = None, time_limit_s: float | None = None
    ) -> dict[str, float]:
        """Train until ``steps`` (default: the config's) and return the last evaluation.

        With ``time_limit_s``, stop early once that much wall time has passed, after writing a
        checkpoint (the run can be continued with ``--resume``).
        """
        total = self.tc.steps if steps is None else steps
        tc = self.tc
        if self.dist.is_main and self.step < total:
            bf16 = self.dtype == torch.bfloat16
            print(
                f"training on {self.device} ({'bf16 autocast' if bf16 else 'fp32'}, width "
                f"{self.gen_cfg.channel_max}, batch {tc.batch}, recipe {tc.recipe})"
            )
        bar = tqdm(
            total=total,
            initial=self.step,
            desc="stylex train",
            unit="step",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        last_eval: dict[str, float] = {}
        t_last, n_last = time.perf_counter(), self.step
        t_start = t_last
        window = StepWindow()
        stats: dict[str, float] = {}
        try:
            while self.step < total:
                if time_limit_s is not None and time.perf_counter() - t_start > time_limit_s:
                    self._read_window(window)
                    distr.barrier(self.dist)
                    last_eval = self._evaluate_and_log(stopped="time limit")
                    if self.dist.is_main:
                        self.save_samples(self.step)
                        self.save_checkpoint()
                    break
                s = self.step
                window.add(s, self.train_step(s))  # values stay on the device
                self.step = s + 1
                fault_point("train.step")
                bar.update(1)
                if self._host_read_due(total):  # one read per interval; NaN check of all steps
                    # a name the last step did not compute (``gan_every`` > 1: the D phase's)
                    # keeps the value it was last read with
                    stats = {**stats, **self._read_window(window, latest_of_each=True)}
                if self.step % tc.log_every == 0 or self.step == total:
                    now = time.perf_counter()
                    dt = (now - t_last) / max(self.step - n_last, 1)
                    t_last, n_last = now, self.step
                    rec = {
                        "step": self.step,
                        "kimg": self.step * tc.batch / 1000,
                        **{k: round(v, 5) for k, v in stats.items()},
                        "sec_per_step": round(dt, 4),
                        "img_per_s": round(tc.batch / dt, 2),
                    }
                    self._log(rec)
                    bar.set_postfix(
                        d=f"{stats.get('loss_d', float('nan')):.2f}",
                        g=f"{stats['loss_g']:.2f}",
                        l1=f"{stats['l1']:.3f}",
                    )
                if self.step % tc.eval_every == 0 or self.step == total:
                    last_eval = self._evaluate_and_log()
                if self.dist.is_main and (self.step % tc.sample_every == 0 or self.step == total):
                    self.save_samples(self.step)
                if self.step % tc.checkpoint_every == 0 or self.step == total:
                    if self.dist.is_main:
                        self.save_checkpoint()
                    distr.barrier(self.dist)
        except KeyboardInterrupt:
            self._read_window(window)  # never checkpoint after a non-finite step
            if self.dist.is_main and self.step > 0:
                bar.write(f"interrupted: saving a checkpoint at step {self.step}")
                self.save_checkpoint()
            raise
        finally:
            bar.close()
            self.close()
        return last_eval
