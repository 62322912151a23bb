"""The verdict's types: thresholds, one check, the whole verdict (JSON round-trip)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from stylex.metrics.probe_training import MAX_FACTOR_EXCESS

FITNESS_FORMAT = 1
FITNESS_FILE = "fitness.json"
PASSED, FAILED, NOT_APPLICABLE, NOT_RUN, INFO = (
    "passed",
    "failed",
    "not applicable",
    "not run",
    "info",
)


@dataclass(frozen=True)
class FitnessThresholds:
    """Pass thresholds of the checks (module docstring says why each default)."""

    recon_ratio: float = 0.8  # reconstruction L1 ≤ this × the best trivial reference
    min_retrieval: float = 0.8  # closer to its own image than to others of its class
    min_consistency: float = 0.8  # reconstructions keep the class
    min_neutral_kappa: float = 0.25  # chance-corrected class share under the mean condition
    min_concentration: float = 0.5  # top-k coordinates carry half the condition's style change
    min_swap_follow: float = 0.25  # (advisory) swapped conditions that carry the class along
    min_attribute_flip: float = 0.25  # top-10 attributes flip ≥ 25% more images than no edit
    min_attribute_effect: float = 0.01  # (no sufficiency) median top-attribute mean effect
    max_factor_excess: float = MAX_FACTOR_EXCESS  # probe error on x' minus on x (factor_excess)
    min_label_precision: float = 0.5  # top-5 attributes whose main change is a label factor
    min_rule_agreement: float = 0.9  # classifier vs label rule: ground truth check is required


@dataclass
class Check:
    """One check of the verdict. ``passed`` is None when not applicable, not run or
    informational (``status`` says which)."""

    value: float | None
    reference: float | None
    passed: bool | None
    status: str
    required: bool = True
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _num(self.value),
            "reference": _num(self.reference),
            "passed": self.passed,
            "status": self.status,
            "required": self.required,
            "detail": self.detail,
            **self.extra,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Check:
        known = ("value", "reference", "passed", "status", "required", "detail")
        by_passed: dict[Any, str] = {True: PASSED, False: FAILED}
        status = d.get("status") or by_passed.get(d.get("passed"), INFO)
        return cls(
            d.get("value"),
            d.get("reference"),
            d.get("passed"),
            status,
            bool(d.get("required", True)),
            d.get("detail", ""),
            {k: v for k, v in d.items() if k not in known},
        )


@dataclass
class Fitness:
    """The verdict. ``causes``: one per failed required check (what is wrong, what to do);
    ``warnings``: failed advisory checks."""

    fit: bool
    causes: list[str]
    checks: dict[str, Check]
    warnings: list[str] = field(default_factory=list)
    num_images: int = 0
    seconds: float = 0.0
    thresholds: FitnessThresholds = field(default_factory=FitnessThresholds)

    @property
    def failed(self) -> list[str]:
        """Names of the failed required checks."""
        return [k for k, c in self.checks.items() if c.required and c.passed is False]

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FITNESS_FORMAT,
            "fit": self.fit,
            "causes": list(self.causes),
            "warnings": list(self.warnings),
            "checks": {k: c.to_json() for k, c in self.checks.items()},
            "num_images": self.num_images,
            "seconds": self.seconds,
            "thresholds": asdict(self.thresholds),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fitness:
        if not isinstance(d, dict) or "fit" not in d or not isinstance(d.get("checks"), dict):
            raise ValueError("not a fitness verdict (needs 'fit' and 'checks')")
        th = {
            k: v
            for k, v in (d.get("thresholds") or {}).items()
            if k in FitnessThresholds.__dataclass_fields__
        }
        return cls(
            bool(d["fit"]),
            list(d.get("causes", [])),
            {k: Check.from_json(c) for k, c in d["checks"].items()},
            list(d.get("warnings", [])),
            int(d.get("num_images", 0)),
            float(d.get("seconds", 0.0)),
            FitnessThresholds(**th),
        )

    def summary(self) -> str:
        """One line: ``fitness: fit`` or ``fitness: NOT FIT (failed: …)``."""
        if self.fit:
            return f"fitness: fit to explain ({self._ran()} checks passed)"
        return f"fitness: NOT FIT to explain (failed: {', '.join(self.failed)})"

    def _ran(self) -> int:
        return sum(c.passed is True and c.required for c in self.checks.values())

    def format(self) -> str:
        """The summary line, the causes and a table of the checks (plain text)."""
        lines = [self.summary()]
        lines += [f"  cause: {c}" for c in self.causes]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(f"  {'check':<26}{'value':>9}{'ref.':>9}  status")
        for name, c in self.checks.items():
            status = c.status if c.required or c.status != FAILED else "failed (advisory)"
            lines.append(f"  {name:<26}{_fmt(c.value):>9}{_fmt(c.reference):>9}  {status}")
        return "\n".join(lines)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _fmt(v: float | None) -> str:
    return "—" if v is None or not math.isfinite(float(v)) else f"{float(v):.3f}"
