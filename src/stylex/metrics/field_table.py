"""Plain-text table of the field metrics (``metrics.json["counterfactual"]``), one column per
explainer: StylEx attributes, StylEx per-image counterfactuals, the gradient baseline, the
``--baseline`` run's attributes (whichever were computed)."""

from __future__ import annotations

import math
from typing import Any

from stylex.metrics.field import FIELD_NOTE


def _f(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}"


def field_columns(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The explainers in ``metrics.json`` content, in table order: (label, entry)."""
    cf = metrics.get("counterfactual") or {}
    cols = []
    for key, label in (("attributes", "StylEx attr."), ("per_image", "StylEx per-img")):
        if isinstance(cf.get(key), dict):
            cols.append((label, cf[key]))
    if isinstance((cf.get("baselines") or {}).get("gradient"), dict):
        cols.append(("gradient", cf["baselines"]["gradient"]))
    b = ((metrics.get("baseline") or {}).get("counterfactual") or {}).get("attributes")
    if isinstance(b, dict):
        cols.append(("baseline attr.", b))
    return cols


FIELD_ROWS = (
    ("flip rate", "flip_rate", 3),
    ("reconstruction already target", "already_target", 3),
    ("attributes/steps needed", "attributes_needed", 2),
    ("COUT (correct images)", "cout", 3),
    ("proximity L1 ([-1,1])", "proximity_l1", 4),
    ("proximity perceptual*", "proximity_perceptual", 4),
    ("style coords changed", "style_coords_changed", 1),
    ("split FD**", "split_fd", 1),
    ("split FD floor (real/real)", "split_fd_floor", 1),
)


def format_field_table(metrics: dict[str, Any]) -> str:
    """Plain-text side-by-side table of the field metrics (empty string if there are none)."""
    cols = field_columns(metrics)
    if not cols:
        return ""
    rows: list[tuple[str, str | tuple[str, str], int]] = list(FIELD_ROWS)
    if any("minimality" in e for _, e in cols):
        rows += [
            ("factors changed (MNAC-like)", ("minimality", "factors_changed"), 2),
            ("only label factors", ("minimality", "only_label_factors"), 3),
        ]
    width = 16
    head = f"{'counterfactual metric':<30}" + "".join(f"{lab:>{width}}" for lab, _ in cols)
    n = (metrics.get("counterfactual") or {}).get("settings", {}).get("num_images")
    lines = [
        f"counterfactual metrics on {n} held-out images (each toward its runner-up class; "
        "those whose reconstruction is already the target only count in that row)",
        head,
        "-" * len(head),
    ]
    for label, key, digits in rows:
        vals = []
        for _, e in cols:
            v = e.get(key[0], {}).get(key[1]) if isinstance(key, tuple) else e.get(key)
            vals.append(_f(v, digits))
        lines.append(f"{label:<30}" + "".join(f"{v:>{width}}" for v in vals))
    lines.append("* LPIPS-like on EfficientNet-Lite0 features, not LPIPS")
    lines.append("** " + FIELD_NOTE)
    for name, a in ((metrics.get("counterfactual") or {}).get("alignment") or {}).items():
        fa = a.get("flip_alignment", {})
        lines.append(
            f"classifier {name!r} vs the run's: top-5 overlap {_f(a.get('overlap_top5'))}, "
            f"top-10 {_f(a.get('overlap_top10'))}; the run classifier's counterfactuals flip it "
            f"{_f(fa.get('a_to_b'))} (of {fa.get('counts_a_edits', {}).get('a_flips', 0)}), its "
            f"counterfactuals flip the run's {_f(fa.get('b_to_a'))} "
            f"(of {fa.get('counts_b_edits', {}).get('a_flips', 0)})"
        )
    return "\n".join(lines)


__all__ = ["FIELD_ROWS", "field_columns", "format_field_table"]
