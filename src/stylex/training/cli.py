"""``stylex train``: train (or resume) a StylEx generator + encoder with a classifier."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from stylex.classifier.options import add_contract_arguments, contract_from_args
from stylex.data.spec import with_spec_option
from stylex.errors import StylexError
from stylex.metrics.fitness.store import fitness_after_training
from stylex.runtime import add_device_argument
from stylex.training import run_folder
from stylex.training.config import TrainConfig
from stylex.training.recipes import DEFAULT_RECIPE, RECIPES, recipe_config
from stylex.training.run_config import RunConfig
from stylex.training.setup import resume_run


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        help="dataset: a path or a built-in name (e.g. fashion-mnist:"
        "sneaker,ankle-boot); a folder of images without class sub-folders is unlabelled "
        "data, labelled by the classifier's predictions; not needed with --resume",
    )
    p.add_argument(
        "--classifier", help="TorchScript file or module:callable; not needed with --resume"
    )
    p.add_argument("--out", required=True, help="run folder to create (or resume)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of each class held out for AttFind, evaluation and the fitness verdict "
        "(default 0.1)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable image files in a folder or CSV dataset (the run's stored data "
        "spec gets ?skip_bad=1, so later stages read the same images)",
    )
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="image size (power of two, 16..256); default: from the data",
    )
    p.add_argument(
        "--channels",
        type=int,
        default=None,
        choices=[1, 3],
        help="image channels; default: from the data",
    )
    p.add_argument("--steps", type=int, default=None, help="total training steps")
    p.add_argument("--batch", type=int, default=None, help="global batch size")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="train without the classifier (plain StyleGAN2 + encoder)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last complete checkpoint",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="RUN",
        help="start from this trained run's weights (fine-tuning; its model size is used)",
    )
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="max feature-map width (default: 256 on a GPU; on a CPU 64 up to 32 px, 128 at "
        "64 px, 256 above)",
    )
    p.add_argument("--w-dim", type=int, default=None, help="size of w and z (default: --width)")
    p.add_argument("--mapping-layers", type=int, default=4)
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MIN",
        help="stop (with a checkpoint) after this many minutes",
    )
    add_device_argument(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--recipe",
        default=None,
        choices=sorted(RECIPES),
        help=f"preset of the options below (default {DEFAULT_RECIPE}; 'paper' = plain StylEx); "
        "options given explicitly override it",
    )
    preset = RECIPES[DEFAULT_RECIPE]
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("steps", "batch", "baseline", "recipe"):
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = type(f.default)
        # a bare --flag means true
        extra: dict[str, Any] = {"nargs": "?", "const": True} if kind is bool else {}
        shown = f"{preset[f.name]}; paper: {f.default}" if f.name in preset else f.default
        p.add_argument(
            flag,
            type=kind if kind is not bool else _bool,
            default=None,
            help=f"(default {shown})",
            **extra,
        )
    p.add_argument(
        "--force",
        action="store_true",
        help="train even when the classifier check fails (accuracy at chance, class order "
        "reversed, or another contract far more accurate)",
    )
    add_contract_arguments(p)


def _bool(v: str) -> bool:
    return v.lower() in ("1", "true", "yes", "on")


def run(args: argparse.Namespace) -> int:

    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name not in ("steps", "batch", "baseline", "recipe")
        and getattr(args, f.name, None) is not None
    }
    if args.resume and args.init_from:
        raise StylexError("--init-from starts a new run; it cannot be combined with --resume")
    contract = contract_from_args(args)
    if args.resume and contract:
        raise StylexError(
            "--resume uses the contract stored in the run; contract options start a new run"
        )
    if args.resume:
        ignored = [f"--{k.replace('_', '-')}" for k in overrides]
        ignored += ["--batch"] if args.batch is not None else []
        if ignored:
            print(
                f"warning: {', '.join(ignored)} ignored: a resumed run keeps the options it was "
                "started with (start a new run, or one with --init-from, to change them)",
                file=sys.stderr,
            )
        trainer = resume_run(
            args.out, steps=args.steps, device=args.device, progress=not args.no_progress
        )
    else:
        if not args.data or not args.classifier:
            raise StylexError("--data and --classifier are required for a new run")
        if args.init_from and "encoder_features" not in overrides:
            # a fine-tune keeps the source's encoder kind unless one is asked for (RunError
            # when --init-from is not a run)
            overrides["encoder_features"] = RunConfig.read(args.init_from).train.encoder_features
        tc = recipe_config(
            args.recipe or DEFAULT_RECIPE,
            **{
                **overrides,
                **({"steps": args.steps} if args.steps is not None else {}),
                **({"batch": args.batch} if args.batch is not None else {}),
                "baseline": args.baseline,
            },
        )
        # widths not given: the run's default size (resolution and device)
        sizes = {"channel_max": args.width, "w_dim": args.w_dim or args.width}
        size = {k: v for k, v in sizes.items() if v is not None}
        size["mapping_layers"] = args.mapping_layers
        trainer = run_folder.create_run(
            args.out,
            with_spec_option(args.data, "skip_bad", "1") if args.skip_bad else args.data,
            args.classifier,
            resolution=args.resolution,
            channels=args.channels,
            train=tc,
            size=size,
            device=args.device,
            progress=not args.no_progress,
            init_from=args.init_from,
            val_fraction=args.val_fraction,
            contract=contract,
            force=args.force,
        )
    limit = args.time_limit * 60 if args.time_limit else None
    result = trainer.train(time_limit_s=limit)
    if trainer.dist.is_main:
        print(f"run saved in {args.out} (step {trainer.step})")
        if result:
            print("held-out: " + ", ".join(f"{k}={v:.4f}" for k, v in result.items()))
        _print_fitness(args.out, args.device)
    return 0


def _print_fitness(run_dir: str, device: str) -> None:
    """The fitness verdict of the finished run, printed and written to RUN/fitness.json.
    A failure here never fails the (finished) training."""
    try:
        fitness = fitness_after_training(run_dir, device=device)
    except (StylexError, RuntimeError, ValueError, OSError) as e:
        print(f"fitness verdict not computed: {e}", file=sys.stderr)
        return
    print(fitness.format())
    if not fitness.fit:
        print(
            f"(written to {run_dir}/fitness.json; `stylex evaluate --run {run_dir}` adds the "
            "AttFind and factor checks)"
        )
