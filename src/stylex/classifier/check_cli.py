"""``stylex check-classifier``: does a classifier fit the data under its contract?

Example::

    stylex check-classifier --data digits/ --classifier mlp.pt \\
        --input-range 0,1 --input-size 28 --input-channels 1 --class-names three,eight

Prints the resolved contract, the accuracy on a class-balanced sample, per-class accuracy and
the confusion matrix, the accuracy of cheap alternative contracts (when the accuracy is not
clearly good, or with ``--alternatives``) and a verdict (see :mod:`stylex.classifier.diagnose`).
Data with the classifier's class names in another order is used in the classifier's order.
Exit status 0 when the verdict is ``fit``, 1 otherwise. ``stylex train`` runs the same check.
"""

from __future__ import annotations

import argparse
import json

from stylex.classifier.options import add_contract_arguments, contract_from_args
from stylex.runtime import add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset: a path or a built-in (mnist:3,8)")
    p.add_argument("--classifier", required=True, help="TorchScript file or module:callable")
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="load the data at this size (as `stylex train --resolution`); default: native",
    )
    p.add_argument("--channels", type=int, choices=(1, 3), default=None, help="data channels")
    p.add_argument(
        "--num-images", type=int, default=256, help="class-balanced sample size (default 256)"
    )
    p.add_argument("--seed", type=int, default=0, help="which images are sampled")
    p.add_argument(
        "--alternatives",
        action="store_true",
        help="always try the alternative contracts (default: only when accuracy is not good)",
    )
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable image files")
    add_device_argument(p, default="cpu")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_contract_arguments(p)


def run(args: argparse.Namespace) -> int:
    from stylex.classifier.classorder import match_class_order, reorder_classes
    from stylex.classifier.diagnose import diagnose_classifier
    from stylex.classifier.loading import load_classifier
    from stylex.classifier.unlabelled import check_unlabelled
    from stylex.data import load_dataset
    from stylex.errors import StylexError
    from stylex.runtime import resolve_device

    if args.num_images < 2:
        raise StylexError("--num-images must be ≥ 2")
    contract = contract_from_args(args)
    ds = load_dataset(
        args.data, resolution=args.resolution, channels=args.channels, skip_bad=args.skip_bad
    )
    clf = load_classifier(args.classifier, contract=contract, device=resolve_device(args.device))
    if not ds.labelled:  # nothing to measure accuracy against: the structure and predictions
        _, check = check_unlabelled(clf, ds, num_images=args.num_images, seed=args.seed)
        print(json.dumps(check.to_dict(), indent=2) if args.json else check.format())
        return 0
    order = match_class_order(clf.class_names, ds.class_names)
    mapped = None
    if order is not None:
        mapped = (
            f"the data's classes ({', '.join(ds.class_names)}) are used in the classifier's "
            f"order ({', '.join(order)})"
        )
        ds = reorder_classes(ds, order)
    check = diagnose_classifier(
        clf, ds, num_images=args.num_images, seed=args.seed, alternatives=args.alternatives or None
    )
    if mapped:
        check.notes.insert(0, mapped)
    if args.json:
        print(json.dumps(check.to_dict(), indent=2))
    else:
        print(check.format())
    return 0 if check.fit else 1
