"""benchmarks/quality.py on a tiny task: the table, and resuming where a sweep stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import quality  # noqa: E402

# --force: the tiny classifier may sit at chance, which `stylex train` otherwise refuses
TINY_TRAIN = (
    "--batch 4 --perceptual none --eval-images 8 --log-every 1 --checkpoint-every 2 --force"
)


def tiny_args(out: Path, steps: int = 4) -> list[str]:
    return [
        "--tasks", "",
        "--task", "tiny=shapes:hue<0.5&size>0.5?n=256",
        "--resolution", "16", "--width", "16", "--steps", str(steps),
        "--classifier-epochs", "1", "--attfind-images", "16", "--eval-images", "16",
        "--top-k", "3", "--probe-steps", "20", "--train-args", TINY_TRAIN,
        "--out", str(out),
    ]  # fmt: skip


def test_logged_train_seconds_counts_a_resumed_interval_once(tmp_path):
    recs = [{"step": 2, "sec_per_step": 1.0}, {"step": 4, "sec_per_step": 1.0},
            {"step": 6, "sec_per_step": 1.0},  # killed here; the checkpoint was at step 4
            {"step": 6, "sec_per_step": 3.0}, {"step": 8, "sec_per_step": 1.0}]  # fmt: skip
    (tmp_path / "log.jsonl").write_text(
        "\n".join(json.dumps(r) for r in recs) + '\n{"step": 9, "sec_per'
    )
    assert quality.logged_train_seconds(tmp_path) == (2 + 2 + 6 + 2, 8)
    assert quality.logged_train_seconds(tmp_path, upto=4) == (4, 4)


def test_parse_args_tasks_and_budget():
    a = quality.parse_args(["--tasks", "shapes,gratings", "--task", "x=mnist:1,7"])
    assert a.task_specs == {"shapes": quality.TASKS["shapes"],
                            "gratings": quality.TASKS["gratings"], "x": "mnist:1,7"}  # fmt: skip
    assert a.minutes == 2.0 and a.steps is None
    assert set(quality.TASKS) == {"fashion-mnist", "mnist", "shapes", "gratings"}
    with pytest.raises(SystemExit):
        quality.parse_args(["--tasks", "nope"])
    with pytest.raises(SystemExit):
        quality.parse_args(["--minutes", "1", "--steps", "3"])


def test_tiny_sweep_table_resume_after_kill_and_skip(tmp_path, capsys):
    out = tmp_path / "q"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STYLEX_FAULT": "train.step:3",
           "PYTHONPATH": str(BENCH.parent / "src")}  # fmt: skip
    # a sweep killed (SIGKILL) during the first training, after its checkpoint at step 2
    killed = subprocess.run([sys.executable, str(BENCH / "quality.py"), *tiny_args(out)],
                            env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    recipe = out / "tiny" / "recipe"
    assert (out / "classifiers" / "tiny-16px.pt").is_file()
    assert (recipe / "config.json").is_file() and not (recipe / "stages.json").exists()

    rows = quality.main(tiny_args(out))  # continues: the classifier is reused, training resumes
    printed = capsys.readouterr().out
    assert "classifier: cached" in printed and "resuming" in printed
    assert [(r["task"], r["variant"]) for r in rows] == [("tiny", "recipe"), ("tiny", "baseline")]
    for r in rows:
        assert r["steps"] == 4 and r["train s"] > 0
        assert 0 < r["rec L1"] and 0 < r["flat L1"] and 0 < r["mean L1"]
        assert r["fac err"] is not None and r["fac err real"] is not None
        assert r["cat acc factor"] == "shape" and 0 <= r["cat acc"] <= 1  # shapes' categorical
        assert 0 <= r["cat acc real"] <= 1
        assert r["suff k1"] is not None and r["AttFind s"] > 0
        assert r["verdict"] in ("fit", "not fit", "n/a")
    assert "| tiny | recipe | 4 |" in printed and "| tiny | baseline | 4 |" in printed
    md = (out / "quality.md").read_text()
    assert "| task | variant |" in md and "rec L1" in md
    saved = json.loads((out / "quality.json").read_text())
    assert saved["rows"][0]["task"] == "tiny" and saved["settings"]["steps"] == 4
    stages = json.loads((recipe / "stages.json").read_text())
    assert set(stages) == {"train", "attfind", "evaluate", "references"}

    # a re-run skips every finished stage and prints the same table
    files = [recipe / "metrics.json", recipe / "generator.safetensors",
             recipe / "attfind" / "attributes.json"]  # fmt: skip
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = quality.main(tiny_args(out))
    printed = capsys.readouterr().out
    for stage in ("train: done", "attfind: done", "evaluate: done"):
        assert printed.count(stage) == 2, printed
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert [r["rec L1"] for r in again] == [r["rec L1"] for r in rows]

    # a stage removed from the record (as if killed there) is redone, the others are not
    stages.pop("evaluate")
    (recipe / "stages.json").write_text(json.dumps(stages))
    quality.main(tiny_args(out))
    printed = capsys.readouterr().out
    assert printed.count("evaluate: done") == 1 and printed.count("attfind: done") == 2
