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
        shutil.copytree(
            src, pre / name, ignore=shutil.ignore_patterns("attfind", "report", "metrics*")
        )
    monkeypatch.setattr(demo, "PRETRAINED_DIR", pre)
    return pre


def test_demo_end_to_end_on_shipped_tiny_run(tmp_path, tiny_pretrained, capsys, monkeypatch):
    import functools

    import stylex.metrics

    # a small factor probe keeps the ground-truth part of the test quick
    small = functools.partial(
        stylex.metrics.evaluate, probe_steps=40, probe_images=256, gt_images=8, perceptual=False
    )
    monkeypatch.setattr(stylex.metrics, "evaluate", small)
    out = tmp_path / "out"
    code = main(
        [
            "demo",
            "--task",
            "shapes",
            "--out",
            str(out),
            "--num-images",
            "8",
            "--top-k",
            "3",
            "--eval-images",
            "16",
            "--device",
            "cpu",
        ]
    )
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
    code = main(
        [
            "demo",
            "--task",
            "shapes",
            "--out",
            str(out),
            "--num-images",
            "8",
            "--top-k",
            "3",
            "--eval-images",
            "16",
            "--device",
            "cpu",
            "--force",
        ]
    )
    assert code == 0 and not stale.exists()
    assert (out.parent / "out-baseline" / "attfind" / "attributes.json").is_file()


def test_shipped_pretrained_runs_load():
    from stylex.run import Run

    for name in ("fashion-mnist", "fashion-mnist-baseline", "shapes", "shapes-baseline"):
        run = Run.load(demo.PRETRAINED_DIR / name, device="cpu")
        assert run.generator.config.resolution == 32
        assert run.baseline == name.endswith("baseline")


def test_demo_multi_class_task_trains_and_reports(tmp_path, capsys, monkeypatch):
    """`stylex demo --task fashion-mnist-4` end to end at a tiny budget (2000 images, a few
    seconds of StylEx training): classifier, run, one-vs-rest AttFind, per-class sufficiency
    for all four classes, report with a section per class."""
    import functools

    import stylex.metrics

    task = demo.TASKS["fashion-mnist-4"]
    assert task.pretrained is None and len(task.data.split(":")[1].split(",")) == 4
    monkeypatch.setitem(demo.TASKS, task.name, demo.Task(
        task.name, task.data + "?n=2000", None, None, task.description))  # fmt: skip
    small = functools.partial(stylex.metrics.evaluate, perceptual=False)
    monkeypatch.setattr(stylex.metrics, "evaluate", small)
    out = tmp_path / "fm4"
    code = main(["demo", "--task", "fashion-mnist-4", "--out", str(out), "--train-minutes",
                 "0.05", "--classifier-epochs", "3", "--num-images", "8", "--top-k", "3",
                 "--eval-images", "32", "--device", "cpu"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    names = ["t-shirt", "trouser", "pullover", "sneaker"]
    attrs = json.loads((out / "attfind" / "attributes.json").read_text())
    assert [c["class"] for c in attrs["classes"]] == names
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["sufficiency_per_class"]) == names
    assert "per-class sufficiency" in printed
    table = printed.split("per-class sufficiency")[1]
    assert all(n in table for n in names) and "mean" in table
    html = (out / "report" / "index.html").read_text()
    assert all(f'id="class-{n}"' in html for n in names)
    # a chosen target class: `stylex explain --target` and the viewer's class choice
    from PIL import Image

    from stylex.run import Run
    from stylex.serve.session import Viewer

    val = Run.load(out, device="cpu", discriminator=False).dataset("val")
    img = tmp_path / "shirt.png"
    Image.fromarray(val.images[int((val.labels == 0).nonzero()[0])][0].numpy()).save(img)
    code = main(["explain", "--run", str(out), str(img), "--target", "pullover", "--top-k", "2",
                 "--device", "cpu", "--out", str(tmp_path / "ex")])  # fmt: skip
    assert code == 0
    ex = json.loads((tmp_path / "ex" / "shirt.json").read_text())
    assert ex["target"] == "pullover" and set(ex["input_probs"]) == set(names)
    viewer = Viewer(out, device="cpu", top_k=3)
    assert [c["name"] for c in viewer.info()["classes"]] == names
    session = viewer.open_index(0)
    target = next(k for k in range(4) if k != int(session.probs.argmax()))
    flip = viewer.flip(session.id, names[target])
    assert flip.predicted_before != target and len(flip.steps) >= 1
    assert all(s.shape == (4,) for s in flip.steps)
