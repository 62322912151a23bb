"""``stylex evaluate``: faithfulness metrics of a run (and a baseline); writes
``RUN/metrics.json`` and prints a table."""

from __future__ import annotations

import argparse

from stylex.classifier.options import add_contract_arguments, contract_from_args
from stylex.runtime import add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder (trained, with attfind/)")
    p.add_argument(
        "--baseline",
        default=None,
        help="baseline run folder (same data and classifier, trained with --baseline; "
        "with its own attfind/)",
    )
    p.add_argument("--num-images", type=int, default=256, help="held-out images to use")
    add_device_argument(p)
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="images per forward pass (default: 64 on CPU, from free memory on a GPU)",
    )
    p.add_argument("--top-k", type=int, default=10, help="sufficiency for k = 1 … top-k")
    p.add_argument("--seed", type=int, default=0, help="seed of the random samples (FD)")
    p.add_argument(
        "--run-attfind",
        action="store_true",
        help="run AttFind (256 images, top 10) on a run that has no attfind/ yet",
    )
    p.add_argument("--probe-steps", type=int, default=600, help="factor probe training steps")
    p.add_argument(
        "--probe-images", type=int, default=4096, help="rendered images to train the probe on"
    )
    p.add_argument(
        "--gt-images",
        type=int,
        default=64,
        help="images per class for the attributes' factor changes",
    )
    p.add_argument("--no-perceptual", action="store_true", help="skip the perceptual distance")
    p.add_argument(
        "--compare",
        action="store_true",
        help="also run the gradient counterfactual baseline and print StylEx attributes, "
        "per-image counterfactuals, the gradient baseline and --baseline side by side",
    )
    p.add_argument(
        "--cf-images",
        type=int,
        default=64,
        help="held-out images for the counterfactual (field) metrics",
    )
    p.add_argument(
        "--no-counterfactual", action="store_true", help="skip the counterfactual metrics"
    )
    p.add_argument(
        "--gradient-space",
        default="w",
        choices=["w", "styles"],
        help="what the gradient baseline moves: the encoder's w or the style vectors",
    )
    p.add_argument(
        "--gradient-step",
        type=float,
        default=0.05,
        help="gradient baseline step, in units of the latents' RMS spread",
    )
    p.add_argument("--gradient-max-steps", type=int, default=40, help="gradient baseline bound")
    p.add_argument("--out", default=None, help="output file (default RUN/metrics.json)")
    p.add_argument("--no-progress", action="store_true")
    add_contract_arguments(p, overrides_run=True)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stylex.errors import StylexError
    from stylex.metrics.evaluate import evaluate
    from stylex.metrics.result import METRICS_FILE
    from stylex.metrics.table import format_table

    run_, contract = args.run, contract_from_args(args)
    if contract:  # the run's classifier with these contract fields over its stored ones
        from stylex.run import Run

        run_ = Run.load(args.run, device=args.device, discriminator=False, contract=contract)
    if args.num_images < 2 or args.top_k < 1 or (args.batch is not None and args.batch < 1):
        raise StylexError("--num-images must be ≥ 2, --top-k and --batch ≥ 1")
    if args.cf_images < 4 or not args.gradient_step > 0 or args.gradient_max_steps < 0:
        raise StylexError("--cf-images must be ≥ 4, --gradient-step > 0, --gradient-max-steps ≥ 0")
    metrics = evaluate(
        run_,
        args.baseline,
        num_images=args.num_images,
        batch=args.batch,
        max_k=args.top_k,
        seed=args.seed,
        device=args.device,
        perceptual=not args.no_perceptual,
        run_attfind=args.run_attfind,
        probe_steps=args.probe_steps,
        probe_images=args.probe_images,
        gt_images=args.gt_images,
        progress=not args.no_progress,
        out=args.out,
        counterfactual=not args.no_counterfactual,
        compare=args.compare,
        cf_images=args.cf_images,
        cf_options={
            "gradient_space": args.gradient_space,
            "gradient_step": args.gradient_step,
            "gradient_max_steps": args.gradient_max_steps,
        },
    )
    print(format_table(metrics))
    if metrics.get("counterfactual"):
        from stylex.metrics.field_table import format_field_table

        print()
        print(format_field_table(metrics))
    out = Path(args.out) if args.out else Path(args.run) / METRICS_FILE
    print(f"wrote {out} ({metrics['seconds']['total']:.1f} s)")
    return 0
