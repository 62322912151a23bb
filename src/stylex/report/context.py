"""What every section of a report reads: the run (and baseline), the options, the explainers,
the metrics and the held-out images."""

from __future__ import annotations

from dataclasses import dataclass

from stylex.data import StylexDataset
from stylex.errors import StylexError
from stylex.explain import Explainer, display_scale
from stylex.report.metrics_view import load_report_metrics
from stylex.run import Run


@dataclass
class ReportOptions:
    """What goes into the page (defaults keep a 32-px run's page around 1–3 MB)."""

    top_k: int = 5  # attributes shown per class
    num_images: int = 6  # original/edited pairs per attribute view
    num_explain: int = 4  # held-out images explained one by one
    num_reconstructions: int = 8
    sweep_steps: int = 9
    shift_size: float | None = None  # attribute strength (default: AttFind's)
    baseline_top_k: int = 3  # attributes per class in the side-by-side comparison


class ReportContext:
    """The run of a report (and optionally a baseline run), loaded once for all sections."""

    def __init__(self, run: Run, baseline: Run | None = None, options: ReportOptions | None = None):
        self.run = run
        self.base = baseline
        self.opt = options or ReportOptions()
        self.names = run.class_names
        self.scale = display_scale(run.generator.config.resolution)
        self.explainer, self.attfind_note = self._explainer(run)
        self.base_explainer, self.base_attfind_note = (
            self._explainer(baseline) if baseline is not None else (None, "")
        )
        numbers = load_report_metrics(run.path, baseline.path if baseline is not None else None)
        self.metrics, self.metrics_note = numbers.metrics, numbers.note
        self.base_metrics = numbers.baseline
        self._val: StylexDataset | None = None

    def _explainer(self, run: Run) -> tuple[Explainer | None, str]:
        try:
            return Explainer(run, shift_size=self.opt.shift_size), ""
        except StylexError as e:
            return None, str(e)

    @property
    def val(self) -> StylexDataset:
        """The held-out images (all images when the run has none held out)."""
        if self._val is None:
            self._val = self.run.dataset("val")
            if len(self._val) == 0:
                self._val = self.run.dataset("all")
        return self._val

    def held_out(self, n: int) -> list[int]:
        """``n`` held-out image positions, taking the classes in turn."""
        labels = self.val.labels.tolist()
        per_class: dict[int, list[int]] = {}
        for i, y in enumerate(labels):
            per_class.setdefault(y, []).append(i)
        out: list[int] = []
        queues = [per_class[k] for k in sorted(per_class)]
        while len(out) < min(n, len(labels)):
            for q in queues:
                if q and len(out) < n:
                    out.append(q.pop(0))
        return out
