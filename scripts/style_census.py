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

import torch

from stylex.attfind.effects import edit_styles
from stylex.metrics.ground_truth import dominant_factor, factor_changes, load_or_train_probe
from stylex.run import Run


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
    x = val.images[: args.range_images].float() / 127.5 - 1
    rows, counts = [], Counter()
    with torch.no_grad():
        styles = run.encode_styles(x)
        flat = torch.cat(styles, 1)
        lo, hi = flat.min(0).values, flat.max(0).values
        sub = [s[: args.images] for s in styles]
        before = probe.predict(run.generator.synthesize(sub, noise_mode="const").clamp(-1, 1))
        for i in range(space.total):
            layer, channel = space.locate(i)
            for direction, target in (("min", lo[i]), ("max", hi[i])):
                edited = edit_styles(sub, space, i, float(target), 1.0)
                img = run.generator.synthesize(edited, noise_mode="const").clamp(-1, 1)
                ch = factor_changes(probe, before, probe.predict(img))
                change = {k: float(v.abs().mean()) for k, v in ch.items()}
                dom = dominant_factor(change)
                counts[dom or "none"] += 1
                rows.append({"index": i, "layer": layer, "channel": channel,
                             "direction": direction, "dominant": dom, "change": change})
    rule = set(val.label_factors)
    print(f"{len(rows)} single-coordinate edits on {len(sub[0])} images; by dominant factor:")
    for name, n in counts.most_common():
        print(f"  {name:8s} {n:5d}{'   (label rule)' if name in rule else ''}")
    for r in sorted((r for r in rows if r["dominant"] in rule),
                    key=lambda r: -r["change"][r["dominant"]]):
        print(f"  layer {r['layer']} channel {r['channel']} toward {r['direction']}: "
              f"{r['dominant']} {r['change'][r['dominant']]:.2f} std")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()
