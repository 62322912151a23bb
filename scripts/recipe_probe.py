"""Probe a trained run the way issue 16 judges a recipe (small, self-contained).

On the first ``--n`` held-out images (EMA generator and encoder):

* ``rec_l1`` — L1 of reconstructions, against three trivial references: ``flat_l1`` (each image
  replaced by its own mean value), ``bg_l1`` (by its flat background, the median of its border:
  all black on Fashion-MNIST) and ``mean_img_l1`` (the training set's mean image);
  ``rec_vs_trivial`` = rec_l1 / min(references) (< 1: better than drawing nothing);
* ``consistency`` — the classifier's argmax agrees on image and reconstruction;
* ``consistency_neutral`` / ``rec_l1_neutral`` — the same with the condition replaced by the
  mean condition of these images (the class and the content must survive without c);
* ``cond_flip`` — reconstructions under the condition of an image of another class take that
  class (c still controls the class);
* ``cond_active`` — style coordinates that respond to c (:meth:`Generator.condition_usage`).

Writes ``RUN/probe.json`` and ``RUN/probe.png`` (rows: originals, reconstructions, neutral-c
reconstructions, swapped-c reconstructions). Usage::

    PYTHONPATH=src python scripts/recipe_probe.py RUN [--n 128]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from stylex.run import Run
from stylex.training.losses import border_background
from stylex.utils.images import make_grid, save_png


@torch.no_grad()
def probe(run_dir: str, n: int = 128) -> dict[str, float]:
    run = Run.load(run_dir, device="cpu", discriminator=False)
    val = run.dataset("val")
    x = val.float_images(torch.arange(min(n, len(val))))
    train = run.dataset("train")
    mean_img = train.float_images(torch.arange(min(2048, len(train)))).mean(0, keepdim=True)
    g, e = run.generator, run.encoder
    logits = run.classifier(x).float()
    p = logits.softmax(1)
    y = p.argmax(1)
    c = run.condition(logits)
    w = e(x)
    rec = g.generate(w, c).clamp(-1, 1)
    per_image = lambda a: (a - x).abs().mean((1, 2, 3))  # noqa: E731
    flat = x.mean((1, 2, 3), keepdim=True).expand_as(x)
    out = {
        "rec_l1": float(per_image(rec).mean()),
        "flat_l1": float(per_image(flat).mean()),
        "bg_l1": float(per_image(border_background(x).expand_as(x)).mean()),
        "mean_img_l1": float(per_image(mean_img.expand_as(x)).mean()),
        "consistency": float((run.probs(rec).argmax(1) == y).float().mean()),
    }
    out["rec_vs_trivial"] = out["rec_l1"] / min(out["flat_l1"], out["bg_l1"], out["mean_img_l1"])
    rows = [x[:8], rec[:8]]
    if c is not None:
        c_neutral = c.mean(0, keepdim=True).expand_as(c)
        rec_n = g.generate(w, c_neutral).clamp(-1, 1)
        out["rec_l1_neutral"] = float(per_image(rec_n).mean())
        out["consistency_neutral"] = float((run.probs(rec_n).argmax(1) == y).float().mean())
        # swap: each image gets the condition of the nearest later image of another class
        other = torch.empty_like(y)
        for i in range(len(y)):
            j = [k for k in range(1, len(y)) if y[(i + k) % len(y)] != y[i]]
            other[i] = (i + j[0]) % len(y) if j else i
        rec_s = g.generate(w, c[other]).clamp(-1, 1)
        differs = y[other] != y
        if bool(differs.any()):
            hit = run.probs(rec_s).argmax(1) == y[other]
            out["cond_flip"] = float(hit[differs].float().mean())
        out.update(g.condition_usage())
        rows += [rec_n[:8], rec_s[:8]]
    save_png(make_grid(torch.cat(rows), nrow=8), Path(run_dir) / "probe.png", scale=3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=128)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    out = probe(args.run, args.n)
    (Path(args.run) / "probe.json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: round(v, 4) for k, v in out.items()}))


if __name__ == "__main__":
    main()
