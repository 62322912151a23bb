"""StylEx training: a StyleGAN2 generator and an encoder trained together with a frozen classifier.

The loop owns scheduling, checkpoints and logs; losses are the pure functions in
:mod:`stylex.training.losses`; the networks know nothing of training.

Per step (one batch x of real images, c = classifier condition of x, c' = c shuffled):

* D: ``softplus(D(G(E(x), c), c)) + softplus(D(G(z, c'), c')) + softplus(-D(x, c))`` (fakes of
  both branches averaged), lazy R1 every ``r1_every`` steps.
* G and E together: adversarial on both branches, and on the encoder branch
  ``λ_l1·L1(x, x') + λ_perc·perceptual(x, x') + λ_w·L1(E(x'), w) + λ_cls·KL(C(x) ‖ C(x'))``;
  optionally ``cond_sparsity·group_lasso(condition columns)`` and the counterfactual term
  ``λ_cf·KL(C(x[perm]) ‖ C(G(E(x), c[perm])))`` (:class:`TrainConfig`).

All randomness of a step (batch indices, z, noise, shuffles) derives from ``(seed, step, rank)``,
so a run resumed from a checkpoint reproduces the uninterrupted run exactly on CPU.

Speed (:mod:`stylex.training.fast`): the step never reads a value on the host (its scalars stay
on the device; the loop reads them, and checks them for NaN/inf, once per log/eval/sample/
checkpoint interval), batch indices are drawn on the device, and the kernels are chosen per
device; ``compile`` and ``channels_last`` are options of :class:`TrainConfig`.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylex import distributed as distr
from stylex.errors import RunError, StylexError
from stylex.models import (
    Discriminator,
    DiscriminatorConfig,
    Encoder,
    EncoderConfig,
    Generator,
    GeneratorConfig,
)
from stylex.runtime import resolve_device
from stylex.training import checkpoint as ckpt
from stylex.training.config import TrainConfig
from stylex.training.fast import StepWindow, compile_for_training, prepare_models
from stylex.training.losses import (
    classifier_kl,
    condition_from_logits,
    d_logistic_loss,
    d_r1_penalty,
    drop_condition,
    g_nonsaturating_loss,
    group_lasso,
    l1,
    reconstruction_loss,
    warmup_ramp,
)
from stylex.utils.faults import fault_point
from stylex.utils.fs import atomic_write_json
from stylex.utils.images import make_grid, save_png

RUN_FORMAT_VERSION = 1


class TrainingDiverged(StylexError):
    """A loss became NaN/inf; the last good checkpoint is kept."""


@dataclass
class ModelSize:
    """Network widths (shared by G, D and E) and latent sizes."""

    channel_max: int = 256
    channel_base: int = 16384
    w_dim: int = 256
    mapping_layers: int = 4


@dataclass
class StepStats:
    """One step's scalars as detached (device) tensors: reading a value is a host
    synchronisation, so the loop reads them only at log time (:func:`read_window`)."""

    values: dict[str, torch.Tensor] = field(default_factory=dict)

    def add(self, **kw: torch.Tensor | float) -> None:
        for k, v in kw.items():
            self.values[k] = v.detach() if torch.is_tensor(v) else torch.tensor(float(v))


def _mix_seed(*parts: int) -> int:
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def build_models(gen_cfg: GeneratorConfig, seed: int):
    torch.manual_seed(seed)
    g = Generator(gen_cfg)
    d = Discriminator(
        DiscriminatorConfig(
            resolution=gen_cfg.resolution,
            img_channels=gen_cfg.img_channels,
            cond_dim=gen_cfg.cond_dim,
            channel_base=gen_cfg.channel_base,
            channel_max=gen_cfg.channel_max,
        )
    )
    e = Encoder(
        EncoderConfig(
            resolution=gen_cfg.resolution,
            img_channels=gen_cfg.img_channels,
            w_dim=gen_cfg.w_dim,
            channel_base=gen_cfg.channel_base,
            channel_max=gen_cfg.channel_max,
        )
    )
    return g, d, e


class Trainer:
    """Owns the models, optimisers and the run folder of one StylEx training.

    Use :meth:`create` for a new run and :meth:`resume` to continue one; then :meth:`train`.
    """

    def __init__(
        self,
        run_dir: Path,
        config: dict[str, Any],
        dataset,
        classifier,
        device: torch.device,
        dist_info: distr.DistInfo | None = None,
        progress: bool = True,
    ):
        self.run_dir = Path(run_dir)
        self.config = config
        self.tc = TrainConfig.from_dict(config["train"])
        self.gen_cfg = GeneratorConfig.from_dict(config["generator"])
        self.device = device
        self.dist = dist_info or distr.DistInfo()
        self.progress = progress and self.dist.is_main
        self.classifier = classifier.to(device)
        self.train_set, self.val_set = dataset

        g, d, e = build_models(self.gen_cfg, self.tc.seed)
        self.G, self.D, self.E = g.to(device), d.to(device), e.to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.E_ema = copy.deepcopy(self.E).eval().requires_grad_(False)
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
        self._d_r1 = compile_for_training(self) if self.tc.compile else self.D
        self.eval_x = self.val_set.float_images(
            torch.arange(min(tc.eval_images, len(self.val_set)))
        ).to(device)
        self._tb = None
        self._log_file = None

    # ----------------------------------------------------------------------------- set-up
    def _make_perceptual(self):
        if self.tc.perceptual == "none" or self.tc.lambda_perc == 0:
            return None
        from stylex.perceptual import PerceptualLoss

        return PerceptualLoss(kind=self.tc.perceptual).to(self.device)

    @property
    def per_rank_batch(self) -> int:
        if self.tc.batch % self.dist.world:
            raise StylexError(f"batch {self.tc.batch} is not divisible by {self.dist.world} ranks")
        return self.tc.batch // self.dist.world

    def autocast(self):
        p = self.tc.precision
        if p == "auto":
            p = "bf16" if self.device.type == "cuda" else "fp32"
        if p == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
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
        if self.tc.baseline:
            return None
        return condition_from_logits(logits, self.tc.cond_signal)

    def real_batch(self, step: int) -> torch.Tensor:
        """This rank's real images for ``step``: float [b, C, R, R] in [-1, 1].

        Indices are drawn on the device (no host round trip); on CPU they equal earlier
        versions' draws."""
        g = self._data_gen.manual_seed(_mix_seed(self.tc.seed, step, 0))
        idx = torch.randint(
            len(self.images), (self.tc.batch,), generator=g, device=self.images.device
        )
        b = self.per_rank_batch
        idx = idx[self.dist.rank * b : (self.dist.rank + 1) * b]
        return self.images.index_select(0, idx).float() / 127.5 - 1.0

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One D step and one G+E step. Returns the step's scalars as detached device tensors
        (no host synchronisation happens here; the loop reads them at log time)."""
        tc, G, D, E, C = self.tc, self.G, self.D, self.E, self.classifier
        torch.manual_seed(_mix_seed(self.tc.seed, step, 1 + self.dist.rank))
        x = self.real_batch(step)
        b = x.shape[0]
        with torch.no_grad():
            logits_real = C(x).float()
        c = self._condition(logits_real)
        perm = torch.randperm(b, device=self.device)
        c_shuf = c[perm] if c is not None else None
        z = torch.randn(b, self.gen_cfg.z_dim, device=self.device)
        stats = StepStats()
        # recipe (TrainConfig): condition dropout on the encoder branch, warm-up schedule
        c_enc = c
        if c is not None and tc.cond_dropout > 0:
            c_enc = drop_condition(c, tc.cond_dropout, torch.rand(b, device=self.device))
        ramp = warmup_ramp(step, tc.warmup_steps)
        adv_rec_w = tc.warmup_adv + (1 - tc.warmup_adv) * ramp if tc.warmup_steps else 1.0

        # ---- discriminator
        G.requires_grad_(False)
        E.requires_grad_(False)
        D.requires_grad_(True)
        with self.autocast():
            with torch.no_grad():
                x_rec = G.generate(E(x), c, noise_mode="const")
                x_rand = G(z, c_shuf, noise_mode="random")
            fake_logits = torch.cat([D(x_rec.detach(), c), D(x_rand.detach(), c_shuf)])
            real_logits = D(x, c)
            loss_d = d_logistic_loss(real_logits.float(), fake_logits.float())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        stats.add(
            loss_d=loss_d, d_real=real_logits.float().mean(), d_fake=fake_logits.float().mean()
        )
        if tc.r1_gamma > 0 and step % tc.r1_every == 0:
            x_r1 = x.detach().requires_grad_(True)
            r1 = d_r1_penalty(self._d_r1(x_r1, c), x_r1)  # fp32, eager: double backward
            (r1 * (tc.r1_gamma / 2) * tc.r1_every).backward()
            stats.add(r1=r1)
        distr.average_gradients(D.parameters(), self.dist)
        self.opt_d.step()

        # ---- generator + encoder
        D.requires_grad_(False)
        G.requires_grad_(True)
        E.requires_grad_(True)
        with self.autocast():
            w = E(x)
            x_rec = G.generate(w, c_enc, noise_mode="const")
            w_rand = G.map(z)
            self._track_w_avg(w_rand)
            x_rand = G.synthesize(G.styles(w_rand, c_shuf), noise_mode="random")
            adv = adv_rec_w * g_nonsaturating_loss(D(x_rec, c).float()) + g_nonsaturating_loss(
                D(x_rand, c_shuf).float()
            )
            loss_l1 = l1(x_rec.float(), x)
            loss_rec = loss_l1  # recipe: or the foreground loss
            if tc.rec_loss != "l1":
                loss_rec = reconstruction_loss(x_rec, x, tc.rec_loss)
                stats.add(rec=loss_rec)
            loss_w = l1(E(x_rec).float(), w.detach().float())
            loss = adv + tc.lambda_l1 * loss_rec + tc.lambda_w * loss_w
            if tc.lambda_inv > 0:  # recipe: E inverts generated samples (gradient to E only)
                inv = l1(E(x_rand.detach()).float(), w_rand.detach().float())
                loss = loss + tc.lambda_inv * inv
                stats.add(w_inv=inv)
            if self.perceptual is not None:
                loss_p = self.perceptual(x_rec.float(), x)
                loss = loss + tc.lambda_perc * loss_p
                stats.add(perc=loss_p)
            if not tc.baseline and tc.lambda_cls > 0:
                kl = classifier_kl(logits_real, C(x_rec.float()))
                loss = loss + tc.lambda_cls * kl
                stats.add(kl=kl)
            if not tc.baseline and tc.lambda_cf > 0 and ramp > 0:
                x_cf = G.generate(w, c_shuf, noise_mode="const")
                cf = classifier_kl(logits_real[perm], C(x_cf.float()))
                loss = loss + tc.lambda_cf * ramp * cf
                stats.add(cf=cf)
            if not tc.baseline and tc.cond_sparsity > 0 and ramp > 0:
                lasso = group_lasso(G.condition_weights())
                loss = loss + tc.cond_sparsity * ramp * lasso
                stats.add(cond_lasso=lasso)
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_e.zero_grad(set_to_none=True)
        loss.backward()
        distr.average_gradients(G.parameters(), self.dist)
        distr.average_gradients(E.parameters(), self.dist)
        self.opt_g.step()
        self.opt_e.step()
        stats.add(loss_g=loss, adv=adv, l1=loss_l1, w_rec=loss_w)
        self._update_ema(step)
        return stats.values

    @torch.no_grad()
    def _track_w_avg(self, w: torch.Tensor) -> None:
        """Running mean of w for truncation, averaged over ranks so they stay identical."""
        mean = distr.all_reduce_mean_tensor(w.detach().float().mean(0), self.dist)
        self.G.w_avg.copy_(mean.lerp(self.G.w_avg, self.gen_cfg.w_avg_beta))

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
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Classifier consistency and L1 of EMA reconstructions on the fixed held-out batch."""
        x = self.eval_x
        logits = self.classifier(x).float()
        c = self._condition(logits)
        w = self.E_ema(x)
        rec = self.G_ema.generate(w, c, noise_mode="const").clamp(-1, 1)
        p, q = torch.softmax(logits, 1), torch.softmax(self.classifier(rec).float(), 1)
        out = {
            "consistency": float((p.argmax(1) == q.argmax(1)).float().mean()),
            "prob_diff": float((p - q).abs().max(1).values.mean()),
            "rec_l1": float((rec - x).abs().mean()),
        }
        if c is not None:
            # the condition's control: reconstructions under the condition of another image
            # (rolled by one) that take that image's class
            from stylex.metrics.fitness.checks import condition_swap

            pred = p.argmax(1).cpu()
            prev = torch.arange(len(pred)).roll(1)
            donors = torch.where(pred[prev] != pred, prev, -1)
            flip = condition_swap(self.G_ema, self.classifier, w, c, pred, donors)
            if flip is not None:
                out["cond_flip"] = flip
            out.update(self.G_ema.condition_usage())
        return out

    def _evaluate_and_log(self, **extra: Any) -> dict[str, float]:
        result = self.evaluate()
        self._log({"step": self.step, **extra, **{f"eval_{k}": v for k, v in result.items()}})
        return result

    @torch.no_grad()
    def save_samples(self, step: int) -> Path:
        """Grid: 2 rows of random samples (fixed z), then originals above reconstructions."""
        n = min(8, len(self.eval_x))
        x = self.eval_x[:n]
        logits = self.classifier(x).float()
        c = self._condition(logits)
        gen = torch.Generator().manual_seed(1234)
        z = torch.randn(2 * n, self.gen_cfg.z_dim, generator=gen).to(self.device)
        cs = None if c is None else torch.cat([c, c.flip(0)])
        rand = self.G_ema(z, cs, noise_mode="const").clamp(-1, 1)
        rec = self.G_ema.generate(self.E_ema(x), c, noise_mode="const").clamp(-1, 1)
        grid = make_grid(torch.cat([rand, x, rec]).cpu(), nrow=n)
        return save_png(grid, self.run_dir / "samples" / f"step-{step:07d}.png", scale=2)

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

    def load_weights(self, run_dir: str | Path) -> None:
        """Start from another run's exported weights: its (EMA) generator and encoder become
        both the trained and the EMA copies here; its discriminator too when it has one."""
        from stylex.models.io import load_state

        run_dir = Path(run_dir)
        for name, (live, ema) in {
            "generator": (self.G, self.G_ema),
            "encoder": (self.E, self.E_ema),
        }.items():
            path = run_dir / f"{name}.safetensors"
            if not path.is_file():
                raise RunError(f"--init-from {run_dir}: {path.name} missing")
            load_state(live, path)
            ema.load_state_dict(live.state_dict())
        d_path = run_dir / "discriminator.safetensors"
        if d_path.is_file():
            load_state(self.D, d_path)
        elif self.dist.is_main:
            print(f"note: {run_dir} has no discriminator; it starts from random weights")
        distr.broadcast_params([self.G, self.D, self.E, self.G_ema, self.E_ema], self.dist)

    def load_checkpoint(self, path: Path) -> None:
        state = ckpt.read_checkpoint(path, self.modules())
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_e.load_state_dict(state["opt_e"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])

    def _log(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        if self._log_file is None:
            self._log_file = open(self.run_dir / "log.jsonl", "a")  # noqa: SIM115
        self._log_file.write(json.dumps(record) + "\n")
        self._log_file.flush()
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # tensorboard not installed: JSON-lines log only
                self._tb = False
        if self._tb:
            for k, v in record.items():
                if k != "step" and isinstance(v, float | int):
                    self._tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._tb:
            self._tb.flush()
            self._tb.close()
            self._tb = None

    # ----------------------------------------------------------------------------- the loop
    def _host_read_due(self, total: int) -> bool:
        """Whether anything after the step just taken needs the step values (or must not run
        after a non-finite step): a log line, an evaluation, samples or a checkpoint."""
        tc, n = self.tc, self.step
        every = (tc.log_every, tc.eval_every, tc.sample_every, tc.checkpoint_every)
        return n == total or any(n % k == 0 for k in every)

    def _read_window(self, window: StepWindow) -> dict[str, float]:
        """The last step's values as floats; raises :class:`TrainingDiverged` if any step of the
        window had a non-finite value."""
        stats, bad = window.read()
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
        from tqdm.auto import tqdm

        total = self.tc.steps if steps is None else steps
        tc = self.tc
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
                    stats = self._read_window(window)
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
                        d=f"{stats['loss_d']:.2f}",
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


# --------------------------------------------------------------------------------- entry points
def _prepare_data(
    spec: str, resolution: int | None, channels: int | None, val_fraction: float, seed: int
):
    from stylex.data import load_dataset

    ds = load_dataset(spec, resolution=resolution, channels=channels, seed=seed)
    train, val = ds.split(val_fraction, seed=seed)
    return ds, train, val


def create_run(
    out: str | Path,
    data: str,
    classifier: str,
    *,
    resolution: int | None = None,
    channels: int | None = None,
    train: TrainConfig | None = None,
    size: ModelSize | None = None,
    val_fraction: float = 0.1,
    device: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    init_from: str | Path | None = None,
    contract: dict | None = None,
    force: bool = False,
) -> Trainer:
    """Set up a new run folder (config.json, classifier copy) and return its Trainer.

    ``init_from``: a trained run folder whose generator, encoder and discriminator weights start
    this run (fine-tuning, fresh optimisers); its generator config replaces ``size``.
    ``contract``: classifier contract fields over the classifier's own (the resolved contract
    is stored in the run). The classifier is checked against the data
    (:func:`stylex.classifier_check.diagnose_classifier`): data whose class names are the
    classifier's in another order is used in the classifier's order (``config.json`` then
    holds the re-ordered spec), and a classifier at chance, with a reversed class order or a
    contract that another one beats by far raises :class:`ClassifierError` unless ``force``.
    """
    from stylex.classifier import load_classifier
    from stylex.classifier_check import class_order_spec, diagnose_classifier, match_class_order
    from stylex.errors import ClassifierError

    out = Path(out)
    source = None
    if init_from is not None:
        from stylex.run import read_run_config

        source = read_run_config(init_from)
    tc = train or TrainConfig()
    size = size or ModelSize()
    dev, info = _device_and_ranks(device)
    if (out / "config.json").exists() and not overwrite:
        raise RunError(f"{out} already holds a run: use --resume to continue it, or another --out")
    ds, train_set, val_set = _prepare_data(data, resolution, channels, val_fraction, tc.seed)
    clf = load_classifier(classifier, contract=contract, device=dev)
    given_spec, order = data, match_class_order(clf.class_names, ds.class_names)
    if order is not None:
        mapped = class_order_spec(data, order)
        if mapped is not None:
            ds, train_set, val_set = _prepare_data(
                mapped, resolution, channels, val_fraction, tc.seed
            )
        if mapped is None or ds.class_names != order:
            raise ClassifierError(
                f"the classifier's classes are {clf.class_names} but {data}'s are "
                f"{ds.class_names}: same names in another order; select the classes in the "
                f"classifier's order (DATA:{','.join(order)})"
            )
        data = mapped
        if info.is_main:
            print(
                f"classes: {given_spec} is used in the classifier's order "
                f"({', '.join(order)}) as {mapped}"
            )
    check = diagnose_classifier(clf, ds)
    if info.is_main:
        print(f"classifier check: {check.message}")
    if not force:
        check.raise_unless_fit("(--force trains anyway)")
    gen_cfg = GeneratorConfig(
        resolution=ds.resolution,
        img_channels=ds.channels,
        cond_dim=0 if tc.baseline else clf.num_classes,
        z_dim=size.w_dim,
        w_dim=size.w_dim,
        mapping_layers=size.mapping_layers,
        channel_base=size.channel_base,
        channel_max=size.channel_max,
    )
    if source is not None:
        gen_cfg = _init_generator_config(source, gen_cfg, init_from)
    config = {
        "format_version": RUN_FORMAT_VERSION,
        "stylex_version": _version(),
        "data": {
            "spec": data,
            "resolution": ds.resolution,
            "channels": ds.channels,
            "val_fraction": val_fraction,
            "seed": tc.seed,
            "num_images": len(ds),
            "class_names": list(ds.class_names),
            **({"spec_given": given_spec} if given_spec != data else {}),
        },
        "classifier": {
            "file": "classifier.pt",
            "source": str(classifier),
            "class_names": list(clf.class_names),
            "contract": clf.contract.to_dict(),
            "check": {k: getattr(check, k) for k in ("verdict", "accuracy", "num_images")},
        },
        "generator": gen_cfg.to_dict(),
        "train": tc.to_dict(),
    }
    if source is not None:
        config["init_from"] = {
            "run": str(init_from),
            "data": source["data"]["spec"],
            "train": source["train"],
            "history": source.get("history", []),
        }
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _copy_classifier(classifier, clf, out / "classifier.pt")
        atomic_write_json(out / "config.json", config)
    distr.barrier(info)
    trainer = Trainer(out, config, (train_set, val_set), clf, dev, info, progress)
    if init_from is not None:
        trainer.load_weights(init_from)
    return trainer


def _init_generator_config(
    source: dict[str, Any], wanted: GeneratorConfig, init_from: str | Path
) -> GeneratorConfig:
    """The source run's generator config, checked against the data, classifier and mode."""
    src = GeneratorConfig.from_dict(source["generator"])
    for key in ("resolution", "img_channels", "cond_dim"):
        a, b = getattr(src, key), getattr(wanted, key)
        if a != b:
            raise RunError(
                f"--init-from {init_from}: its generator has {key}={a}, this run needs {b} "
                "(same resolution, image channels, classes and --baseline setting required)"
            )
    return src


def resume_run(
    out: str | Path, steps: int | None = None, device: str | None = None, progress: bool = True
) -> Trainer:
    """Re-open a run folder and load its newest complete checkpoint (if any)."""
    from stylex.classifier import load_classifier
    from stylex.run import read_run_config

    out = Path(out)
    config = read_run_config(out)
    if steps is not None:
        config["train"]["steps"] = steps
    dev, info = _device_and_ranks(device)
    d = config["data"]
    _, train_set, val_set = _prepare_data(
        d["spec"], d["resolution"], d["channels"], d["val_fraction"], d["seed"]
    )
    clf = load_classifier(str(out / config["classifier"]["file"]), device=dev)
    trainer = Trainer(out, config, (train_set, val_set), clf, dev, info, progress)
    if info.is_main:
        ckpt.clean_partial(out)
    distr.barrier(info)
    latest = ckpt.latest_checkpoint(out)
    if latest is not None:
        trainer.load_checkpoint(latest)
        if info.is_main:
            print(f"resuming {out} from step {trainer.step} ({latest.name})")
    if steps is not None and info.is_main:
        atomic_write_json(out / "config.json", config)
    return trainer


def _device_and_ranks(device: str | None) -> tuple[torch.device, distr.DistInfo]:
    """The device, and the process group when launched by torchrun (one GPU per local rank)."""
    dev = resolve_device(device)
    info = distr.init_from_env(dev.type)
    if info.enabled and dev.type == "cuda":
        dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
    return dev, info


def _copy_classifier(source: str, clf, dest: Path) -> None:
    """Keep the run self-contained: a TorchScript copy of the classifier with its resolved
    contract (the file as is when its embedded contract is already that one)."""
    from stylex.classifier import load_classifier, save_torchscript

    if Path(source).is_file():
        stored = load_classifier(source).contract
        if stored == clf.contract:
            shutil.copyfile(source, dest)
            return
    save_torchscript(clf.module, clf.contract, dest)  # module:callable, or a new contract


def _version() -> str:
    from stylex import __version__

    return __version__
