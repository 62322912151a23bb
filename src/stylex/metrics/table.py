"""``stylex evaluate``'s plain-text table: StylEx | baseline | difference, one row per number of
:data:`~stylex.metrics.result.METRICS` (its ``short`` label and digits), then the fitness
verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stylex.metrics.realism import FD_NOTE
from stylex.metrics.result import METRICS, MetricsResult, format_number, lookup

Row = tuple[str, Any, Any, Any, int]


def _rows(m: MetricsResult, ks: Sequence[int]) -> list[Row]:
    base = m.baseline
    data, bdata = m.data, base.data if base is not None else {}
    diff = data.get("difference", {})
    rows: list[Row] = []
    for info in METRICS:
        if not info.in_table:
            continue
        if info.per_k:
            own = data.get(info.key) or {}
            for k in ks:
                if str(k) in own:
                    key = f"{info.key}.{k}"
                    label = info.short.format(k=k)
                    rows.append(
                        (label, own[str(k)], lookup(bdata, key), lookup(diff, key), info.digits)
                    )
            continue
        if info.section is not None and not data.get(info.section):
            continue  # a section this run does not have (ground truth without factors)
        rows.append(
            (
                info.short,
                lookup(data, info.key),
                lookup(bdata, info.key),
                lookup(diff, info.key),
                info.digits,
            )
        )
    return rows


def format_table(
    metrics: Mapping[str, Any] | MetricsResult, ks: Sequence[int] = (1, 2, 3, 5, 10)
) -> str:
    """A plain-text table of ``metrics.json`` content (a dict or a :class:`MetricsResult`):
    StylEx | baseline | difference."""
    m = metrics if isinstance(metrics, MetricsResult) else MetricsResult(dict(metrics))
    base = m.baseline
    name = "baseline" if m.is_baseline_run else "StylEx"
    title = f"{'metric':<30}{name:>10}"
    if base is not None:
        title += f"{'baseline':>10}{'diff':>10}"
    lines = [f"metrics on {m.data.get('num_images')} held-out images", title, "-" * len(title)]
    for label, a, b, d, digits in _rows(m, ks):
        line = f"{label:<30}{format_number(a, digits):>10}"
        if base is not None:
            line += f"{format_number(b, digits):>10}{format_number(d, digits, signed=True):>10}"
        lines.append(line)
    lines.append("* " + FD_NOTE)
    for label, part in (("", m), ("baseline ", base)):
        f = part.fitness if part is not None else None
        if f is not None:
            lines.append(label + f.summary())
            lines += [f"  cause: {c}" for c in f.causes]
            lines += [f"  warning: {w}" for w in f.warnings]
    return "\n".join(lines)


__all__ = ["format_table"]
