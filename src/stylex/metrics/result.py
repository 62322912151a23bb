"""``metrics.json``: its one schema, the typed result that reads and writes it, and the one list
of metric descriptions that the CLI table (and the report) show.

::

    from stylex.metrics.result import METRICS, MetricsResult
    m = MetricsResult.load("runs/shapes")           # RUN/metrics.json (or a file path)
    m.value("consistency"), m.value("ground_truth.recall_top10"), m.sufficiency[10]
    m.baseline.value("consistency") if m.baseline else None
    for info in METRICS: print(info.label, info.format(m.value(info.key)))

Content (``format_version`` 1), per run: the numbers of :data:`METRICS` (top-level keys and
the ``sufficiency`` / ``ground_truth`` sections), ``sufficiency_per_class``,
``sufficiency_details``, ``fitness``, ``counterfactual``, ``attfind``, ``seconds``; with a
baseline also ``baseline`` (the same keys for the baseline run) and ``difference`` (run −
baseline). Undefined values are ``null``. The full description is
:mod:`stylex.metrics.evaluate`'s docstring.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from stylex.metrics.fitness.verdict import Fitness
from stylex.metrics.realism import FD_NOTE
from stylex.utils.fs import atomic_write_json, read_versioned_json

METRICS_FORMAT = 1
METRICS_FILE = "metrics.json"

# metrics.json["definitions"]: how each number is computed (written with every result)
DEFINITIONS = {
    "consistency": "share of held-out images x whose reconstruction G(E(x)) gets the class "
    "the classifier predicts on x",
    "prob_diff": "mean |p_y(x) - p_y(G(E(x)))|, y = class predicted on the real image x",
    "prob_tv": "mean total-variation distance 0.5*sum_k |p_k(x) - p_k(G(E(x)))|",
    "sufficiency": "over held-out images whose real image is not predicted y: share predicted y "
    "after applying y's top-k AttFind attributes cumulatively to E(x) and regenerating; mean "
    "over classes; a class with fewer than k attributes carries its last value",
    "sufficiency_k0": "the same share with no edit (reconstruction already predicted y)",
    "sufficiency_display": "sufficiency with each attribute at its display strength (the "
    "smallest multiple 1-4x of AttFind's shift at which its edit is visible and moves p by 0.1; "
    "stylex.attfind.visibility), as the report shows it",
    "reconstruction_l1": "mean |x - G(E(x))| per pixel, images in [-1, 1]",
    "perceptual": "mean LPIPS-like distance on EfficientNet-Lite0 features (not LPIPS)",
    "fd": FD_NOTE,
    "fd_samples": "real held-out images vs N random samples (z ~ N(0, I), condition from the "
    "classifier on shuffled real images, constant noise)",
    "fd_reconstructions": "real held-out images vs their reconstructions",
    "fd_real_reference": "real held-out images vs N training images (floor at this N)",
    "fitness": "verdict: fit = every required check passed (reconstruction vs trivial "
    "references, retrieval of the own image, consistency, class kept under the mean condition, "
    "attribute effect, factor errors); see stylex.metrics.fitness",
    "ground_truth": "precision_top5: share of top-5 attributes (all classes) whose dominant "
    "factor (probe-measured, normalised change) is a label-rule factor; recall_top10: share of "
    "label-rule factors that are the dominant factor of some top-10 attribute; joint_*: the "
    "same for each class's top-k attributes applied together",
}


# ------------------------------------------------------------------------------ descriptions
@dataclass(frozen=True)
class MetricInfo:
    """One number of ``metrics.json`` as the CLI table and the report show it.

    Attributes:
        key: its path in ``metrics.json``: ``"consistency"``, ``"ground_truth.recall_top10"``;
            for ``per_k`` the section (``"sufficiency"``: one number per k, ``"sufficiency.10"``).
        label: the name the report shows; ``short``: the CLI table's row label (≤ 30
            characters; ``{k}`` is replaced by k for ``per_k``).
        digits: decimals shown.
        higher_is_better: True (↑), False (↓) or None (a reference value, no direction).
        description: one line, what it measures.
        in_table: shown in ``stylex evaluate``'s table.
        per_k: one number per k (``sufficiency``).
    """

    key: str
    label: str
    short: str
    digits: int
    higher_is_better: bool | None
    description: str
    in_table: bool = True
    per_k: bool = False

    @property
    def section(self) -> str | None:
        """The ``metrics.json`` section the number sits in (None for a top-level number)."""
        return self.key.split(".", 1)[0] if "." in self.key or self.per_k else None

    def format(self, value: Any, signed: bool = False) -> str:
        """``value`` with :attr:`digits` decimals; "—" for a missing or non-finite one."""
        return format_number(value, self.digits, signed)


# In `stylex evaluate`'s table order; the top-level numbers are also those `difference` holds.
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("consistency", "Classifier consistency", "classifier consistency", 3, True,
               "share of G(E(x)) keeping x's class"),
    MetricInfo("prob_diff", "Probability difference", "prob diff |Δp_ŷ|", 3, False,
               "mean |p(x) − p(x′)| of x's predicted class"),
    MetricInfo("prob_tv", "Probability TV distance", "prob TV", 3, False,
               "mean ½Σ|p(x) − p(x′)|", in_table=False),
    MetricInfo("sufficiency_k0", "Sufficiency with no edit", "sufficiency k=0 (no edit)", 3,
               None, "share already of the class before any edit (reconstruction)"),
    MetricInfo("sufficiency", "Sufficiency (flip rate) top-k", "sufficiency top-{k}", 3, True,
               "share turned into class y by y's top-k attributes together", per_k=True),
    MetricInfo("sufficiency_display", "Sufficiency at display strength top-k",
               "sufficiency shown top-{k}", 3, True,
               "the same with each attribute at the strength the report shows it (may lie past "
               "the range seen on real images)", per_k=True),
    MetricInfo("reconstruction_l1", "Reconstruction L1", "reconstruction L1 ([-1,1])", 4, False,
               "mean |x − x′|, images in [−1, 1]"),
    MetricInfo("perceptual", "Perceptual distance", "perceptual (EffNet-Lite0)", 4, False,
               "LPIPS-like on EfficientNet-Lite0 features"),
    MetricInfo("fd_samples", "FD (random samples)", "FD real vs samples*", 2, False,
               "Fréchet distance, real vs G(z)"),
    MetricInfo("fd_reconstructions", "FD (reconstructions)", "FD real vs reconstructions*", 2,
               False, "Fréchet distance, real vs G(E(x))"),
    MetricInfo("fd_real_reference", "FD (real reference)", "FD real vs real (floor)*", 2, None,
               "two real sets of this size: the floor"),
    MetricInfo("ground_truth.precision_top5", "Ground truth: precision@5", "GT precision top-5",
               3, True, "top-5 that change a used factor"),
    MetricInfo("ground_truth.recall_top10", "Ground truth: recall@10", "GT recall top-10", 3,
               True, "used factors found in the top 10"),
    MetricInfo("ground_truth.recall_top10_changed", "Ground truth: recall@10 (changed)",
               "GT recall top-10 (changed)", 3, True,
               "used factors some top-10 attribute changes", in_table=False),
    MetricInfo("ground_truth.joint_precision_top3", "Ground truth: joint top-3 edit",
               "GT joint top-3 precision", 3, True,
               "classes whose top-3 edits together change mainly a used factor"),
    MetricInfo("ground_truth.joint_recall_top10", "Ground truth: joint recall@10",
               "GT joint recall top-10", 3, True,
               "used factors that some class's joint top-k edit changes mainly",
               in_table=False),
    MetricInfo("ground_truth.classifier_agreement", "Ground truth: classifier follows the rule",
               "classifier = label rule", 3, None,
               "share of images whose predicted class is the label rule's", in_table=False),
)  # fmt: skip


def metric_info(key: str) -> MetricInfo:
    """The :data:`METRICS` entry of ``key``."""
    for m in METRICS:
        if m.key == key:
            return m
    raise KeyError(f"no metric {key!r}; known: {[m.key for m in METRICS]}")


def format_number(value: Any, digits: int = 3, signed: bool = False) -> str:
    """``value`` with ``digits`` decimals (``signed``: with a sign); "—" for None/NaN/inf."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def lookup(data: Mapping[str, Any] | None, key: str) -> Any:
    """The raw value at the dotted ``key`` of ``metrics.json`` content (None when absent)."""
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def clean_json(x: Any) -> Any:
    """JSON-safe copy: NaN/inf → None, tensors → lists, tuples → lists."""
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean_json(v) for v in x]
    if isinstance(x, torch.Tensor):
        return clean_json(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics.json["difference"]``: run ``a`` − baseline ``b`` for every top-level number of
    :data:`METRICS`, every k of each per-k number (``sufficiency``, ``sufficiency_display``;
    NaN where either is missing) and the
    ``ground_truth`` scores."""
    out: dict[str, Any] = {}
    for m in METRICS:
        if m.section is None:
            va, vb = a.get(m.key), b.get(m.key)
            if isinstance(va, int | float) and isinstance(vb, int | float):
                out[m.key] = va - vb
    for m in METRICS:
        if not m.per_k or m.key not in a:
            continue
        sa, sb = a.get(m.key) or {}, b.get(m.key) or {}
        out[m.key] = {
            k: (
                sa[k] - sb[k]
                if isinstance(sa.get(k), float) and isinstance(sb.get(k), float)
                else float("nan")
            )
            for k in sa
        }
    ga, gb = a.get("ground_truth"), b.get("ground_truth")
    if ga and gb:
        gt_keys = [m.key.split(".", 1)[1] for m in METRICS if m.section == "ground_truth"]
        out["ground_truth"] = {
            k: ga[k] - gb[k]
            for k in gt_keys
            if isinstance(ga.get(k), float) and isinstance(gb.get(k), float)
        }
    return out


# ------------------------------------------------------------------------------ the result
@dataclass
class MetricsResult:
    """The content of one ``metrics.json`` (``data``, as written) with typed access.

    ``value(key)`` reads any number of :data:`METRICS` by its dotted key (None when missing or
    not a number); ``baseline`` is the baseline run's part as a ``MetricsResult`` (None without
    one); ``difference(key)`` reads run − baseline.
    """

    data: dict[str, Any]
    path: Path | None = None

    # -------------------------------------------------------------------------- files
    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> MetricsResult:
        """Read ``RUN/metrics.json`` (or the ``metrics.json`` file given); a
        :class:`~stylex.errors.RunError` when it is missing, unreadable or newer."""
        path = Path(run_dir)
        if path.is_dir():
            path = path / METRICS_FILE
        data = read_versioned_json(
            path, METRICS_FORMAT, what="metrics", hint="run `stylex evaluate --run RUN`"
        )
        return cls(data, path)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricsResult:
        return cls(dict(data))

    def to_json(self) -> dict[str, Any]:
        """The ``metrics.json`` content (JSON-safe: NaN as null)."""
        out: dict[str, Any] = clean_json(self.data)
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        self.path = Path(path)
        atomic_write_json(self.path, self.to_json())
        return self.path

    # -------------------------------------------------------------------------- numbers
    def raw(self, key: str) -> Any:
        """The stored value at dotted ``key`` (any type; None when absent)."""
        return lookup(self.data, key)

    def value(self, key: str) -> float | None:
        """The number at dotted ``key`` (e.g. ``"sufficiency.10"``); None if absent/null."""
        return _number(lookup(self.data, key))

    def difference(self, key: str) -> float | None:
        """run − baseline at dotted ``key`` (None without a baseline or when undefined)."""
        return _number(lookup(self.data.get("difference"), key))

    @property
    def format_version(self) -> int:
        return int(self.data.get("format_version", 0))

    @property
    def num_images(self) -> int | None:
        n = self.value("num_images")
        return None if n is None else int(n)

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.data.get("class_names") or []]

    @property
    def is_baseline_run(self) -> bool:
        """Whether these are the numbers of a baseline run (trained without the classifier)."""
        return bool(self.data.get("baseline_run"))

    @property
    def baseline(self) -> MetricsResult | None:
        b = self.data.get("baseline")
        return MetricsResult(b) if isinstance(b, dict) else None

    @property
    def sufficiency(self) -> dict[int, float]:
        """``{k: flip rate}`` for the k that have a number."""
        s = self.data.get("sufficiency")
        out: dict[int, float] = {}
        if isinstance(s, dict):
            for k, v in s.items():
                if str(k).isdigit() and _number(v) is not None:
                    out[int(k)] = float(v)
        return out

    def section(self, name: str) -> dict[str, Any] | None:
        """A dict-valued entry (``ground_truth``, ``counterfactual``, ``attfind``, …) or None."""
        v = self.data.get(name)
        return v if isinstance(v, dict) else None

    @property
    def ground_truth(self) -> dict[str, Any] | None:
        return self.section("ground_truth")

    @property
    def counterfactual(self) -> dict[str, Any] | None:
        return self.section("counterfactual")

    @property
    def fitness(self) -> Fitness | None:
        f = self.section("fitness")
        return Fitness.from_json(f) if f is not None else None

    @property
    def fd_note(self) -> str | None:
        note = self.data.get("fd_note")
        return note if isinstance(note, str) else None


__all__ = [
    "DEFINITIONS",
    "METRICS",
    "METRICS_FILE",
    "METRICS_FORMAT",
    "MetricInfo",
    "MetricsResult",
    "clean_json",
    "difference",
    "format_number",
    "lookup",
    "metric_info",
]
