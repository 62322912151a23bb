"""The report's one reader of ``metrics.json`` and its knowledge of the file's keys.

Every section that shows numbers of ``stylex evaluate`` reads them through this module: the
file (:func:`load_report_metrics`), the rows of the metrics table and what each key means
(:data:`METRIC_ROWS`, :data:`GT_ROWS`: views of :data:`stylex.metrics.result.METRICS`, the
one list of metric descriptions that ``stylex evaluate``'s table also shows), and the
accessors of its nested parts (:func:`sufficiency`, :func:`classes`, :func:`per_class`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylex.errors import RunError
from stylex.metrics.result import METRICS, METRICS_FILE, MetricInfo, MetricsResult


def _direction(m: MetricInfo) -> str | None:
    return None if m.higher_is_better is None else ("up" if m.higher_is_better else "down")


# The metrics table's rows, from the one list of metric descriptions (stylex.metrics.result):
# (key, label, description, which way is better: "up" / "down" / None)
METRIC_ROWS: list[tuple[str, str, str, str | None]] = [
    (m.key, m.label, m.description, _direction(m)) for m in METRICS if m.section is None
]
GT_ROWS: list[tuple[str, str, str, str | None]] = [
    (m.key.split(".", 1)[1], m.label, m.description, _direction(m))
    for m in METRICS
    if m.section == "ground_truth" and m.in_table
]
SECTION_KEYS = {"baseline", "difference", "sufficiency", "ground_truth"}
META_KEYS = {"format_version", "num_images", "baseline_run", "seed", "same_images"}


def read_metrics(path: Path) -> tuple[dict | None, str]:
    """``metrics.json`` → (dict or None, a note when it is missing or unreadable)."""
    if not path.is_file():
        return None, ""
    try:
        return MetricsResult.load(path).data, ""
    except (OSError, RunError) as e:
        return None, f"{path.name} could not be read ({e})"


def number(v: Any) -> float | None:
    """A metric value as a float (None when it is not a number)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def sufficiency(m: dict | None) -> dict[int, float]:
    """``{k: flip rate}`` of the sufficiency curve (mean over classes)."""
    s = (m or {}).get("sufficiency")
    out = {}
    if isinstance(s, dict):
        for k, v in s.items():
            if str(k).isdigit() and number(v) is not None:
                out[int(k)] = float(v)
    return out


def display_sufficiency(m: dict | None) -> dict[int, float]:
    """``{k: flip rate}`` with each attribute at its display strength (empty when absent)."""
    return sufficiency({"sufficiency": (m or {}).get("sufficiency_display")})


def classes(m: dict | None) -> list[str]:
    """The classes with a per-class sufficiency curve."""
    per = (m or {}).get("sufficiency_per_class")
    return [str(c) for c in per] if isinstance(per, dict) else []


def per_class(m: dict | None, cls: str) -> dict[int, float]:
    """The sufficiency curve of class ``cls``."""
    per = (m or {}).get("sufficiency_per_class")
    return sufficiency({"sufficiency": per.get(cls)}) if isinstance(per, dict) else {}


@dataclass
class ReportMetrics:
    """The numbers a report shows: the run's metrics.json (None when absent or unreadable,
    ``note`` says why) and the baseline's numbers."""

    metrics: dict | None
    note: str
    baseline: dict | None


def load_report_metrics(run_dir: str | Path, baseline_dir: str | Path | None) -> ReportMetrics:
    """The run's metrics; the baseline's numbers come from this run's metrics.json (computed
    on the same images by ``stylex evaluate --baseline``), else from the baseline run's own."""
    metrics, note = read_metrics(Path(run_dir) / METRICS_FILE)
    base = None
    if isinstance((metrics or {}).get("baseline"), dict):
        base = (metrics or {})["baseline"]
    elif baseline_dir is not None:
        base, _ = read_metrics(Path(baseline_dir) / METRICS_FILE)
    return ReportMetrics(metrics, note, base)
