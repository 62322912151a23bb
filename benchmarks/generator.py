"""Generator forward speed: images/s at 32 and 64 px and achieved GFLOP/s vs large matmul.

Run: ``.venv/bin/python benchmarks/generator.py [--channels 512] [--batch 32]``. Importing
stylex applies the allocator fix (see stylex.runtime); the script prints whether it is active.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import matmul_gflops, timeit  # noqa: E402

from stylex.models import Generator, GeneratorConfig  # noqa: E402
from stylex.runtime import allocator_tuned  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--channels", type=int, nargs="+", default=[512, 128])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--modconv", nargs="+", default=["unfused", "fused"])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device
    peak = matmul_gflops(device=dev)
    print(f"device={dev} threads={torch.get_num_threads()} allocator_tuned={allocator_tuned()}")
    print(f"large fp32 matmul: {peak:.0f} GFLOP/s")
    print(
        f"{'res':>4} {'ch':>4} {'modconv':>8} {'batch':>5} {'img/s':>8} {'GFLOP/img':>9} "
        f"{'GFLOP/s':>8} {'of matmul':>9}"
    )
    for ch in args.channels:
        for res in args.resolutions:
            cfg = GeneratorConfig(
                resolution=res, img_channels=3, channel_base=ch * 64, channel_max=ch
            )
            g = Generator(cfg).to(dev).eval()
            z = torch.randn(args.batch, cfg.z_dim, device=dev)
            flops = g.flops_per_image()
            for mode in args.modconv:
                with torch.no_grad():
                    styles = g.styles(g.map(z))
                    fused = mode == "fused"
                    t = timeit(
                        lambda g=g, s=styles, f=fused: g.synthesize(s, fused=f), warmup=1, repeat=3
                    )
                ips = args.batch / t
                gf = flops * ips / 1e9
                print(
                    f"{res:>4} {ch:>4} {mode:>8} {args.batch:>5} {ips:>8.2f} {flops / 1e9:>9.2f} "
                    f"{gf:>8.0f} {gf / peak:>9.0%}"
                )


if __name__ == "__main__":
    main()
