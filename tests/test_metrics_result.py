"""metrics.json's typed reader (MetricsResult) and the one list of metric descriptions."""

from __future__ import annotations

import json

import pytest

from stylex.errors import RunError
from stylex.metrics import METRICS, MetricsResult, format_table
from stylex.metrics.result import METRICS_FORMAT, difference, metric_info

RUN = {
    "format_version": 1,
    "class_names": ["a", "b"],
    "num_images": 16,
    "consistency": 0.9,
    "prob_diff": 0.1,
    "prob_tv": 0.2,
    "sufficiency": {"1": 0.1, "2": 0.25, "10": None},
    "sufficiency_k0": 0.05,
    "reconstruction_l1": 0.12,
    "perceptual": None,
    "fd_samples": 12.3,
    "fd_reconstructions": 4.5,
    "fd_real_reference": 1.0,
    "ground_truth": {"precision_top5": 0.6, "recall_top10": 0.5, "recall_top10_changed": 1.0},
}


def test_descriptions_are_complete_and_unique():
    keys = [m.key for m in METRICS]
    assert len(keys) == len(set(keys))
    for m in METRICS:
        assert m.label and m.description and "\n" not in m.description
        assert len(m.short.format(k=10)) <= 30 and m.digits >= 0
        assert m.higher_is_better in (True, False, None)
    assert metric_info("ground_truth.recall_top10").section == "ground_truth"
    assert metric_info("consistency").section is None
    assert metric_info("sufficiency").per_k and metric_info("sufficiency").section == "sufficiency"
    assert metric_info("fd_samples").format(12.345) == "12.35"
    assert metric_info("consistency").format(float("nan")) == "—"
    with pytest.raises(KeyError):
        metric_info("nope")


def test_result_roundtrip_and_typed_access(tmp_path):
    base = dict(RUN, consistency=0.5, baseline_run=True)
    data = dict(RUN, baseline=base, difference=difference(RUN, base))
    MetricsResult(data).save(tmp_path / "metrics.json")
    m = MetricsResult.load(tmp_path)  # a run folder or the file itself
    assert m.to_json() == json.loads((tmp_path / "metrics.json").read_text())
    assert MetricsResult.load(tmp_path / "metrics.json").data == m.data
    assert m.format_version == METRICS_FORMAT and m.num_images == 16
    assert m.class_names == ["a", "b"] and not m.is_baseline_run
    assert m.value("consistency") == 0.9 and m.value("ground_truth.recall_top10") == 0.5
    assert m.value("perceptual") is None and m.value("nope.deeper") is None
    assert m.sufficiency == {1: 0.1, 2: 0.25}
    assert m.baseline is not None and m.baseline.is_baseline_run
    assert m.baseline.value("consistency") == 0.5
    assert m.difference("consistency") == pytest.approx(0.4)
    assert m.difference("ground_truth.precision_top5") == 0.0
    assert MetricsResult(RUN).baseline is None and MetricsResult(RUN).fitness is None
    # the table reads the same descriptions
    table = format_table(m)
    for info in METRICS:
        if info.in_table and not info.per_k:
            assert info.short in table
    assert "sufficiency top-2" in table and format_table(m.data) == table


def test_load_refuses_missing_and_newer(tmp_path):
    with pytest.raises(RunError, match="stylex evaluate"):
        MetricsResult.load(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"format_version": METRICS_FORMAT + 1}))
    with pytest.raises(RunError, match="newer stylex"):
        MetricsResult.load(tmp_path)
