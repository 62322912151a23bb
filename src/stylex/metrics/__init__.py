"""Metrics: how faithful an explanation is (DESIGN.md, "Metrics").

::

    from stylex.metrics import evaluate, format_table
    metrics = evaluate("runs/shapes", baseline="runs/shapes-baseline")  # writes metrics.json
    print(format_table(metrics))

Modules: :mod:`~stylex.metrics.consistency` (classifier consistency, reconstruction),
:mod:`~stylex.metrics.sufficiency` (flip rate of the top-k attributes),
:mod:`~stylex.metrics.realism` (Fréchet distances in EfficientNet-Lite0 feature space, not
Inception FID), :mod:`~stylex.metrics.ground_truth` (attribute → factor; the factor probe in
:mod:`~stylex.metrics.probe` and :mod:`~stylex.metrics.probe_training`),
:mod:`~stylex.metrics.evaluate` (the whole evaluation), :mod:`~stylex.metrics.result`
(``metrics.json``: ``MetricsResult`` and the metric descriptions ``METRICS``),
:mod:`~stylex.metrics.table` (the CLI table);
the field's counterfactual metrics: :mod:`~stylex.metrics.counterfactual` (definitions),
:mod:`~stylex.metrics.field` (per explainer), :mod:`~stylex.metrics.gradient_baseline`,
:mod:`~stylex.metrics.alignment` (two classifiers in one StyleSpace).
"""

from stylex.metrics.consistency import (
    classifier_consistency,
    consistency_metrics,
    reconstruction_metrics,
)
from stylex.metrics.evaluate import METRICS_FILE, evaluate, format_table, select_images
from stylex.metrics.ground_truth import (
    FactorProbe,
    FactorSpec,
    attribute_factor_changes,
    dominant_factor,
    factor_specs,
    ground_truth_scores,
    load_or_train_probe,
    probe_errors,
    train_probe,
)
from stylex.metrics.realism import random_samples, realism_metrics
from stylex.metrics.result import METRICS, MetricInfo, MetricsResult
from stylex.metrics.sufficiency import (
    SufficiencyResult,
    reference_sufficiency,
    run_sufficiency,
    sufficiency,
)

__all__ = [
    "METRICS",
    "METRICS_FILE",
    "FactorProbe",
    "FactorSpec",
    "MetricInfo",
    "MetricsResult",
    "SufficiencyResult",
    "attribute_factor_changes",
    "classifier_consistency",
    "consistency_metrics",
    "dominant_factor",
    "evaluate",
    "factor_specs",
    "format_table",
    "ground_truth_scores",
    "load_or_train_probe",
    "probe_errors",
    "random_samples",
    "realism_metrics",
    "reconstruction_metrics",
    "reference_sufficiency",
    "run_sufficiency",
    "select_images",
    "sufficiency",
    "train_probe",
]
