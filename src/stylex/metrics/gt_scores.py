"""The ground-truth scores from attribute rows (definitions: :mod:`stylex.metrics.ground_truth`,
which measures the rows): single attributes (``precision_top5``, ``recall_top10``,
``recall_top10_changed``) and each class's top-k attributes together (``joint_*``). Pure
functions of the rows, so the fitness verdict reads them without the probe's machinery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_CHANGE_THRESHOLD = 0.25


def ground_truth_scores(
    rows: Sequence[dict[str, Any]],
    label_factors: Sequence[str],
    precision_k: int = 5,
    recall_k: int = 10,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
) -> dict[str, float]:
    """``precision_top5``, ``recall_top10`` and ``recall_top10_changed`` (module docstring)
    from attribute rows ``{"rank": 1-based rank within its class, "dominant": factor or None,
    "change": {factor: mean |Δ|} (only for the ``_changed`` recall)}``. NaN where undefined
    (no top-k attributes, or no label factors)."""
    lf = set(label_factors)
    top_p = [r for r in rows if r["rank"] <= precision_k]
    top_r = [r for r in rows if r["rank"] <= recall_k]
    precision = sum(r["dominant"] in lf for r in top_p) / len(top_p) if top_p else float("nan")
    if lf and top_r:
        found = {r["dominant"] for r in top_r} & lf
        changed = {
            f for r in top_r for f, v in r.get("change", {}).items() if v >= change_threshold
        } & lf
        recall, recall_changed = len(found) / len(lf), len(changed) / len(lf)
    else:
        recall = recall_changed = float("nan")
    return {
        f"precision_top{precision_k}": precision,
        f"recall_top{recall_k}": recall,
        f"recall_top{recall_k}_changed": recall_changed,
    }


def joint_at(rows: Sequence[dict[str, Any]], k: int = 3) -> dict[Any, dict[str, Any]]:
    """Per class, its joint-edit row with the largest ``k`` up to ``k`` (the top-``k`` edit, or
    the class's whole list when it has fewer attributes)."""
    out: dict[Any, dict[str, Any]] = {}
    for r in rows:
        if r["k"] <= k and r["k"] >= out.get(r["class"], {"k": 0})["k"]:
            out[r["class"]] = r
    return out


def joint_scores(
    rows: Sequence[dict[str, Any]],
    label_factors: Sequence[str],
    precision_k: int = 3,
    recall_k: int = 10,
) -> dict[str, float]:
    """``joint_precision_top3`` and ``joint_recall_top10`` (module docstring) from joint-edit
    rows ``{"class": name, "k": number of edits applied together, "dominant": factor or
    None}``. A class with fewer than ``precision_k`` attributes is scored at its last row. NaN
    where undefined (no rows, or no label factors)."""
    lf = set(label_factors)
    last = joint_at(rows, precision_k)
    precision = (
        sum(r["dominant"] in lf for r in last.values()) / len(last) if last else float("nan")
    )
    top_r = [r for r in rows if r["k"] <= recall_k]
    recall = len({r["dominant"] for r in top_r} & lf) / len(lf) if lf and top_r else float("nan")
    return {f"joint_precision_top{precision_k}": precision, f"joint_recall_top{recall_k}": recall}
