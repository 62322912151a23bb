"""Report section "Counterfactual metrics": the field's metrics of every explainer side by side
(StylEx attributes, StylEx per-image counterfactuals, the gradient baseline, the ``--baseline``
run's attributes) and, where another classifier was explained in the run's StyleSpace, how its
attributes align with the run's classifier's. Reads ``metrics.json["counterfactual"]``
(:mod:`stylex.metrics.field`); draws nothing itself."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from stylex.metrics.field import FIELD_NOTE
from stylex.metrics.field_table import FIELD_ROWS, field_columns

DESCRIPTIONS = {
    "flip_rate": "share of counterfactuals the classifier assigns to the target class (↑)",
    "already_target": "share whose reconstruction is already the target: left out of the "
    "other rows except split FD",
    "attributes_needed": "mean attributes (gradient: steps) applied when it flipped (↓)",
    "cout": "COUT (C3LT/ACE): AUC p(target) − AUC p(source) while pasting the "
    "counterfactual's most changed pixels first, 50 steps; correctly classified images; "
    "in [−1, 1] (↑)",
    "proximity_l1": "mean |x′ − x| against the reconstruction, images in [−1, 1] (↓)",
    "proximity_perceptual": "LPIPS-like distance on EfficientNet-Lite0 features, not LPIPS (↓)",
    "style_coords_changed": "StyleSpace coordinates changed by more than 1% of their spread (↓)",
    "split_fd": "split Fréchet distance, EfficientNet-Lite0 features, not Inception (↓)",
    "split_fd_floor": "the same for two halves of the real images: the floor at this N",
}


def _fmt(v: Any, digits: int) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, int | float) else escape(str(v))


def field_section(metrics: dict[str, Any] | None) -> str:
    """The section's HTML ('' when ``metrics`` has no counterfactual metrics)."""
    cols = field_columns(metrics or {})
    if not cols:
        return ""
    cf = (metrics or {})["counterfactual"]
    settings = cf.get("settings", {})
    rows: list[tuple[str, str | tuple[str, str], int, str]] = [
        (label, key, digits, DESCRIPTIONS.get(key, "")) for label, key, digits in FIELD_ROWS
    ]
    if any("minimality" in e for _, e in cols):
        rows += [
            (
                "factors changed",
                ("minimality", "factors_changed"),
                2,
                "mean generating factors changed beyond the threshold "
                "(factor probe; MNAC's idea; ↓)",
            ),
            (
                "only label factors",
                ("minimality", "only_label_factors"),
                3,
                "share of flipped counterfactuals changing only the label rule's factors (↑)",
            ),
        ]
    head = "".join(f"<th>{escape(label)}</th>" for label, _ in cols)
    body = []
    for label, key, digits, desc in rows:
        cells = []
        for _, e in cols:
            v = e.get(key[0], {}).get(key[1]) if isinstance(key, tuple) else e.get(key)
            cells.append(f"<td>{_fmt(v, digits)}</td>")
        body.append(
            f'<tr><td>{escape(label)}</td>{"".join(cells)}<td class="desc">{escape(desc)}</td></tr>'
        )
    grad = (cf.get("baselines") or {}).get("gradient", {}).get("settings")
    notes = [
        f"{settings.get('num_images', '?')} held-out images, each moved from the class the "
        "classifier gives it toward its runner-up class; the original of a counterfactual is "
        f"the run's reconstruction. StylEx attributes: the target class's top attributes "
        f"applied cumulatively until the class flips (at most {settings.get('max_k', '?')}).",
        FIELD_NOTE + ".",
    ]
    if grad:
        notes.append(
            f"Gradient baseline: normalised gradient ascent on log p(target) in "
            f"{escape(str(grad.get('space')))} space, step {grad.get('step')} × the latents' "
            f"spread, at most {grad.get('max_steps')} steps (Latent-Shift style)."
        )
    html = (
        f'<table class="data"><tr><th>metric</th>{head}<th class="desc">definition</th></tr>'
        + "".join(body)
        + "</table>"
        + "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    )
    align = cf.get("alignment") or {}
    if align:
        arows = []
        for name, a in align.items():
            fa = a.get("flip_alignment", {})
            arows.append(
                f"<tr><td>{escape(name)}</td><td>{_fmt(a.get('overlap_top5'), 3)}</td>"
                f"<td>{_fmt(a.get('overlap_top10'), 3)}</td><td>{_fmt(fa.get('a_to_b'), 3)}"
                f" (of {fa.get('counts_a_edits', {}).get('a_flips', 0)})</td>"
                f"<td>{_fmt(fa.get('b_to_a'), 3)}"
                f" (of {fa.get('counts_b_edits', {}).get('a_flips', 0)})</td></tr>"
            )
        html += (
            "<h3>Another classifier in this StyleSpace</h3>"
            '<table class="data"><tr><th>classifier</th><th>top-5 overlap</th>'
            "<th>top-10 overlap</th><th>the run's counterfactuals flip it too</th>"
            "<th>its counterfactuals flip the run's</th></tr>" + "".join(arows) + "</table>"
            '<p class="note">Overlap: share of the run classifier\'s top-k attributes per class '
            "that the other classifier's AttFind also ranks top-k. Counterfactual alignment: a "
            "classifier's counterfactual of an image is the shortest prefix of its top-10 "
            "attributes of a class that makes it predict the class (images neither classifier "
            "already assigns to it); the share of those the other classifier also assigns to "
            "the class (of how many counterfactuals).</p>"
        )
    return html


__all__ = ["field_section"]
