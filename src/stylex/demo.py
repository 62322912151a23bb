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

from stylex.errors import StylexError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class Task:
    name: str
    data: str
    pretrained: str | None  # folder name under stylex/pretrained/
    baseline: str | None
    description: str


TASKS = {
    "fashion-mnist": Task("fashion-mnist", "fashion-mnist:sneaker,ankle-boot", "fashion-mnist",
                          "fashion-mnist-baseline",
                          "Fashion-MNIST sneaker vs ankle boot, 32 px grey"),
    "shapes": Task("shapes", "shapes", "shapes", "shapes-baseline",
                   "synthetic shapes, label = hue < 0.5 (known factors), 32 px RGB"),
    "mnist": Task("mnist", "mnist:3,8", None, None, "MNIST 3 vs 8, 32 px grey (trains)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="fashion-mnist", choices=sorted(TASKS),
                   help="built-in task (default fashion-mnist: sneaker vs ankle boot)")
    p.add_argument("--train", action="store_true",
                   help="train the classifier and the StylEx model from scratch instead of "
                   "using the shipped pretrained run")
    p.add_argument("--out", default=None, help="output folder (default runs/demo-TASK)")
    p.add_argument("--train-minutes", type=float, default=8.0,
                   help="wall-time budget for --train (default 8 minutes)")
    p.add_argument("--num-images", type=int, default=128, help="AttFind images (default 128)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--eval-images", type=int, default=256,
                   help="held-out images for the metrics (default 256)")
    p.add_argument("--exact", action="store_true",
                   help="exact AttFind over all coordinates (slower) instead of screening")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the baseline comparison even where a baseline run is shipped")
    p.add_argument("--device", default="auto")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")


def _stage(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def _materialise_run(task: Task, name: str | None, dest: Path, train: bool, minutes: float,
                     device: str, baseline: bool = False) -> Path:
    """A StylEx run folder at ``dest``: copied from the shipped pretrained run, or trained."""
    if not train and name is not None and (PRETRAINED_DIR / name / "config.json").is_file():
        print(f"using the pretrained run {PRETRAINED_DIR / name} (stylex demo --train retrains)")
        shutil.copytree(PRETRAINED_DIR / name, dest)
        return dest
    from stylex.classifier import train_classifier
    from stylex.data import load_dataset
    from stylex.training.recipes import DEFAULT_RECIPE, recipe_config
    from stylex.training.trainer import ModelSize, create_run

    clf = dest.parent / f"{dest.name}-classifier.pt"
    if not clf.exists():
        _stage(f"training the classifier on {task.data}")
        res = train_classifier(load_dataset(task.data, resolution=32), clf, device=device)
        print(f"classifier validation accuracy: {res['val_accuracy']:.2%}")
    _stage(f"training {'the baseline' if baseline else 'StylEx'} for {minutes:g} minutes")
    tc = recipe_config(DEFAULT_RECIPE, steps=100_000, batch=16, baseline=baseline,
                       checkpoint_every=200, sample_every=200, eval_every=200)
    tr = create_run(dest, task.data, str(clf), resolution=32, train=tc,
                    size=ModelSize(channel_max=128, w_dim=128), device=device)
    tr.train(time_limit_s=minutes * 60)
    return dest


def run(args: argparse.Namespace) -> int:
    from stylex.attfind import AttFind
    from stylex.metrics import evaluate, format_table
    from stylex.report import build_report
    from stylex.run import Run

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
    run_dir = _materialise_run(task, task.pretrained, out, args.train, args.train_minutes,
                               args.device)
    base_dir = None
    if with_baseline:
        _stage("baseline model (StyleGAN2 + encoder trained without the classifier)")
        base_dir = _materialise_run(task, task.baseline, base_out,
                                    False, args.train_minutes, args.device, baseline=True)
    if base_dir is not None and not (base_dir / "config.json").is_file():
        base_dir = None

    for d in [run_dir] + ([base_dir] if base_dir else []):
        _stage(f"AttFind on {d}")
        r = Run.load(d, device=args.device)
        result = AttFind(r).attribute(num_images=args.num_images, top_k=args.top_k,
                                      screen=not args.exact)
        result.save(d / "attfind")
        print(result.table(top=5))

    _stage("evaluate")
    metrics = evaluate(run_dir, baseline=base_dir, device=args.device,
                       num_images=args.eval_images)
    print(format_table(metrics))

    _stage("report")
    report = build_report(run_dir, baseline=base_dir, device=args.device).path
    took = time.perf_counter() - t0
    headline = {k: metrics.get(k) for k in ("consistency", "reconstruction_l1")}
    headline["sufficiency@10"] = (metrics.get("sufficiency") or {}).get("10")
    print(f"\nreport: {Path(report).resolve()}")
    print("headline: " + json.dumps(headline))
    print(f"demo finished in {took / 60:.1f} min")
    return 0
