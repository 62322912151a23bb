"""``stylex explain --run RUN IMAGE...``: why the classifier says what it says about each image.

Per image, writes ``DIR/NAME.png`` (input | reconstruction | each top attribute alone | the
subset counterfactual, with probabilities under each image) and ``DIR/NAME.json`` (the
numbers), and prints a summary line. ``DIR`` defaults to ``RUN/explanations``.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from stylex.classifier.options import add_contract_arguments, contract_from_args
from stylex.runtime import add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder (trained, with attfind/)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, …)")
    p.add_argument("--out", default=None, help="output folder (default RUN/explanations)")
    p.add_argument("--top-k", type=int, default=5, help="attributes per image")
    p.add_argument(
        "--shift-size",
        type=float,
        default=None,
        help="attribute strength: s ← s + shift·(target − s) (default: AttFind's)",
    )
    p.add_argument(
        "--target",
        default=None,
        help="class to explain toward (default: the runner-up class of each image)",
    )
    p.add_argument(
        "--candidates",
        choices=["attributes", "all"],
        default="attributes",
        help="rank AttFind's attributes of all classes (default) or every style coordinate",
    )
    add_device_argument(p)
    add_contract_arguments(p, overrides_run=True)


def _names(paths: list[Path]) -> list[str]:
    """Output stems, unique (a.png, b/a.png → a, a-2)."""
    out, used = [], set()
    for p in paths:
        stem, n = p.stem or "image", 1
        name = stem
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        out.append(name)
    return out


def run(args: argparse.Namespace) -> int:
    from stylex.errors import StylexError
    from stylex.explain.explainer import Explainer
    from stylex.explain.files import read_images
    from stylex.explain.viz import explanation_panel
    from stylex.metrics.fitness.store import warn_if_unfit
    from stylex.run import Run, RunConfig
    from stylex.utils.fs import atomic_write_bytes, atomic_write_json

    if args.top_k < 1:
        raise StylexError("--top-k must be ≥ 1")
    cfg = RunConfig.read(args.run)  # images are checked before the models load
    warn_if_unfit(args.run)
    paths = [Path(p) for p in args.images]
    images = read_images(paths, cfg.data.resolution, cfg.data.channels)
    run_ = Run.load(
        args.run, device=args.device, discriminator=False, contract=contract_from_args(args)
    )
    explainer = Explainer(run_, shift_size=args.shift_size)
    target = args.target
    if target is not None and target not in explainer.class_names and target.isdigit():
        target = int(target)
    names = _names(paths)
    results = explainer.explain(
        images, top_k=args.top_k, target=target, candidates=args.candidates, names=names
    )
    out = Path(args.out) if args.out else Path(args.run) / "explanations"
    for path, name, e in zip(paths, names, results):
        buf = io.BytesIO()
        explanation_panel(e).save(buf, format="PNG")
        atomic_write_bytes(out / f"{name}.png", buf.getvalue())
        atomic_write_json(out / f"{name}.json", {"file": str(path), **e.to_dict()})
        print(f"{path}: {e.summary()}")
        for r, c in enumerate(e.independent, 1):
            a = c.attributes[-1]
            src = f"  (AttFind: {', '.join(c.sources[-1])})" if c.sources[-1] else ""
            print(
                f"  #{r} layer {a.layer} channel {a.channel} toward {a.direction}: "
                f"Δp({e.class_names[e.target]}) = {c.delta:+.3f}{src}"
            )
    print(f"wrote {len(results)} panel(s) and JSON file(s) to {out}")
    return 0
