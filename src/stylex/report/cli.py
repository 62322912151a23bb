"""``stylex report --run RUN [--baseline RUN2] [--out DIR]``: write ``RUN/report/index.html``."""

from __future__ import annotations

import argparse

from stylex.errors import StylexError
from stylex.metrics.fitness.store import warn_if_unfit
from stylex.report import ReportOptions, build_report
from stylex.runtime import add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--baseline", default=None, help="a baseline run shown side by side")
    p.add_argument("--out", default=None, help="output folder (default RUN/report)")
    p.add_argument("--top-k", type=int, default=5, help="attributes shown per class")
    p.add_argument("--num-images", type=int, default=6, help="image pairs per attribute view")
    p.add_argument("--num-explain", type=int, default=4, help="held-out images explained")
    p.add_argument(
        "--shift-size", type=float, default=None, help="attribute strength (default: AttFind's)"
    )
    add_device_argument(p)


def run(args: argparse.Namespace) -> int:

    for name in ("top_k", "num_images", "num_explain"):
        if getattr(args, name) < 1:
            raise StylexError(f"--{name.replace('_', '-')} must be ≥ 1")
    warn_if_unfit(args.run)
    opts = ReportOptions(
        top_k=args.top_k,
        num_images=args.num_images,
        num_explain=args.num_explain,
        shift_size=args.shift_size,
    )
    res = build_report(args.run, args.baseline, args.out, opts, device=args.device)
    print(f"wrote {res.path} ({res.size_bytes / 1e6:.2f} MB) in {res.seconds:.1f} s")
    return 0
