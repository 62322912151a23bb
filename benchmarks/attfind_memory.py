"""AttFind memory on N = 2,000 images over the full StyleSpace at 64 px: peak RSS.

The Δ tensor [N, 2, S, K], the style statistics and the per-chunk activation caches are
allocated at full size; to keep the run short only a few (direction, coordinate) pairs per
layer are actually re-synthesised (``computed`` mask), which does not change what is held in
memory at once (edits are processed in bounded batches either way).

Run: ``.venv/bin/python benchmarks/attfind_memory.py [--num-images 2000] [--width 256]``.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from stylex.attfind import AttFind
from stylex.classifier import Classifier, ClassifierContract, build_small_cnn
from stylex.models import Encoder, EncoderConfig, Generator, GeneratorConfig
from stylex.run import Run


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--num-images", type=int, default=2000)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument(
        "--every-layer",
        action="store_true",
        help="compute one pair in every layer (default: first and last layer only)",
    )
    ap.add_argument("--include-rgb", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    r, k = args.resolution, 2
    g = Generator(
        GeneratorConfig(
            resolution=r,
            img_channels=3,
            cond_dim=k,
            z_dim=args.width,
            w_dim=args.width,
            mapping_layers=4,
            channel_max=args.width,
        )
    )
    e = Encoder(
        EncoderConfig(resolution=r, img_channels=3, w_dim=args.width, channel_max=args.width)
    )
    clf = Classifier(
        build_small_cnn(3, k, r),
        ClassifierContract(channels=3, resolution=r, class_names=["a", "b"]),
    )
    run = Run(
        path=None,
        config={"train": {}},
        generator=g.eval().requires_grad_(False),
        encoder=e.eval().requires_grad_(False),
        discriminator=None,
        classifier=clf,
        device=torch.device("cpu"),
    )
    images = torch.rand(args.num_images, 3, r, r) * 2 - 1
    base = peak_rss_mb()
    af = AttFind(run, include_rgb=args.include_rgb, progress=True)
    s = af.space.total
    computed = torch.zeros(2, s, dtype=torch.bool)
    offsets = af.space.offsets[:-1] if args.every_layer else [0, af.space.offsets[-2]]
    for off in offsets:  # the first layer re-runs the whole network: the largest caches
        computed[1, off] = True
    t = time.perf_counter()
    eff = af.effects(images, computed=computed, partial_dir=None, resume=False)
    took = time.perf_counter() - t
    delta_mb = eff.delta.numel() * eff.delta.element_size() / 2**20
    print(
        f"N={args.num_images} res={r} width={args.width} StyleSpace S={s} "
        f"(include_rgb={args.include_rgb}) classes={k}"
    )
    print(
        f"Δ tensor {tuple(eff.delta.shape)}: {delta_mb:.0f} MiB; "
        f"pairs computed {int(computed.sum())} of {2 * s}; {took:.0f} s"
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MiB (before AttFind: {base:.0f} MiB)")


if __name__ == "__main__":
    main()
