"""Training speed: images/s of the full StylEx step, achieved TFLOP/s, peak memory.

The step timed is :meth:`stylex.training.trainer.Trainer.train_step`: D step (both branches),
G+E step (both branches, reconstruction, perceptual term, classifier KL) and EMA, on random RGB
data with a small CNN classifier, at three sizes (default ``32:128,64:256,128:256`` =
resolution:width). Steps are timed back to back with one device synchronisation at the end
(the steady state of a run); the lazy R1 step is timed separately and amortised over
``r1_every`` = 16 steps. FLOPs of one (non-R1) step are counted with
``torch.utils.flop_counter.FlopCounterMode`` and set against a large matmul measured in the same
run (bf16 and fp32). Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA, peak RSS of a
fresh process per size on CPU.

Runs::

    .venv/bin/python benchmarks/train.py --device cuda            # < 5 min on one GPU
    .venv/bin/python benchmarks/train.py --device cpu --quick     # 32 and 64 px, a few minutes
    .venv/bin/python benchmarks/train.py --device cuda --compile --sizes 32:128

``--plain`` adds the older plain StyleGAN2 step (512 channels, 32 px; PEER-BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from _common import matmul_gflops  # noqa: E402

from stylex.runtime import allocator_tuned  # noqa: E402

DEFAULT_BATCH = {"cuda": {32: 64, 64: 64, 128: 32}, "cpu": {32: 16, 64: 8, 128: 4}}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_trainer(res: int, width: int, batch: int, args):
    import numpy as np

    from stylex.classifier import ClassifierContract, build_small_cnn, save_torchscript
    from stylex.training import TrainConfig
    from stylex.training.networks import ModelSize
    from stylex.training.run_folder import create_run

    tmp = Path(tempfile.mkdtemp(prefix="stylex-bench-"))
    clf = build_small_cnn(3, 2, res)
    contract = ClassifierContract(channels=3, resolution=res, class_names=["a", "b"])
    save_torchscript(clf, contract, tmp / "clf.pt")
    rng = np.random.default_rng(0)
    n = max(4 * batch, 64)
    np.savez(
        tmp / "d.npz",
        images=rng.integers(0, 255, (n, res, res, 3), dtype=np.uint8),
        labels=np.arange(n) % 2,
    )
    speed = {"compile": True} if args.compile else {}  # only when set: older trees lack them
    speed.update({"channels_last": True} if args.channels_last else {})
    tc = TrainConfig(batch=batch, precision=args.precision, checkpoint_every=10**9, **speed)
    return create_run(
        tmp / "run",
        str(tmp / "d.npz"),
        str(tmp / "clf.pt"),
        train=tc,
        size=ModelSize(channel_max=width, w_dim=width),
        device=args.device,
        progress=False,
        val_fraction=0.05,
        force=True,  # an untrained classifier on random data
    )


def measure_size(res: int, width: int, batch: int, args) -> dict:
    dev = args.device
    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    tr = make_trainer(res, width, batch, args)
    r1 = tr.tc.r1_every
    plain = [s for s in range(1, 10**6) if s % r1][: args.warmup + 1 + args.steps]
    t0 = time.perf_counter()
    for s in plain[: args.warmup]:
        tr.train_step(s)
    _sync(dev)
    warm_s = time.perf_counter() - t0
    with FlopCounterMode(display=False) as fc:
        tr.train_step(plain[args.warmup])
    flops = fc.get_total_flops()
    _sync(dev)
    t0 = time.perf_counter()
    for s in plain[args.warmup + 1 :]:
        tr.train_step(s)
    _sync(dev)
    t_step = (time.perf_counter() - t0) / args.steps
    tr.train_step(r1)  # R1 warm-up (double backward)
    _sync(dev)
    t0 = time.perf_counter()
    tr.train_step(2 * r1)
    _sync(dev)
    t_r1 = time.perf_counter() - t0
    t_amort = t_step + (t_r1 - t_step) / r1
    if dev.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "res": res,
        "width": width,
        "batch": batch,
        "precision": args.precision,
        "modconv": getattr(tr, "modconv", "auto"),
        "compile": args.compile,
        "channels_last": args.channels_last,
        "warmup_s": warm_s,
        "s_per_step": t_step,
        "r1_step_s": t_r1,
        "img_per_s": batch / t_amort,
        "gflop_per_step": flops / 1e9,
        "tflops": flops / t_step / 1e12,
        "peak_gib": peak,
    }


def plain_step(channels: int, batch: int, precision: str, device: str) -> dict:
    """The plain StyleGAN2 step (no encoder, classifier or R1) of earlier READMEs."""
    from stylex.models import GeneratorConfig
    from stylex.training.losses import d_logistic_loss, g_nonsaturating_loss
    from stylex.training.networks import build_models

    cfg = GeneratorConfig(
        resolution=32, img_channels=3, channel_base=channels * 32, channel_max=channels
    )
    g, d, _ = build_models(cfg, 0)
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=0.002, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=0.002, betas=(0.0, 0.99))
    real = torch.randn(batch, 3, 32, 32, device=device)
    dtype = "cuda" if device.startswith("cuda") else "cpu"
    amp = (
        (lambda: torch.autocast(dtype, dtype=torch.bfloat16))
        if precision == "bf16"
        else nullcontext
    )

    def step():
        z = torch.randn(batch, cfg.z_dim, device=device)
        g.requires_grad_(False)
        d.requires_grad_(True)
        with amp():
            with torch.no_grad():
                fake = g(z)
            loss = d_logistic_loss(d(real).float(), d(fake).float())
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        g.requires_grad_(True)
        d.requires_grad_(False)
        with amp():
            loss = g_nonsaturating_loss(d(g(z)).float())
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    step()
    with FlopCounterMode(display=False) as fc:
        step()
    _sync(device)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        step()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return {
        "s_per_step": best,
        "img_per_s": batch / best,
        "tflops": fc.get_total_flops() / best / 1e12,
    }


def _child(args) -> None:
    res, width, batch = args.one
    print("RESULT " + json.dumps(measure_size(res, width, batch, args)), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--sizes",
        default=None,
        help="resolution:width list (default 32:128,64:256,128:256; --quick: 32:128,64:256)",
    )
    ap.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=None,
        help="batch per size (default: cuda 64/64/32, cpu 16/8/4)",
    )
    ap.add_argument("--precision", default="auto", help="auto (bf16 on CUDA) | fp32 | bf16")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 10, cpu 3)")
    ap.add_argument("--warmup", type=int, default=None, help="default 3 (8 with --compile)")
    ap.add_argument("--quick", action="store_true", help="fewer steps, no 128 px")
    ap.add_argument("--compile", action="store_true", help="torch.compile the step's networks")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--plain", action="store_true", help="also the plain 512-ch StyleGAN2 step")
    ap.add_argument("--one", type=int, nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cpu = args.device == "cpu"
    if args.steps is None:
        args.steps = 2 if args.quick and cpu else (3 if cpu else 10)
    if args.warmup is None:
        args.warmup = 8 if args.compile else (1 if cpu else 3)
    if args.one:
        return _child(args)

    sizes = args.sizes or ("32:128,64:256" if args.quick else "32:128,64:256,128:256")
    sizes = [tuple(int(v) for v in s.split(":")) for s in sizes.split(",")]
    kind = "cpu" if cpu else "cuda"
    batches = args.batch or [DEFAULT_BATCH[kind].get(r, 16) for r, _ in sizes]
    if len(batches) == 1:
        batches = batches * len(sizes)
    t_all = time.perf_counter()
    mm_dev = "cpu" if cpu else args.device
    n = 4096 if cpu else 8192
    bf16 = matmul_gflops(n, mm_dev, torch.bfloat16) / 1e3
    fp32 = matmul_gflops(n, mm_dev, torch.float32) / 1e3
    name = torch.cuda.get_device_name() if not cpu else f"CPU, {torch.get_num_threads()} threads"
    prec = args.precision if args.precision != "auto" else ("fp32" if cpu else "bf16")
    peak = bf16 if prec == "bf16" else fp32
    print(f"device: {name}; torch {torch.__version__}; allocator_tuned={allocator_tuned()}")
    print(
        f"large matmul ({n}x{n}): bf16 {bf16:.2f} TFLOP/s, fp32 {fp32:.2f} TFLOP/s "
        f"(TF32 {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'})"
    )
    print(
        f"StylEx step (D + G/E, both branches, classifier KL, perceptual), precision {prec}, "
        f"compile={args.compile}, channels_last={args.channels_last}, {args.steps} timed "
        f"steps, R1 amortised over 16"
    )
    head = (
        f"{'res':>4} {'width':>5} {'batch':>5} {'modconv':>8} {'s/step':>7} {'R1 step':>7} "
        f"{'img/s':>8} {'GFLOP/step':>10} {'TFLOP/s':>8} {'of matmul':>9} "
        f"{'peak GiB':>8} {'warm-up s':>9}"
    )
    print(head, flush=True)
    for (res, width), b in zip(sizes, batches):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(res),
            str(width),
            str(b),
            "--device",
            args.device,
            "--precision",
            args.precision,
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
        ]
        cmd += ["--compile"] * args.compile + ["--channels-last"] * args.channels_last
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            print(
                f"{res:>4} {width:>5} {b:>5} FAILED (exit {proc.returncode}): "
                f"{proc.stderr.strip().splitlines()[-1:] or proc.stdout[-300:]}",
                flush=True,
            )
            continue
        r = json.loads(line[0][7:])
        print(
            f"{res:>4} {width:>5} {b:>5} {r['modconv']:>8} {r['s_per_step']:>7.3f} "
            f"{r['r1_step_s']:>7.3f} {r['img_per_s']:>8.1f} {r['gflop_per_step']:>10.1f} "
            f"{r['tflops']:>8.2f} {r['tflops'] / peak:>9.1%} {r['peak_gib']:>8.2f} "
            f"{r['warmup_s']:>9.1f}",
            flush=True,
        )
    if args.plain:
        for p in ("fp32", "bf16"):
            r = plain_step(512, 16, p, args.device)
            print(
                f"plain StyleGAN2 step, 32 px, 512 ch, batch 16, {p}: {r['s_per_step']:.2f} "
                f"s/step, {r['img_per_s']:.1f} img/s, {r['tflops']:.2f} TFLOP/s",
                flush=True,
            )
    print(f"total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
