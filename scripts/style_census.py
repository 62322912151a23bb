"""Which factor does every single StyleSpace edit change? (ground-truth diagnostic)

For a run on data with known factors (``shapes``), edits every style coordinate (toRGB included)
toward its minimum and its maximum over held-out images, as AttFind does (shift 1), reads the
edited images with the run's factor probe (the one ``stylex evaluate`` trained and cached in the
run folder), and counts the edits per dominant factor. An AttFind top-k can only contain as many
attributes whose dominant factor is a label-rule factor as this census finds.

    python scripts/style_census.py --run runs/demo-shapes [--images 24] [--out census.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from types import SimpleNamespace

import torch

from stylex.metrics.ground_truth import (
    attribute_factor_changes,
    dominant_factor,
    load_or_train_probe,
)
from stylex.run import Run
from stylex.utils.images import from_uint8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--images", type=int, default=24, help="held-out images per edit")
    ap.add_argument("--range-images", type=int, default=128, help="images for the min/max")
    ap.add_argument("--out", help="write every edit's factor changes here (JSON)")
    args = ap.parse_args()

    run = Run.load(args.run, device="cpu")
    val = run.dataset("val")
    if val.factors is None:
        raise SystemExit(f"{args.run}: the data has no generating factors")
    probe, info = load_or_train_probe(val, run.path)
    print(f"factor probe: {'cached' if info.get('cached') else 'trained'} in {run.path}")
    space = run.generator.style_space(include_rgb=True)
    x = from_uint8(val.images[: args.range_images])
    with torch.no_grad():
        styles = run.encode_styles(x)
    flat = torch.cat(styles, 1)
    lo, hi = flat.min(0).values, flat.max(0).values
    pairs = [
        SimpleNamespace(index=i, direction=d, target=float(t))
        for i in range(space.total)
        for d, t in (("min", lo[i]), ("max", hi[i]))
    ]
    # every pair as one "class" whose images are all of the first --images held-out images
    sub = [s[: args.images] for s in styles]
    none_predicted = torch.full((len(sub[0]),), -1)
    changes = attribute_factor_changes(
        run.generator,
        probe,
        sub,
        none_predicted,
        [pairs],
        space,
        1.0,
        max_k=len(pairs),
        progress=True,
    )[0]
    rows, counts = [], Counter()
    for a, ch in zip(pairs, changes, strict=True):
        dom = dominant_factor(ch["change"])
        counts[dom or "none"] += 1
        layer, channel = space.locate(a.index)
        rows.append(
            {
                "index": a.index,
                "layer": layer,
                "channel": channel,
                "direction": a.direction,
                "dominant": dom,
                "change": ch["change"],
            }
        )
    rule = set(val.label_factors)
    print(f"{len(rows)} single-coordinate edits on {len(sub[0])} images; by dominant factor:")
    for name, n in counts.most_common():
        print(f"  {name:8s} {n:5d}{'   (label rule)' if name in rule else ''}")
    for r in sorted(
        (r for r in rows if r["dominant"] in rule), key=lambda r: -r["change"][r["dominant"]]
    ):
        print(
            f"  layer {r['layer']} channel {r['channel']} toward {r['direction']}: "
            f"{r['dominant']} {r['change'][r['dominant']]:.2f} std"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()
