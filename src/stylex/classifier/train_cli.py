"""``stylex train-classifier``: train the built-in small CNN and save it as TorchScript.

Example::

    stylex train-classifier --data fashion-mnist:sneaker,ankle-boot --out clf.pt

The file holds the model and its input contract (``stylex_contract.json``), so
``stylex train --classifier clf.pt`` needs nothing else. Prints the validation accuracy.
"""

from __future__ import annotations

import argparse
import json

from stylex.runtime import add_device_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        help="dataset spec: a path or a built-in "
        "(fashion-mnist:sneaker,ankle-boot, mnist:3,8, shapes, shapes:shape=circle)",
    )
    parser.add_argument("--out", required=True, help="output TorchScript file, e.g. clf.pt")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak Adam learning rate (2e-3)")
    parser.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="image size, a power of two in 16..256 (default: native, rounded up)",
    )
    parser.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="1 (grey) or 3 (RGB); default: the data's",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="fraction held out for validation (default 0.1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for split, init and order")
    add_device_argument(parser)
    parser.add_argument("--width", type=int, default=32, help="CNN base width (default 32)")
    parser.add_argument(
        "--augment",
        action="store_true",
        help="random +-2 px shifts (only if the label ignores exact position)",
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable image files (reported) instead of failing",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from stylex.classifier.training import train_classifier
    from stylex.data import load_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset(
        args.data,
        resolution=args.resolution,
        channels=args.channels,
        skip_bad=args.skip_bad,
        seed=args.seed,
    )
    if not args.json:
        counts = ", ".join(
            f"{n} {c}" for n, c in zip(dataset.class_names, dataset.class_counts(), strict=True)
        )
        print(
            f"data: {dataset.name}: {len(dataset)} images ({counts}), "
            f"{dataset.channels}x{dataset.resolution}x{dataset.resolution}"
            + (f"; skipped {len(dataset.skipped)} bad file(s)" if dataset.skipped else "")
        )
    result = train_classifier(
        dataset,
        args.out,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        augment=args.augment,
        width=args.width,
    )
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2))
    else:
        print(
            f"validation accuracy: {result['val_accuracy']:.2%} on {result['num_val']} images "
            f"(train {result['train_accuracy']:.2%}, {result['train_time_s']:.0f} s); "
            f"saved {result['path']}"
        )
    return 0
