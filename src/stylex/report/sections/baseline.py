"""Section "StylEx vs baseline": the top attributes of both runs side by side."""

from __future__ import annotations

from pathlib import Path

from stylex.report.context import ReportContext
from stylex.report.html import esc, missing
from stylex.report.sections.attributes import class_attributes


def baseline_section(ctx: ReportContext) -> str:
    """The section's HTML ('' without a baseline run)."""
    base = ctx.base
    if base is None:
        return ""
    bname = esc(Path(base.path).resolve().name)
    label = f"{'baseline' if base.baseline else 'other run'} “{Path(base.path).resolve().name}”"
    parts = [
        f'<p class="note">StylEx (this run, classifier terms on) beside <b>{bname}</b> '
        f"({'baseline: no classifier terms' if base.baseline else 'another StylEx run'}) "
        "on the same data and classifier.</p>",
        '<p class="note">The metrics of both, side by side, are in '
        '<a href="#metrics">Metrics</a>.</p>',
        "<h3>Top attributes</h3>",
    ]
    ex, bx = ctx.explainer, ctx.base_explainer
    k = ctx.opt.baseline_top_k
    for cls in ctx.names:
        cols = []
        name = Path(ctx.run.path).resolve().name
        for title, e, note in (
            (f"StylEx “{name}”", ex, ctx.attfind_note),
            (label, bx, ctx.base_attfind_note),
        ):
            if e is None:
                body = missing(f"AttFind {esc(note)}")
            elif cls not in e.result.class_names:
                body = missing(f"no class {esc(cls)} in this run's AttFind result")
            else:
                ca = e.result[cls]
                tot = sum(a.effect for a in ca.attributes[:k])
                flips = sum(a.flipped for a in ca.attributes[:k])
                body = (
                    f'<p class="note">top {k}: total effect {tot:.3f}, flipped {flips} '
                    f"(of {ca.num_considered} images, single edits)</p>"
                    + class_attributes(ctx, e, cls, k, compact=True)
                )
            cols.append(f"<div><h4>{esc(title)}</h4>{body}</div>")
        parts.append(
            f'<div class="class-block"><h3>Class “{esc(cls)}”</h3>'
            f'<div class="two-col">{"".join(cols)}</div></div>'
        )
    return "".join(parts)
