"""AttFind speed: the reference loop vs the exact fast path vs screening, and agreement.

Run: ``.venv/bin/python benchmarks/attfind.py`` (defaults: the demo's size, 32 px, width 128,
w_dim 128, random weights, a small CNN classifier, 2 classes). Prints seconds per image for

* the reference loop (one edit → one full synthesis + classification), on ``--ref-images``;
* the exact fast path, on ``--num-images`` (its Δ is checked against the reference's);
* screening (first-order ranking + exact Δ of the candidates), on ``--num-images``;

the ratios to the reference, and screening's agreement with exact mode: the share of the exact
top-k (layer, channel, direction) per class that screening also returns. Style min/max come from
``--num-images`` images for all three. ``--run RUN`` uses a trained run (its first held-out
images) instead of random weights: agreement on a trained model is what matters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import matmul_gflops  # noqa: E402

from stylex.attfind import (  # noqa: E402
    AttFind,
    EditContext,
    Effects,
    agreement,
    fast_effects,
    first_order_effects,
    reference_effects,
    screen_candidates,
    select_attributes,
    style_bounds,
)
from stylex.attfind.screen import refine_candidates  # noqa: E402
from stylex.runtime import allocator_tuned  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def random_setup(args, device):
    from stylex.classifier import build_small_cnn
    from stylex.models import Generator, GeneratorConfig

    torch.manual_seed(args.seed)
    k = args.classes
    g = Generator(
        GeneratorConfig(
            resolution=args.resolution,
            img_channels=args.img_channels,
            cond_dim=k,
            z_dim=args.w_dim,
            w_dim=args.w_dim,
            mapping_layers=4,
            channel_max=args.channels,
        )
    )
    g = g.to(device).eval().requires_grad_(False)
    clf = build_small_cnn(args.img_channels, k, args.resolution).to(device).eval()
    clf.requires_grad_(False)
    with torch.no_grad():
        z = torch.randn(args.num_images, args.w_dim, device=device)
        c = torch.softmax(torch.randn(args.num_images, k, device=device) * 2, dim=1)
        styles = g.styles(g.map(z), c)
        # centre the random classifier on these images so that every class is predicted
        logits = clf(g.synthesize(styles).clamp(-1, 1))
        clf.head.bias -= logits.median(dim=0).values
    return g, clf, styles, [str(i) for i in range(k)]


def run_setup(args, device):
    from stylex.run import Run

    run = Run.load(args.run, device=device, discriminator=False)
    ds = run.dataset("val")
    n = min(args.num_images, len(ds))
    styles, _ = AttFind(run, progress=False).encode(ds.float_images(slice(0, n)).to(device))
    return run.generator, run.classifier, styles, run.class_names


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", default=None, help="a trained run folder instead of random weights")
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--channels", type=int, default=128, help="channel_max (width)")
    ap.add_argument("--w-dim", type=int, default=128)
    ap.add_argument("--img-channels", type=int, default=1)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument(
        "--num-images",
        type=int,
        default=32,
        help="images for style min/max, the fast path, screening and agreement",
    )
    ap.add_argument("--ref-images", type=int, default=1, help="images for the reference loop")
    ap.add_argument(
        "--ref-fraction",
        type=float,
        default=1.0,
        help="time the reference on this fraction of the pairs (extrapolated)",
    )
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument(
        "--candidates",
        type=int,
        nargs="+",
        default=[10, 20, 30],
        help="screening candidates per class (one screening run per value)",
    )
    ap.add_argument(
        "--pool",
        type=int,
        default=0,
        help="two-stage screening: first-order pool per class, refined by the "
        "exact Δ on --subset images (0: skip the two-stage runs)",
    )
    ap.add_argument(
        "--subset",
        type=int,
        default=None,
        help="two-stage screening: images for the exact re-ranking (default N/8, "
        "the ratio of the API's default 32 of 256)",
    )
    ap.add_argument("--shift-size", type=float, default=1.0)
    ap.add_argument("--include-rgb", action="store_true")
    ap.add_argument("--batch", type=int, default=None, help="fast path rows per forward")
    ap.add_argument(
        "--max-flip-fraction",
        type=float,
        default=None,
        help="unstable-image rule for the selections (default: keep all)",
    )
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g, clf, styles, names = (run_setup if args.run else random_setup)(args, device)
    space = g.style_space(include_rgb=args.include_rgb)
    flat = space.flatten(styles)
    lo, hi = style_bounds(flat)
    n = flat.shape[0]
    s = space.total
    subset = args.subset or max(2, n // 8)
    what = args.run or (
        f"random G {args.resolution} px, width {args.channels}, "
        f"w_dim {args.w_dim}, small CNN, K={args.classes}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    peak = matmul_gflops(2048, device=str(device)) if device.type == "cpu" else float("nan")
    print(
        f"device={device} threads={torch.get_num_threads()} "
        f"allocator_tuned={allocator_tuned()} load_avg_1min={load:.1f} "
        f"fp32 matmul={peak:.0f} GFLOP/s; G synthesis {g.flops_per_image() / 1e9:.2f} GFLOP/img"
    )
    print(
        f"{what}: S={s} coordinates ({2 * s} edits per image), N={n} images, "
        f"shift={args.shift_size}"
    )
    # What exact reuse can save at most: an edit of layer l must re-run layers ≥ l (their convs
    # see a changed input); only the layers before l are shared. The reference pays the full
    # synthesis per edit. (Classifier and elementwise work ignored.)
    per_layer = g.layer_flops()
    downstream = [sum(per_layer[layer:]) for layer in space.layers]
    mean_down = sum(n_c * f for n_c, f in zip(space.sizes, downstream)) / s
    bound = sum(per_layer) / mean_down
    print(
        f"FLOP bound of exact reuse: an edit re-runs {mean_down / 1e9:.3f} of "
        f"{sum(per_layer) / 1e9:.3f} GFLOP on average → at most {bound:.2f}× fewer FLOPs than the "
        "reference; beyond that, exact speed-ups come only from running the same FLOPs faster "
        "(batching)"
    )
    if device.type == "cpu" and load > 0.5:
        print(
            f"warning: the machine is busy (load {load:.1f} before this run): other processes' "
            "threads make small batch-1 ops (the reference loop) much slower, which inflates "
            "every ratio; compare runs taken at load ≈ 0"
        )

    # -- reference loop
    nr = min(args.ref_images, n)
    ref_styles = [t[:nr] for t in styles]
    mask = None
    if args.ref_fraction < 1:
        step = max(1, round(1 / args.ref_fraction))
        mask = torch.zeros(2, s, dtype=torch.bool)
        mask[:, ::step] = True
    scale = (2 * s) / (int(mask.sum()) if mask is not None else 2 * s)
    ctx = EditContext(g, clf, space, lo, hi, args.shift_size)
    reference_effects(
        ctx, [t[:1] for t in styles], computed=torch.eye(2, s, dtype=torch.bool)
    )  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    ref_delta, _ = reference_effects(ctx, ref_styles, computed=mask)
    _sync(device)
    t_ref = (time.perf_counter() - t0) / nr * scale

    # -- exact fast path
    fast_effects(
        ctx, [t[:1] for t in styles], computed=torch.eye(2, s, dtype=torch.bool), batch=args.batch
    )  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    delta, base = fast_effects(ctx, styles, batch=args.batch)
    _sync(device)
    t_fast = (time.perf_counter() - t0) / n
    cmp = ref_delta if mask is None else ref_delta[:, mask]
    got = delta[:nr] if mask is None else delta[:nr][:, mask]
    err = float((cmp - got).abs().max())

    def effects(d, computed=None):
        return Effects(
            d,
            base,
            lo.cpu(),
            hi.cpu(),
            flat.cpu(),
            torch.arange(n),
            [str(i) for i in range(n)],
            space.layers,
            space.sizes,
            args.include_rgb,
            args.shift_size,
            names,
            computed,
        )

    exact_sel, unstable = select_attributes(
        effects(delta), args.top_k, max_flip_fraction=args.max_flip_fraction
    )

    print(f"\n{'mode':<26} {'s/img':>9} {'× reference':>12} {'pairs/img':>10} {'agreement':>10}")
    print(f"{'reference loop':<26} {t_ref:>9.3f} {1.0:>12.1f} {2 * s:>10}")
    print(
        f"{'exact fast path':<26} {t_fast:>9.3f} {t_ref / t_fast:>12.1f} {2 * s:>10} {1.0:>10.0%}"
    )
    variants = [(c, 0) for c in args.candidates]
    if args.pool:
        variants += [(c, args.pool) for c in args.candidates]
    for cand, pool in variants:
        _sync(device)
        t0 = time.perf_counter()
        est, base_est = first_order_effects(ctx, styles)
        if pool:
            pool_mask, _ = screen_candidates(
                est, base_est, pool, max_flip_fraction=args.max_flip_fraction
            )
            computed = refine_candidates(
                ctx, styles, pool_mask, cand, subset=subset, batch=args.batch
            )
        else:
            computed, _ = screen_candidates(
                est, base_est, cand, max_flip_fraction=args.max_flip_fraction
            )
        _sync(device)
        t_rank = time.perf_counter() - t0
        d_scr, _ = fast_effects(ctx, styles, computed=computed, batch=args.batch)
        _sync(device)
        t_scr = (time.perf_counter() - t0) / n
        scr_sel, _ = select_attributes(
            effects(d_scr, computed), args.top_k, max_flip_fraction=args.max_flip_fraction
        )
        agree = agreement(exact_sel, scr_sel, args.top_k)
        label = (
            f"screen {pool}→{subset}img→{cand}/cls" if pool else f"screen first-order {cand}/cls"
        )
        print(
            f"{label:<26} {t_scr:>9.3f} {t_ref / t_scr:>12.1f} {int(computed.sum()):>10} "
            f"{agree:>10.0%}   (ranking {t_rank / n:.3f} s/img)"
        )
    print(
        f"\nmax |Δ_fast − Δ_reference| = {err:.2e} over {nr} image(s); "
        f"{int(unstable.sum())} unstable image(s); exact top-{args.top_k} per class: "
        + "; ".join(f"{c.name}: {len(c.attributes)} ({c.num_considered} imgs)" for c in exact_sel)
    )


if __name__ == "__main__":
    main()
