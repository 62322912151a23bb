"""Section "Top attributes": per class, AttFind's attributes with their numbers, a sweep GIF
and original/edited pairs (also used side by side in the baseline section)."""

from __future__ import annotations

import io
import math

from PIL import Image

from stylex.attfind.visibility import difference_image, stored_visibility
from stylex.explain import AttributeView, Explainer
from stylex.report.context import ReportContext
from stylex.report.html import data_uri, esc, fmt, img_tag, missing, slug
from stylex.report.images import sweep_gif

MANY_CLASSES = 4  # above this many classes, per-class sections fold (<details>)


def class_selector(names: list[str]) -> str:
    """A line of links to the per-class sections (for more than two classes; one-vs-rest)."""
    if len(names) <= 2:
        return ""
    links = " · ".join(
        f'<a href="#class-{slug(n)}" onclick="var d=document.getElementById(\'class-{slug(n)}\');'
        f"if(d&&d.tagName==='DETAILS')d.open=true\">{esc(n)}</a>"
        for n in names
    )
    return f'<p class="class-selector"><b>{len(names)} classes</b> (one-vs-rest): {links}</p>'


def attribute_card(
    ctx: ReportContext, ex: Explainer, view: AttributeView, compact: bool = False
) -> str:
    """One attribute: its numbers, a sweep GIF and original/edited pairs."""
    a, y = view.attribute, view.class_index
    cls_y = esc(ctx.names[y] if y < len(ctx.names) else view.class_name)
    scale = max(1, ctx.scale // 2) if compact else ctx.scale
    figs = []
    if view.image_ids:
        frames = ex.sweep(ex.encode(view.real[:1]), a, ctx.opt.sweep_steps)
        probs = ex.probs(frames).cpu()
        gif = sweep_gif(frames.cpu(), probs, y, scale)
        with Image.open(io.BytesIO(gif)) as im:
            gw, gh = im.size
        lo, hi = ex.sweep_values(a, 2).tolist()
        figs.append(
            f'<figure class="sweep"><img src="{data_uri(gif, "image/gif")}" '
            f'alt="sweep of layer {a.layer} channel {a.channel}" '
            f'width="{gw}" height="{gh}">'
            f"<figcaption>sweep {fmt(lo)} ↔ {fmt(hi)}<br>bar: p({cls_y})</figcaption>"
            "</figure>"
        )
    n = min(3 if compact else len(view.image_ids), len(view.image_ids))
    side = view.originals.shape[-1] * scale
    if n:
        figs.append(
            f'<div class="legend" style="--side:{side}px"><span>original</span>'
            "<span>with attribute</span><span>difference</span></div>"
        )
    diffs = difference_image(view.originals[:n], view.edited[:n])
    for j in range(n):
        before, after = float(view.probs_before[j, y]), float(view.probs_after[j, y])
        flip = bool(view.flipped[j])
        figs.append(
            f'<figure class="pair stack{" flip" if flip else ""}"><div class="imgs">'
            + img_tag(view.originals[j], scale, f"{view.image_ids[j]} original")
            + img_tag(view.edited[j], scale, f"{view.image_ids[j]} edited", "after")
            + img_tag(diffs[j], scale, f"{view.image_ids[j]} difference", "diff")
            + f"</div><figcaption>p({cls_y})<br><b>{before:.2f} → {after:.2f}</b>"
            + (' <span class="flip-text">flips</span>' if flip else "")
            + "</figcaption></figure>"
        )
    considered = ex.result[view.class_name].num_considered
    stats = f"effect {a.effect:.3f} · flipped {a.flipped}/{considered} · mean Δ {a.mean_delta:+.3f}"
    stats += strength_note(ex, view)
    return (
        f'<div class="card attr-card{" compact" if compact else ""}"><div class="attr-head">'
        f'<span class="rank">#{view.rank + 1}</span>'
        f"<h4>layer {a.layer} ({ex.generator.describe_layer(a.layer)}) · channel {a.channel}"
        f" · toward {esc(a.direction)}</h4>"
        f'<span class="stats">{stats}</span></div>'
        f'<div class="row attr-body">{"".join(figs)}</div></div>'
    )


def strength_note(ex: Explainer, view: AttributeView) -> str:
    """Where the pairs are shown: AttFind's strength, or the attribute's display strength
    (stylex.attfind.visibility) with what it does there."""
    t, base = view.shift_size, ex.effects.shift_size
    vis = stored_visibility(view.attribute)
    if vis is None or not math.isclose(t, vis.shift):
        return f" · shown at strength {t:g}"
    note = f" · shown at strength {t:g}"
    if not math.isclose(t, base):
        note += f" (×{t / base:g} AttFind's"
        note += ", past the range seen on real images)" if vis.extrapolated else ")"
    note += f": pixel change {vis.change:.2f}, mean Δp {vis.delta_p:+.3f}"
    if not (vis.visible and vis.acts):
        note += " (weak even there)"
    return note


def class_attributes(ctx: ReportContext, ex: Explainer, cls: str, top_k: int, compact: bool) -> str:
    ca = ex.result[cls]
    attrs = ca.attributes[:top_k]
    if not attrs:
        return missing(
            f"No attributes for <b>{esc(cls)}</b>: {ca.num_considered} stable image(s) "
            "predicted as another class were available to AttFind."
        )
    parts = []
    if not compact:
        joint = all("joint_flipped" in a.extra for a in ca.attributes)
        hdr = (
            "<tr><th>#</th><th>layer</th><th>channel</th><th>index</th><th>direction</th>"
            "<th>target</th><th>effect</th><th>mean Δ</th><th>flipped</th>"
            + ('<th title="flipped with attributes #1 to this one applied together">'
               "flipped together</th>" if joint else "")
            + "</tr>"
        )  # fmt: skip
        rows = "".join(
            f"<tr><td>{r + 1}</td><td>{a.layer}</td><td>{a.channel}</td><td>{a.index}</td>"
            f"<td>{esc(a.direction)}</td><td>{fmt(a.target)}</td><td>{fmt(a.effect)}</td>"
            f"<td>{a.mean_delta:+.3f}</td><td>{a.flipped} / {ca.num_considered}</td>"
            + (f"<td>{a.extra['joint_flipped']} / {ca.num_considered}</td>" if joint else "")
            + "</tr>"
            for r, a in enumerate(ca.attributes)
        )
        parts.append(f'<table class="data">{hdr}{rows}</table>')
    for r in range(len(attrs)):
        shift = ex.display_shift(ca.attributes[r])
        view = ex.attribute_view(cls, r, 3 if compact else ctx.opt.num_images, shift=shift)
        parts.append(attribute_card(ctx, ex, view, compact))
    return "".join(parts)


def attributes_section(ctx: ReportContext) -> str:
    ex = ctx.explainer
    if ex is None:
        return missing(
            f"AttFind {esc(ctx.attfind_note)} — run <code>stylex attfind --run RUN</code>."
        )
    intro = (
        '<p class="note">Per class, the StyleSpace coordinates AttFind found to raise the '
        "classifier's probability of that class most (effect = mean increase over images "
        "predicted as another class; flipped = images whose predicted class becomes this "
        "one with this attribute alone; flipped together = the same with the class's "
        "attributes up to this one applied together, which AttFind keeps from falling as "
        "attributes are added; all at AttFind's shift size "
        f"{ex.shift_size:g}). Each pair: the reconstruction, the same with the attribute "
        "applied, and where the picture changed (black: unchanged; red → yellow → white: "
        "larger change); red frames mark flips. The pairs show each attribute at its display "
        "strength: the smallest multiple of AttFind's shift (1, 1.5, 2, 3, 4×) at which its "
        "change is visible and moves the class probability by 0.1 on average; beyond 1× the "
        "edit goes past the values seen on real images, which the card says. The GIF sweeps "
        "the coordinate from its minimum to its maximum on the first image.</p>"
    )
    names = ex.result.class_names
    blocks = []
    for i, cls in enumerate(names):
        body = class_attributes(ctx, ex, cls, ctx.opt.top_k, compact=False)
        if len(names) > MANY_CLASSES:  # one open section at a time keeps 10 classes readable
            blocks.append(
                f'<details class="class-block" id="class-{slug(cls)}"'
                f"{' open' if i == 0 else ''}><summary><h3>Class “{esc(cls)}”</h3>"
                f"</summary>{body}</details>"
            )
        else:
            blocks.append(
                f'<div class="class-block" id="class-{slug(cls)}"><h3>Class “{esc(cls)}”</h3>'
                + body
                + "</div>"
            )
    return intro + class_selector(names) + "".join(blocks)
