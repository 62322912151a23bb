"""``stylex demo``: the whole pipeline on built-in data, end to end, on a CPU.

Steps: classifier (shipped with the pretrained run, or trained) → StylEx model (a shipped
pretrained run copied into the output folder, or trained with ``--train``) → AttFind →
evaluate → HTML report. Prints where the report is and the headline numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from stylex import metrics as stylex_metrics
from stylex.attfind import AttFind
from stylex.classifier import train_classifier
from stylex.data import load_dataset
from stylex.errors import StylexError
from stylex.report import build_report
from stylex.run import Run
from stylex.runtime import add_device_argument
from stylex.training.recipes import DEFAULT_RECIPE, recipe_config
from stylex.training.run_folder import create_run

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class Task:
    name: str
    data: str
    pretrained: str | None  # folder name under stylex/pretrained/
    baseline: str | None
    description: str


TASKS = {
    "fashion-mnist": Task(
        "fashion-mnist",
        "fashion-mnist:sneaker,ankle-boot",
        "fashion-mnist",
        "fashion-mnist-baseline",
        "Fashion-MNIST sneaker vs ankle boot, 32 px grey",
    ),
    "shapes": Task(
        "shapes",
        "shapes",
        "shapes",
        "shapes-baseline",
        "synthetic shapes, label = hue < 0.5 (known factors), 32 px RGB",
    ),
    "mnist": Task("mnist", "mnist:3,8", None, None, "MNIST 3 vs 8, 32 px grey (trains)"),
    "fashion-mnist-4": Task(
        "fashion-mnist-4",
        "fashion-mnist:t-shirt,trouser,pullover,sneaker",
        None,
        None,
        "Fashion-MNIST, 4 classes (t-shirt, trouser, pullover, "
        "sneaker), one-vs-rest, 32 px grey (trains)",
    ),
    "fashion-mnist-10": Task(
        "fashion-mnist-10",
        "fashion-mnist",
        None,
        None,
        "Fashion-MNIST, all 10 classes, one-vs-rest, 32 px grey (trains)",
    ),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task",
        default="fashion-mnist",
        choices=sorted(TASKS),
        help="built-in task (default fashion-mnist: sneaker vs ankle boot)",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="train the classifier and the StylEx model from scratch instead of "
        "using the shipped pretrained run",
    )
    p.add_argument("--out", default=None, help="output folder (default runs/demo-TASK)")
    p.add_argument(
        "--train-minutes",
        type=float,
        default=8.0,
        help="wall-time budget of StylEx training, with --train or for a task "
        "without a shipped run (default 8 minutes)",
    )
    p.add_argument(
        "--classifier-epochs",
        type=int,
        default=5,
        help="epochs of the built-in classifier when one is trained (default 5)",
    )
    p.add_argument("--num-images", type=int, default=128, help="AttFind images (default 128)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument(
        "--eval-images", type=int, default=256, help="held-out images for the metrics (default 256)"
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="exact AttFind over all coordinates (slower) instead of screening",
    )
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the baseline comparison even where a baseline run is shipped",
    )
    add_device_argument(p)
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")


def _stage(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def _materialise_run(
    task: Task,
    name: str | None,
    dest: Path,
    train: bool,
    minutes: float,
    device: str,
    baseline: bool = False,
    classifier_epochs: int = 5,
) -> Path:
    """A StylEx run folder at ``dest``: copied from the shipped pretrained run, or trained."""
    if not train and name is not None and (PRETRAINED_DIR / name / "config.json").is_file():
        print(f"using the pretrained run {PRETRAINED_DIR / name} (stylex demo --train retrains)")
        shutil.copytree(PRETRAINED_DIR / name, dest)
        return dest

    clf = dest.parent / f"{dest.name}-classifier.pt"
    if not clf.exists():
        _stage(f"training the classifier on {task.data}")
        res = train_classifier(
            load_dataset(task.data, resolution=32), clf, device=device, epochs=classifier_epochs
        )
        print(f"classifier validation accuracy: {res['val_accuracy']:.2%}")
    _stage(f"training {'the baseline' if baseline else 'StylEx'} for {minutes:g} minutes")
    tc = recipe_config(
        DEFAULT_RECIPE,
        steps=100_000,
        baseline=baseline,
        checkpoint_every=200,
        sample_every=200,
        eval_every=200,
    )
    tr = create_run(
        dest,
        task.data,
        str(clf),
        resolution=32,
        train=tc,
        device=device,  # the default model size for the device (stylex train's)
    )
    tr.train(time_limit_s=minutes * 60)
    return dest


def run(args: argparse.Namespace) -> int:

    task = TASKS[args.task]
    out = Path(args.out or f"runs/demo-{task.name}")
    base_out = out.parent / f"{out.name}-baseline"
    with_baseline = task.baseline and not args.no_baseline and not args.train
    for d in [out] + ([base_out] if with_baseline else []):
        if d.exists():
            if not args.force:
                raise StylexError(f"{d} exists: pass --force to overwrite it, or --out elsewhere")
            shutil.rmtree(d)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"stylex demo: {task.description}")

    _stage("StylEx model")
    run_dir = _materialise_run(
        task,
        task.pretrained,
        out,
        args.train,
        args.train_minutes,
        args.device,
        classifier_epochs=args.classifier_epochs,
    )
    base_dir = None
    if with_baseline:
        _stage("baseline model (StyleGAN2 + encoder trained without the classifier)")
        base_dir = _materialise_run(
            task, task.baseline, base_out, False, args.train_minutes, args.device, baseline=True
        )
    if base_dir is not None and not (base_dir / "config.json").is_file():
        base_dir = None

    for d in [run_dir] + ([base_dir] if base_dir else []):
        _stage(f"AttFind on {d}")
        r = Run.load(d, device=args.device)
        result = AttFind(r).attribute(
            num_images=args.num_images, top_k=args.top_k, screen=not args.exact
        )
        result.save(d / "attfind")
        print(result.table(top=5))

    _stage("evaluate")
    metrics = stylex_metrics.evaluate(
        run_dir, baseline=base_dir, device=args.device, num_images=args.eval_images
    )
    print(stylex_metrics.format_table(metrics))
    if len(metrics.get("sufficiency_per_class") or {}) > 2:
        print("\nper-class sufficiency (one-vs-rest):")
        print(per_class_table(metrics))

    _stage("report")
    report = build_report(run_dir, baseline=base_dir, device=args.device).path
    took = time.perf_counter() - t0
    headline = {k: metrics.get(k) for k in ("consistency", "reconstruction_l1")}
    headline["sufficiency@10"] = (metrics.get("sufficiency") or {}).get("10")
    headline["fit"] = (metrics.get("fitness") or {}).get("fit")
    print(f"\nreport: {Path(report).resolve()}")
    print("headline: " + json.dumps(headline))
    print(f"demo finished in {took / 60:.1f} min")
    return 0


def per_class_table(metrics: dict, ks: tuple[int, ...] = (1, 3, 5, 10)) -> str:
    """Per-class sufficiency of ``metrics.json`` as a text table: one row per class, the flip
    rate with its top-k attributes for each k in ``ks`` (as far as computed), the no-edit rate
    (k = 0) and the number of images considered; the last row is the mean over classes."""
    per = metrics.get("sufficiency_per_class") or {}
    details = metrics.get("sufficiency_details") or {}
    k0 = details.get("reconstruction_already_target") or {}
    considered = details.get("num_considered") or {}
    ks = tuple(k for k in ks if any(str(k) in r for r in per.values()))
    w = max([5] + [len(c) for c in per])

    def cell(v) -> str:
        return "    -" if v is None or v != v else f"{v:5.2f}"

    head = f"{'class':<{w}}  " + " ".join(f"{'k=' + str(k):>5}" for k in ks)
    lines = [head + f" {'k=0':>5} {'n':>5}"]
    for cls, rates in per.items():
        row = " ".join(cell(rates.get(str(k))) for k in ks)
        lines.append(f"{cls:<{w}}  {row} {cell(k0.get(cls))} {considered.get(cls, 0):>5}")
    mean = metrics.get("sufficiency") or {}
    row = " ".join(cell(mean.get(str(k))) for k in ks)
    lines.append(f"{'mean':<{w}}  {row} {cell(metrics.get('sufficiency_k0'))}")
    return "\n".join(lines)
