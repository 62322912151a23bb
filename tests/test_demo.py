"""`stylex demo` orchestration on a tiny shipped run (the real demo is timed by hand: README)."""

from __future__ import annotations

import json
import shutil

import pytest

import stylex.demo as demo
from stylex.cli import main


@pytest.fixture
def tiny_pretrained(tmp_path, tiny_run, tiny_baseline_run, monkeypatch):
    pre = tmp_path / "pretrained"
    pre.mkdir()
    for src, name in ((tiny_run, "shapes"), (tiny_baseline_run, "shapes-baseline")):
        shutil.copytree(src, pre / name, ignore=shutil.ignore_patterns("attfind", "report",
                                                                       "metrics*"))
    monkeypatch.setattr(demo, "PRETRAINED_DIR", pre)
    return pre


def test_demo_end_to_end_on_shipped_tiny_run(tmp_path, tiny_pretrained, capsys, monkeypatch):
    import functools

    import stylex.metrics

    # a small factor probe keeps the ground-truth part of the test quick
    small = functools.partial(stylex.metrics.evaluate, probe_steps=40, probe_images=256,
                              gt_images=8, perceptual=False)
    monkeypatch.setattr(stylex.metrics, "evaluate", small)
    out = tmp_path / "out"
    code = main(["demo", "--task", "shapes", "--out", str(out), "--num-images", "8",
                 "--top-k", "3", "--eval-images", "16", "--device", "cpu"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "headline:" in printed
    assert (out / "attfind" / "attributes.json").is_file()
    assert (out.parent / "out-baseline" / "attfind" / "attributes.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["consistency"] <= 1.0 and "baseline" in metrics
    assert (out / "report" / "index.html").stat().st_size > 10_000
    # the shipped folder itself is untouched (the demo works on a copy)
    assert not (tiny_pretrained / "shapes" / "attfind").exists()
    # a second run refuses to overwrite without --force
    assert main(["demo", "--task", "shapes", "--out", str(out), "--device", "cpu"]) == 1
    # ... nor when only the baseline's folder is left from an earlier run
    shutil.rmtree(out)
    capsys.readouterr()
    assert main(["demo", "--task", "shapes", "--out", str(out), "--device", "cpu"]) == 1
    assert "out-baseline exists" in capsys.readouterr().err
    assert not out.exists()
    # --force replaces both folders
    stale = out.parent / "out-baseline" / "stale.txt"
    stale.write_text("from an earlier run")
    code = main(["demo", "--task", "shapes", "--out", str(out), "--num-images", "8",
                 "--top-k", "3", "--eval-images", "16", "--device", "cpu", "--force"])
    assert code == 0 and not stale.exists()
    assert (out.parent / "out-baseline" / "attfind" / "attributes.json").is_file()


def test_shipped_pretrained_runs_load():
    from stylex.run import Run

    for name in ("fashion-mnist", "fashion-mnist-baseline", "shapes", "shapes-baseline"):
        run = Run.load(demo.PRETRAINED_DIR / name, device="cpu")
        assert run.generator.config.resolution == 32
        assert run.baseline == name.endswith("baseline")
