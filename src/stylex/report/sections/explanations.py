"""Section "Per-image explanations": a few held-out images, each with its own top attributes
applied alone and together."""

from __future__ import annotations

import torch

from stylex.explain import ImageExplanation
from stylex.report.context import ReportContext
from stylex.report.html import esc, img_tag, missing


def explanation_card(ctx: ReportContext, e: ImageExplanation, title: str) -> str:
    names, p, t = e.class_names, e.predicted, e.target

    def cap(probs: torch.Tensor) -> str:
        s = f"p({esc(names[p])}) {float(probs[p]):.2f}"
        if t != p:
            s += f"<br>p({esc(names[t])}) {float(probs[t]):.2f}"
        return s

    width = e.image.shape[-1] * ctx.scale + 8

    def tile(
        img: torch.Tensor, label: str, probs: torch.Tensor, extra: str = "", cls: str = ""
    ) -> str:
        flip = cls and int(probs.argmax()) != p
        return (
            f'<figure class="tile {cls}{" flip" if flip else ""}" style="width:{width}px">'
            + img_tag(img, ctx.scale, label)
            + f"<figcaption><b>{label}</b><br>{cap(probs)}{extra}</figcaption></figure>"
        )

    tiles = [
        tile(e.image, "input", e.input_probs),
        tile(e.reconstruction, "reconstruction", e.probs),
    ]
    for r, c in enumerate(e.independent):
        a = c.attributes[-1]
        src = f"<br>AttFind: {esc(', '.join(c.sources[-1]))}" if c.sources[-1] else ""
        label = f"#{r + 1} L{a.layer} c{a.channel} {esc(a.direction)}"
        extra = f"<br>Δp({esc(names[t])}) {c.delta:+.3f}{src}"
        tiles.append(tile(c.image, label, c.probs, extra, "single"))
    if e.subset:
        c = e.subset[-1]
        label = f"top {e.subset_size} together" if e.flipped else f"all {len(e.subset)} together"
        extra = f"<br>Δp({esc(names[t])}) {c.delta:+.3f}"
        tiles.append(tile(c.image, label, c.probs, extra, "subset"))
    outcome = (
        f'<span class="flip-text">flips to {esc(names[e.subset[-1].predicted])} with the '
        f"top {e.subset_size} attribute(s) together</span>"
        if e.flipped
        else f"does not flip with the top {len(e.independent)} attribute(s) together"
    )
    return (
        f'<div class="card explain-card"><div class="attr-head"><h4>{esc(title)}</h4>'
        f'<span class="stats">predicted <b>{esc(names[p])}</b> '
        f"({float(e.probs[p]):.2f}); ranked toward {esc(names[t])}: {outcome}</span></div>"
        f'<div class="row">{"".join(tiles)}</div></div>'
    )


def explanations_section(ctx: ReportContext) -> str:
    ex = ctx.explainer
    if ex is None:
        return missing("Needs AttFind's result — run <code>stylex attfind --run RUN</code>.")
    idx = ctx.held_out(ctx.opt.num_explain)
    if not idx:
        return missing("The run has no held-out images.")
    images = ctx.val.float_images(idx)
    results = ex.explain(images, top_k=ctx.opt.top_k)
    cards = []
    for i, e in zip(idx, results):
        y = int(ctx.val.labels[i])
        cards.append(explanation_card(ctx, e, f"{ctx.val.ids[i]} (label {ctx.names[y]})"))
    return (
        '<p class="note">Held-out images explained one by one: each image\'s own top '
        "attributes (ranked by how much each raises the probability of the runner-up class "
        "for this image), each applied alone, then together (the subset counterfactual: "
        "applied cumulatively until the predicted class changes).</p>" + "".join(cards)
    )
