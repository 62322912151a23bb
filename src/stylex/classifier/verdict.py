"""The result of :func:`~stylex.classifier.diagnose_classifier`: accuracy, confusion, verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from stylex.classifier.contract import ClassifierContract
from stylex.classifier.options import describe_contract
from stylex.errors import ClassifierError

BETTER_BY = 0.25  # an alternative (or class assignment) this much more accurate is a verdict


@dataclass
class ClassifierCheck:
    """The result of :func:`diagnose_classifier` (JSON-able with :meth:`to_dict`)."""

    data: str
    contract: dict[str, Any]
    class_names: list[str]
    num_images: int
    accuracy: float | None  # None: unlabelled data (verdict "unlabelled")
    chance: float
    per_class: list[float]
    confusion: list[list[int]]  # [true class][predicted class]
    verdict: str
    message: str
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fit(self) -> bool:
        return self.verdict == "fit"

    @property
    def usable(self) -> bool:
        """``fit``, or ``unlabelled`` (no labels to check the classifier against: its
        predictions are the labels, and the run says so)."""
        return self.verdict in ("fit", "unlabelled")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def raise_unless_fit(self, hint: str = "") -> None:
        """Raise :class:`ClassifierError` with the verdict's message unless it is ``fit`` (or
        ``unlabelled``: :attr:`usable`)."""
        if not self.usable:
            raise ClassifierError(self.message + (f" {hint}" if hint else ""))

    def format(self) -> str:
        """A readable report: contract, accuracy, per class, confusion, alternatives, verdict."""
        lines = ["classifier contract (field, value, option):"]
        lines.append(describe_contract(ClassifierContract.from_dict(self.contract)))
        lines += [f"note: {n}" for n in self.notes]
        if self.accuracy is None:
            lines.append(f"verdict: {self.verdict}: {self.message}")
            return "\n".join(lines)
        lines.append(
            f"accuracy on {self.num_images} images of {self.data}: {self.accuracy:.1%} "
            f"(chance {self.chance:.1%})"
        )
        w = max(8, *(len(n) for n in self.class_names))
        lines.append("per class (rows: true class, columns: predicted):")
        lines.append(
            f"  {'class':<{w}} {'acc':>6}  "
            + " ".join(f"{i:>5}" for i in range(len(self.class_names)))
        )
        for i, (name, acc) in enumerate(zip(self.class_names, self.per_class, strict=True)):
            row = " ".join(f"{v:>5}" for v in self.confusion[i])
            lines.append(f"  {name:<{w}} {acc:>6.1%}  {row}   [{i}]")
        if self.alternatives:
            lines.append("accuracy with one contract change (best first):")
            for a in self.alternatives:
                shown = "fails" if a["accuracy"] is None else f"{a['accuracy']:.1%}"
                extra = f" ({a['error']})" if a.get("error") else ""
                lines.append(f"  {a['option']:<40} {shown}{extra}")
        lines.append(f"verdict: {self.verdict}: {self.message}")
        return "\n".join(lines)
