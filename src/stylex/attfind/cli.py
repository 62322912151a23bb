"""``stylex attfind``: find a run's top attributes per class; writes ``RUN/attfind/``.

Multi-process: ``torchrun --nproc-per-node 2 -m stylex attfind --run RUN`` shards the images
across ranks; rank 0 writes the files.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from stylex.attfind.api import DEFAULT_CANDIDATES_PER_TOP_K
from stylex.attfind.effects import DEFAULT_INCLUDE_RGB
from stylex.attfind.select import DEFAULT_MAX_FLIP_FRACTION, DEFAULT_THRESHOLD
from stylex.classifier.options import add_contract_arguments, contract_from_args
from stylex.runtime import add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder (from `stylex train`)")
    p.add_argument(
        "--num-images",
        type=int,
        default=256,
        help="held-out images to analyse (the first N of --split)",
    )
    p.add_argument("--top-k", type=int, default=10, help="attributes per class")
    p.add_argument(
        "--shift-size",
        type=float,
        default=1.0,
        help="edit s ← s + shift·(target − s), target = min or max over the images",
    )
    p.add_argument(
        "--include-rgb",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_INCLUDE_RGB,
        help="also edit the toRGB layers' styles (default; --no-include-rgb: conv layers only)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="measure effects on softmax(logits / T); T > 1 for a classifier whose "
        "probabilities are saturated (decisions, hence flips, are unchanged)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--screen",
        action="store_true",
        help="screening (the default): rank all pairs by a first-order estimate, compute the "
        "exact effect of the best --candidates per class and select from those",
    )
    mode.add_argument(
        "--exact",
        action="store_true",
        help="compute the exact effect of every (coordinate, direction) pair (the paper's "
        "AttFind; 20-50x slower on CPU)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        default=None,
        help=f"screening: candidate pairs per class (default {DEFAULT_CANDIDATES_PER_TOP_K} × "
        "top-k; more is slower, safer)",
    )
    p.add_argument(
        "--d-filter",
        action="store_true",
        help="reject edits whose discriminator realness drops by more than "
        "--d-margin standard deviations",
    )
    p.add_argument("--d-margin", type=float, default=1.0)
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="greedy selection: per-image accumulated-effect threshold",
    )
    p.add_argument(
        "--both-directions",
        action="store_true",
        help="the colab's selection rule: a class may get both directions of one coordinate "
        "(which undo each other when its attributes are applied together); by default the "
        "other direction of a picked coordinate is not picked",
    )
    p.add_argument(
        "--no-joint-check",
        action="store_true",
        help="the colab's selection: keep a picked attribute even when, applied together with "
        "the class's earlier attributes, it flips fewer images than they did (by default it "
        "is rejected and the next best taken)",
    )
    p.add_argument(
        "--max-flip-fraction",
        type=float,
        default=DEFAULT_MAX_FLIP_FRACTION,
        help="drop images whose class flips under more than this fraction of edits (1 keeps all)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="edited images per forward pass (default: from a memory budget)",
    )
    p.add_argument("--images-per-chunk", type=int, default=16, help="images per resumable chunk")
    p.add_argument(
        "--no-resume", action="store_true", help="recompute everything (ignore RUN/attfind/partial)"
    )
    add_device_argument(p)
    p.add_argument("--split", default="val", choices=["val", "train", "all"])
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default RUN/attfind; with --classifier RUN/attfind-NAME)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--classifier",
        default=None,
        help="find the attributes of this classifier (TorchScript or module:callable) in the "
        "run's StyleSpace instead of the run's own; checked against the run's data",
    )
    p.add_argument("--force", action="store_true", help="use --classifier even if its check fails")
    add_contract_arguments(p, overrides_run=True)


def run(args: argparse.Namespace) -> int:
    from stylex.attfind.api import AttFind
    from stylex.errors import StylexError
    from stylex.run import Run

    if args.num_images < 1 or args.top_k < 1:
        raise StylexError("--num-images and --top-k must be ≥ 1")
    contract = contract_from_args(args)
    if args.candidates is not None and args.candidates < 1:
        raise StylexError("--candidates must be ≥ 1")
    if args.exact and args.candidates is not None:
        raise StylexError("--candidates applies to screening; drop it or --exact")
    screen = not args.exact
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        from stylex.metrics.fitness.store import warn_if_unfit

        warn_if_unfit(args.run)
    if args.classifier:
        from stylex.attfind.other import load_other_classifier

        run_ = Run.load(args.run, device=args.device, discriminator=args.d_filter)
        other, out = load_other_classifier(run_, args.classifier, contract, args.force, main)
    else:
        run_ = Run.load(
            args.run, device=args.device, discriminator=args.d_filter, contract=contract
        )
        other, out = None, Path(args.run) / "attfind"
    out = Path(args.out) if args.out else out
    af = AttFind(
        run_,
        classifier=other,
        shift_size=args.shift_size,
        temperature=args.temperature,
        include_rgb=args.include_rgb,
        batch=args.batch,
        progress=not args.no_progress and main,
        images_per_chunk=args.images_per_chunk,
    )
    result = af.attribute(
        num_images=args.num_images,
        top_k=args.top_k,
        screen=screen,
        candidates=args.candidates,
        threshold=args.threshold,
        max_flip_fraction=(None if args.max_flip_fraction >= 1 else args.max_flip_fraction),
        d_filter=args.d_filter,
        d_margin=args.d_margin,
        one_direction=not args.both_directions,
        joint=not args.no_joint_check,
        split=args.split,
        partial_dir=out / "partial",
        resume=not args.no_resume,
    )
    if main:
        if other is not None:
            from stylex.attfind.other import save_other_classifier

            result.config["classifier"] = args.classifier
            save_other_classifier(args.classifier, out, other)
        result.save(out)
        cfg = result.config
        mode = f"screening, {cfg['candidates']} candidates/class" if screen else "exact"
        print(
            f"AttFind ({mode}) on {result.effects.num_images} images, "
            f"{result.effects.num_coords} coordinates, {cfg['num_unstable']} unstable, "
            f"{cfg['seconds']:.1f} s"
        )
        print(result.table())
        print(f"wrote {out / 'attributes.json'} and {out / 'effects.safetensors'}")
    return 0
