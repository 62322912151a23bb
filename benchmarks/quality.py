"""Quality benchmark: train each task from scratch at a fixed budget, run AttFind and evaluate,
print one table. The instrument a training recipe is judged with (DESIGN.md, "Defaults that
work from scratch").

For every task and variant (``recipe``: ``stylex train`` with its defaults plus
``--recipe-args``; ``baseline``: ``stylex train --baseline``, same budget) the stages are

1. classifier: ``stylex train-classifier``'s API, cached per task and resolution in
   ``OUT/classifiers/`` (shared by both variants);
2. train: ``stylex train`` from scratch for ``--minutes`` of wall time (``--time-limit``) or
   ``--steps`` steps; a killed training continues with ``--resume`` (in minutes mode with the
   budget left, estimated from ``log.jsonl`` up to the last checkpoint);
3. attfind: ``stylex attfind`` with its defaults (screening) on ``--attfind-images`` images;
4. evaluate: ``stylex evaluate`` on ``--eval-images`` held-out images (no perceptual metric);
5. references: reconstruction L1 of two trivial "reconstructions" of the same images.

Every finished stage is recorded in ``OUT/TASK/VARIANT/stages.json`` and skipped on a re-run,
so a stopped sweep continues where it stopped. With ``--lock FILE`` each stage holds an
exclusive ``flock`` on FILE (the shared-CPU convention), released between stages; with
``--lock-scope run`` one hold covers the stages of one (task, variant) run instead (fewer waits
when many jobs queue for the lock; still released between runs).

Columns: ``rec L1`` mean ``|x − G(E(x))|`` ([-1, 1] units) on the evaluated images; ``flat L1``
the same for each image replaced by its own median grey level (the best constant image under L1);
``mean L1`` for the training set's mean image; ``fac err`` the factor probe's largest mean error
on the reconstructions over the non-categorical factors, in standard deviations of the factor
(``real`` the same on the real images: the probe's floor; for a factor uniform on an interval a
constant guess at its middle scores 0.87, an unrelated random one 1.15); ``cat acc`` the probe's
accuracy on the reconstructions for the categorical factor it reads worst there (``real``: on
the real images; shapes' ``shape`` has chance 1/3);
``cons`` classifier consistency; ``suff kN`` sufficiency with the top-N attributes (k0: no edit);
``P@5``/``R@10`` ground-truth precision/recall (data with factors), ``jP@3``/``jR@10`` the same
for each class's top-k attributes applied together; ``AttFind s`` wall seconds of
the attfind stage; ``verdict`` ``metrics.json["fitness"]`` when the run has one, else n/a.

Run: ``.venv/bin/python benchmarks/quality.py --minutes 2 --out runs/quality`` (all tasks);
``--tasks shapes,gratings``; ``--task NAME=SPEC`` adds any dataset spec as a task.
Writes ``OUT/quality.json`` and ``OUT/quality.md``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path

TASKS = {
    "fashion-mnist": "fashion-mnist:sneaker,ankle-boot",
    "mnist": "mnist:3,8",
    "shapes": "shapes:hue<0.5&size>0.5",
    "gratings": "gratings:angle<0.5",
}
VARIANTS = ("recipe", "baseline")
MANY_STEPS = 10**8  # the step count of a run bounded by wall time only
COLUMNS = [
    "task",
    "variant",
    "steps",
    "train s",
    "rec L1",
    "flat L1",
    "mean L1",
    "fac err",
    "fac err real",
    "cat acc",
    "cat acc real",
    "cons",
    "suff k0",
    "suff k1",
    "suff k3",
    "suff k10",
    "P@5",
    "R@10",
    "jP@3",
    "jR@10",
    "AttFind s",
    "verdict",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma list of {', '.join(TASKS)}")
    p.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="an extra task: any dataset spec (repeatable)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=None, help="training wall-time budget")
    budget.add_argument("--steps", type=int, default=None, help="training step budget")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="--width and --w-dim of stylex train (default: its default size for the device)",
    )
    p.add_argument("--recipe-args", default="", help="extra `stylex train` options (recipe)")
    p.add_argument("--baseline-args", default="", help="extra options for the baseline only")
    p.add_argument("--train-args", default="", help="extra options for both variants")
    p.add_argument("--no-baseline", action="store_true", help="train the recipe only")
    p.add_argument("--classifier-epochs", type=int, default=5)
    p.add_argument("--attfind-images", type=int, default=256)
    p.add_argument("--eval-images", type=int, default=256)
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--probe-steps", type=int, default=600, help="ground-truth probe steps")
    p.add_argument("--device", default="cpu")
    p.add_argument("--lock", default=None, help="flock this file around every stage")
    p.add_argument(
        "--lock-scope",
        default="stage",
        choices=["stage", "run"],
        help="hold --lock per stage (default) or per (task, variant) run",
    )
    p.add_argument("--out", default="runs/quality")
    args = p.parse_args(argv)
    if args.minutes is None and args.steps is None:
        args.minutes = 2.0
    tasks = {}
    for name in filter(None, (t.strip() for t in args.tasks.split(","))):
        if name not in TASKS:
            p.error(f"unknown task {name!r}; known: {', '.join(TASKS)} (or --task NAME=SPEC)")
        tasks[name] = TASKS[name]
    for item in args.task:
        name, eq, spec = item.partition("=")
        if not eq or not name.strip() or not spec.strip():
            p.error(f"--task {item!r}: write NAME=SPEC")
        tasks[name.strip()] = spec.strip()
    args.task_specs = tasks
    return args


# ------------------------------------------------------------------------------ bookkeeping
@contextmanager
def cpu_lock(path: str | None):
    """Hold an exclusive flock on ``path`` (no-op for None)."""
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Stages:
    """``stages.json`` of one run folder: finished stages and what they measured."""

    def __init__(self, path: Path):
        self.path = path
        self.done = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, name: str) -> dict | None:
        return self.done.get(name)

    def mark(self, name: str, info: dict) -> None:
        from stylex.utils.fs import atomic_write_json

        self.done[name] = info
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, self.done)


def stylex(*argv) -> None:
    """Run a ``stylex`` command in this process; raise if it fails."""
    from stylex.cli import main

    argv = [str(a) for a in argv]
    code = main(argv)
    if code != 0:
        raise RuntimeError(f"`stylex {shlex.join(argv)}` failed (exit {code})")


def logged_train_seconds(run_dir: Path, upto: int | None = None) -> tuple[float, int]:
    """Training seconds and the last step, from ``log.jsonl`` (sec_per_step × steps of each
    logged interval; a re-trained interval after a resume counts once), up to step ``upto``."""
    per_step: dict[int, float] = {}
    prev, last, span = None, 0, None
    log = run_dir / "log.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    for line in lines:
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if "sec_per_step" not in r:
            continue
        step = int(r["step"])
        if prev is None:
            span = step  # the first interval starts at step 0
        elif step > prev:
            span = step - prev
        else:  # a resumed segment: its first interval is as long as the others; drop what it
            per_step = {s: v for s, v in per_step.items() if s <= step - span}  # re-trains
        per_step[step] = span * float(r["sec_per_step"])
        prev, last = step, max(last, step)
    total = sum(v for s, v in per_step.items() if upto is None or s <= upto)
    return total, last if upto is None else min(last, upto)


# ------------------------------------------------------------------------------ stages
def classifier_stage(name: str, spec: str, args) -> Path:
    from stylex.classifier import train_classifier
    from stylex.data import load_dataset

    path = Path(args.out) / "classifiers" / f"{name}-{args.resolution}px.pt"
    if path.is_file():
        print(f"[{name}] classifier: cached {path}")
        return path
    with cpu_lock(args.lock):
        ds = load_dataset(spec, resolution=args.resolution)
        res = train_classifier(
            ds, path, epochs=args.classifier_epochs, progress=False, device=args.device
        )
    print(f"[{name}] classifier: val acc {res['val_accuracy']:.4f} ({res['train_time_s']:.0f} s)")
    return path


def train_stage(name: str, spec: str, variant: str, run_dir: Path, clf: Path, st: Stages, args):
    if st.get("train"):
        return print(f"[{name}/{variant}] train: done")
    from stylex.training import checkpoint as ckpt

    extra = shlex.split(args.train_args) + shlex.split(
        args.baseline_args if variant == "baseline" else args.recipe_args
    )
    t0 = time.perf_counter()
    if (run_dir / "config.json").is_file():  # a stopped training: continue it
        argv = ["train", "--out", run_dir, "--resume", "--no-progress", "--device", args.device]
        if args.minutes is not None:
            latest = ckpt.latest_checkpoint(run_dir)
            step = int(latest.name.removeprefix("step-")) if latest else 0
            left = args.minutes * 60 - logged_train_seconds(run_dir, step)[0]
            argv += ["--time-limit", max(left, 1.0) / 60]
    else:
        argv = [
            "train",
            "--data",
            spec,
            "--classifier",
            clf,
            "--out",
            run_dir,
            "--resolution",
            args.resolution,
            *(["--width", args.width, "--w-dim", args.width] if args.width else []),
            "--steps",
            args.steps or MANY_STEPS,
            "--checkpoint-every",
            100,
            "--no-progress",
            "--device",
            args.device,
        ]
        if args.minutes is not None:
            argv += ["--time-limit", args.minutes]
        argv += (["--baseline"] if variant == "baseline" else []) + extra
    with cpu_lock(args.lock):
        stylex(*argv)
    seconds, steps = logged_train_seconds(run_dir)
    st.mark(
        "train",
        {"train_s": seconds, "steps": steps, "wall_s": time.perf_counter() - t0, "args": extra},
    )
    print(f"[{name}/{variant}] train: {steps} steps, {seconds:.0f} s")


def attfind_stage(name: str, variant: str, run_dir: Path, st: Stages, args):
    if st.get("attfind") and (run_dir / "attfind" / "attributes.json").is_file():
        return print(f"[{name}/{variant}] attfind: done")
    t0 = time.perf_counter()
    with cpu_lock(args.lock):
        stylex(
            "attfind",
            "--run",
            run_dir,
            "--num-images",
            args.attfind_images,
            "--top-k",
            args.top_k,
            "--no-progress",
            "--device",
            args.device,
        )
    j = json.loads((run_dir / "attfind" / "attributes.json").read_text())
    info = {
        "wall_s": time.perf_counter() - t0,
        "seconds": j.get("seconds"),
        "screen": j.get("screen"),
        "candidates": j.get("candidates"),
        "num_images": j.get("num_images"),
    }
    st.mark("attfind", info)
    print(f"[{name}/{variant}] attfind: {info['wall_s']:.0f} s")


def evaluate_stage(name: str, variant: str, run_dir: Path, st: Stages, args):
    if st.get("evaluate") and (run_dir / "metrics.json").is_file():
        return print(f"[{name}/{variant}] evaluate: done")
    t0 = time.perf_counter()
    with cpu_lock(args.lock):
        stylex(
            "evaluate",
            "--run",
            run_dir,
            "--num-images",
            args.eval_images,
            "--no-perceptual",
            "--top-k",
            args.top_k,
            "--probe-steps",
            args.probe_steps,
            "--no-progress",
            "--device",
            args.device,
        )
    st.mark("evaluate", {"wall_s": time.perf_counter() - t0})
    print(f"[{name}/{variant}] evaluate: {time.perf_counter() - t0:.0f} s")


def reference_l1(run_dir: Path, num_images: int) -> dict[str, float]:
    """L1 of the trivial references on the images evaluate used (its selection rule)."""
    from stylex.attfind import AttFindResult
    from stylex.metrics.evaluate import select_images
    from stylex.run import Run

    run = Run.load(run_dir, device="cpu", discriminator=False)
    train, val = run.dataset("train"), run.dataset("val")
    ids = AttFindResult.load(run_dir / "attfind").effects.image_ids
    idx, _ = select_images(val, num_images, ids)
    x = val.subset(idx).float_images()  # [N, C, R, R] in [-1, 1]
    flat = x.flatten(1).median(dim=1).values[:, None, None, None]
    mean = train.float_images().mean(0, keepdim=True)
    return {
        "flat_l1": float((x - flat).abs().mean()),
        "mean_l1": float((x - mean).abs().mean()),
        "num_images": len(x),
    }


def references_stage(name: str, variant: str, run_dir: Path, st: Stages, args) -> None:
    if st.get("references"):
        return
    with cpu_lock(args.lock):
        st.mark("references", reference_l1(run_dir, args.eval_images))


# ------------------------------------------------------------------------------ table
def _factor_error(gt: dict | None, key: str) -> tuple[float | None, str]:
    errs = ((gt or {}).get("probe") or {}).get(key) or {}
    vals = {f: e["normalised"] for f, e in errs.items() if e.get("normalised") is not None}
    if not vals:
        return None, ""
    f = max(vals, key=vals.get)
    return vals[f], f


def _categorical_accuracy(gt: dict | None) -> tuple[float | None, float | None, str]:
    """The categorical factor read worst on the reconstructions: its accuracy there and on the
    real images, and its name."""
    probe = (gt or {}).get("probe") or {}
    rec, real = probe.get("on_reconstructions") or {}, probe.get("on_real") or {}
    accs = {f: e["accuracy"] for f, e in rec.items() if e.get("accuracy") is not None}
    if not accs:
        return None, None, ""
    f = min(accs, key=accs.get)
    return accs[f], (real.get(f) or {}).get("accuracy"), f


def row(name: str, variant: str, run_dir: Path) -> dict:
    st = Stages(run_dir / "stages.json")
    m = json.loads((run_dir / "metrics.json").read_text())
    suff = m.get("sufficiency") or {}
    gt = m.get("ground_truth")
    fit = m.get("fitness")
    fe, fe_name = _factor_error(gt, "on_reconstructions")
    fr, _ = _factor_error(gt, "on_real")
    ca, ca_real, ca_name = _categorical_accuracy(gt)
    return {
        "task": name,
        "variant": variant,
        "steps": st.get("train")["steps"],
        "train s": st.get("train")["train_s"],
        "rec L1": m.get("reconstruction_l1"),
        "flat L1": st.get("references")["flat_l1"],
        "mean L1": st.get("references")["mean_l1"],
        "fac err": fe,
        "fac err factor": fe_name,
        "fac err real": fr,
        "cat acc": ca,
        "cat acc factor": ca_name,
        "cat acc real": ca_real,
        "cons": m.get("consistency"),
        "suff k0": m.get("sufficiency_k0"),
        **{f"suff k{k}": suff.get(str(k)) for k in (1, 3, 10)},
        "P@5": (gt or {}).get("precision_top5"),
        "R@10": (gt or {}).get("recall_top10"),
        "jP@3": (gt or {}).get("joint_precision_top3"),
        "jR@10": (gt or {}).get("joint_recall_top10"),
        "AttFind s": st.get("attfind")["wall_s"],
        "verdict": "n/a" if fit is None else ("fit" if fit.get("fit") else "not fit"),
        "causes": [] if fit is None else list(fit.get("causes") or []),
        "run": str(run_dir),
    }


def _cell(col: str, v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if col in ("steps",):
        return str(int(v))
    if col in ("train s", "AttFind s"):
        return f"{v:.0f}"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(rows: list[dict], header: str) -> str:
    lines = [header, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [_cell(c, r.get(c)) for c in COLUMNS]
        if r.get("fac err factor"):
            cells[COLUMNS.index("fac err")] += f" ({r['fac err factor']})"
        if r.get("cat acc factor"):
            cells[COLUMNS.index("cat acc")] += f" ({r['cat acc factor']})"
        lines.append("| " + " | ".join(cells) + " |")
    causes = [f"- {r['task']}/{r['variant']}: {c}" for r in rows for c in r["causes"]]
    if causes:
        lines += ["", "Verdict causes:", *causes]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main
def _finished(st: Stages, run_dir: Path) -> bool:
    return (
        all(st.get(k) for k in ("train", "attfind", "evaluate", "references"))
        and (run_dir / "metrics.json").is_file()
    )


def main(argv: list[str] | None = None) -> list[dict]:
    from stylex.utils.fs import atomic_write_bytes, atomic_write_json

    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = f"{args.minutes} min" if args.minutes is not None else f"{args.steps} steps"
    variants = VARIANTS[:1] if args.no_baseline else VARIANTS
    run_lock = args.lock if args.lock_scope == "run" else None
    stage_args = argparse.Namespace(**{**vars(args), "lock": None if run_lock else args.lock})
    rows = []
    for name, spec in args.task_specs.items():
        for variant in variants:
            run_dir = out / name / variant
            st = Stages(run_dir / "stages.json")
            with cpu_lock(run_lock if not _finished(st, run_dir) else None):
                clf = classifier_stage(name, spec, stage_args)
                train_stage(name, spec, variant, run_dir, clf, st, stage_args)
                attfind_stage(name, variant, run_dir, st, stage_args)
                evaluate_stage(name, variant, run_dir, st, stage_args)
                references_stage(name, variant, run_dir, st, stage_args)
            rows.append(row(name, variant, run_dir))
    header = (
        f"Quality benchmark: budget {budget} per run, {args.resolution} px, width "
        f"{args.width or 'default'}, recipe args {args.recipe_args!r}, "
        f"AttFind {args.attfind_images} images, evaluate {args.eval_images} images"
    )
    table = markdown(rows, header)
    print(table)
    atomic_write_json(
        out / "quality.json", {"settings": {k: v for k, v in vars(args).items()}, "rows": rows}
    )
    atomic_write_bytes(out / "quality.md", (table + "\n").encode())
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
