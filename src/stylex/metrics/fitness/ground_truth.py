"""The fitness verdict's ``ground_truth`` check (data with known factors and a label rule;
definitions: :mod:`stylex.metrics.fitness`, :mod:`stylex.metrics.ground_truth`) and the texts
its cause and warnings use."""

from __future__ import annotations

import math
from collections import Counter

from stylex.metrics.fitness.verdict import FAILED, NOT_RUN, PASSED, Check, FitnessThresholds
from stylex.metrics.gt_scores import joint_at


def ground_truth_check(gt: dict | None, th: FitnessThresholds) -> Check:
    """``ground_truth`` from the ``ground_truth`` entry of ``metrics.json`` (data with known
    factors and a label rule; :mod:`stylex.metrics.ground_truth`)."""
    gt = gt or {}
    lf = list(gt.get("label_factors") or [])
    rows = [r for r in gt.get("attributes") or [] if r.get("rank", 99) <= 5]
    value = gt.get("precision_top5")
    if not lf or not rows or value is None or not math.isfinite(float(value)):
        return Check(
            None,
            None,
            None,
            NOT_RUN,
            required=False,
            detail="no ground truth measured (data without a known label rule, or not "
            "evaluated with attributes yet)",
        )
    names = list(gt.get("factor_names") or lf)
    agreement = gt.get("classifier_agreement")
    required = agreement is not None and float(agreement) >= th.min_rule_agreement
    main = Counter(r.get("dominant") or "none" for r in rows).most_common()
    top10 = [r for r in gt.get("attributes") or [] if r.get("rank", 99) <= 10]
    found = {r.get("dominant") for r in top10}
    missing = [f for f in lf if f not in found]
    passed = float(value) >= th.min_label_precision
    joint_rows = [r for r in gt.get("joint_attributes") or [] if r.get("k", 99) <= 10]
    joint = {
        str(c): {"k": int(r["k"]), "dominant": r.get("dominant") or "none"}
        for c, r in joint_at(joint_rows, 3).items()
    }
    joint_found = {r.get("dominant") for r in joint_rows}
    return Check(
        float(value),
        len(lf) / max(len(names), 1),
        passed,
        PASSED if passed else FAILED,
        required=required,
        detail="share of the top-5 attributes whose main change is a factor of the label rule",
        extra={
            "label_factors": lf,
            "main_changes": dict(main),
            "joint_main_changes": joint,
            "joint_found": [f for f in lf if f in joint_found],
            "missing": missing,
            "recall_top10": gt.get("recall_top10"),
            "classifier_agreement": agreement,
            "threshold": th.min_label_precision,
            "agreement_threshold": th.min_rule_agreement,
        },
    )


def main_changes_text(extra: dict) -> str:
    shown = {"none": "no measurable factor"}
    return ", ".join(
        f"{shown.get(k, k)} ×{v}" for k, v in (extra.get("main_changes") or {}).items()
    )


def joint_changes_text(extra: dict) -> str:
    """' Applied together, …' naming each class's top-3 joint edit's main change ('' when
    not measured)."""
    joint = extra.get("joint_main_changes") or {}
    if not joint:
        return ""
    lf = set(extra.get("label_factors") or [])
    parts = [
        f"{c}'s top {j['k']}: {j['dominant']}{' (a rule factor)' if j['dominant'] in lf else ''}"
        for c, j in joint.items()
    ]
    return (
        " Applied together, the attributes change mainly: "
        + "; ".join(parts)
        + " (metrics.json `ground_truth.joint_attributes`)."
    )
