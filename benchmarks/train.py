"""Training speed at 32 px: images/s and achieved fraction of the machine's FLOP limit.

Two steps are timed:

* **plain**: a StyleGAN2 step of ours (D step on real + fake, G step; no encoder, no
  classifier, no R1 in the timed step) at 512 channels — comparable with the peer numbers in
  PEER-BENCHMARKS.md (StyleGAN2-ADA 10.5 s at batch 16);
* **stylex**: the full StylEx step (both branches, encoder, reconstruction, perceptual, KL) of
  :class:`stylex.training.trainer.Trainer` at the demo's width.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on the same step.
Run: ``.venv/bin/python benchmarks/train.py [--batch 16 32] [--precision fp32 bf16]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from _common import matmul_gflops  # noqa: E402

from stylex.models import GeneratorConfig  # noqa: E402
from stylex.runtime import allocator_tuned  # noqa: E402
from stylex.training.losses import d_logistic_loss, g_nonsaturating_loss  # noqa: E402
from stylex.training.trainer import build_models  # noqa: E402


def plain_step_fn(channels: int, batch: int, precision: str):
    cfg = GeneratorConfig(resolution=32, img_channels=3, channel_base=channels * 32,
                          channel_max=channels)
    g, d, _ = build_models(cfg, 0)
    opt_g = torch.optim.Adam(g.parameters(), lr=0.002, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=0.002, betas=(0.0, 0.99))
    real = torch.randn(batch, 3, 32, 32)
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" \
        else nullcontext

    def step():
        z = torch.randn(batch, cfg.z_dim)
        g.requires_grad_(False)
        d.requires_grad_(True)
        with ctx():
            with torch.no_grad():
                fake = g(z)
            loss = d_logistic_loss(d(real).float(), d(fake).float())
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        g.requires_grad_(True)
        d.requires_grad_(False)
        with ctx():
            loss = g_nonsaturating_loss(d(g(z)).float())
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    return step


def stylex_step_fn(width: int, batch: int, precision: str):
    import tempfile

    from stylex.classifier import ClassifierContract, build_small_cnn, save_torchscript
    from stylex.training import TrainConfig
    from stylex.training.trainer import ModelSize, create_run

    tmp = Path(tempfile.mkdtemp())
    clf = build_small_cnn(1, 2, 32)
    save_torchscript(clf, ClassifierContract(channels=1, resolution=32, class_names=["a", "b"]),
                     tmp / "clf.pt")
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp / "d.npz", images=rng.integers(0, 255, (512, 32, 32), dtype=np.uint8),
             labels=np.arange(512) % 2)
    tc = TrainConfig(batch=batch, precision=precision, checkpoint_every=10**9)
    tr = create_run(tmp / "run", str(tmp / "d.npz"), str(tmp / "clf.pt"), train=tc,
                    size=ModelSize(channel_max=width, w_dim=width), device="cpu",
                    progress=False, force=True)  # an untrained classifier on random data
    counter = iter(range(1, 10**9))  # odd steps: no R1 (r1_every=16 → only step 0, 16, …)

    def step():
        s = next(counter)
        if s % tc.r1_every == 0:
            s = next(counter)
        tr.train_step(s)

    return step


def measure(step, repeat: int) -> tuple[float, float]:
    step()  # warm-up
    with FlopCounterMode(display=False) as fc:
        step()
    flops = fc.get_total_flops()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return min(times), flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--plain-channels", type=int, default=512)
    ap.add_argument("--width", type=int, default=128, help="StylEx step width (demo: 128)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-plain", action="store_true")
    args = ap.parse_args()
    peak = matmul_gflops()
    print(f"threads={torch.get_num_threads()} allocator_tuned={allocator_tuned()} "
          f"large fp32 matmul={peak:.0f} GFLOP/s")
    print(f"{'step':>7} {'width':>5} {'prec':>5} {'batch':>5} {'s/step':>7} {'img/s':>7} "
          f"{'GFLOP/step':>10} {'GFLOP/s':>8} {'of matmul':>9}")
    for prec in args.precision:
        for b in args.batch:
            runs = [] if args.skip_plain else [("plain", args.plain_channels,
                                                 plain_step_fn(args.plain_channels, b, prec))]
            runs.append(("stylex", args.width, stylex_step_fn(args.width, b, prec)))
            for name, width, fn in runs:
                t, flops = measure(fn, args.repeat)
                gf = flops / t / 1e9
                print(f"{name:>7} {width:>5} {prec:>5} {b:>5} {t:>7.2f} {b / t:>7.1f} "
                      f"{flops / 1e9:>10.1f} {gf:>8.0f} {gf / peak:>9.0%}", flush=True)


if __name__ == "__main__":
    main()
