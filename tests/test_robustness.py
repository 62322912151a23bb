"""Faults and bad inputs across the pipeline (issue 10).

The SIGKILL matrix kills a real `stylex train` process at chosen points (fault injection,
see stylex.utils.faults) and checks `--resume` always succeeds, never reads a torn file and
loses at most one checkpoint interval. The fast subset runs by default; the whole matrix with
`make test-faults` (pytest -m faults).
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylex.errors import RunError
from stylex.models.generator import StyleSpace
from stylex.run import Run, RunConfig
from stylex.training import checkpoint as ckpt
from stylex.utils.fs import atomic_write_bytes

DATA = "shapes?n=128"
EVERY = 3


@pytest.fixture(scope="module")
def clf_path(tmp_path_factory) -> str:
    from stylex.classifier import train_classifier
    from stylex.data import load_dataset

    out = tmp_path_factory.mktemp("clf") / "clf.pt"
    train_classifier(
        load_dataset(DATA, resolution=16), out, epochs=1, batch=64, progress=False, width=8
    )
    return str(out)


def _train_cmd(run: Path, clf: str | None, steps: int, resume: bool = False) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "stylex",
        "train",
        "--out",
        str(run),
        "--steps",
        str(steps),
        "--no-progress",
        "--device",
        "cpu",
    ]
    if resume:
        return cmd + ["--resume"]
    return cmd + [
        "--data",
        DATA,
        "--classifier",
        clf,
        "--resolution",
        "16",
        "--batch",
        "4",
        "--width",
        "16",
        "--w-dim",
        "16",
        "--mapping-layers",
        "2",
        "--checkpoint-every",
        str(EVERY),
        "--perceptual",
        "none",
        "--sample-every",
        "1000",
        "--eval-every",
        "1000",
        "--eval-images",
        "4",
        "--force",
    ]


def _env(fault: str | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("STYLEX_FAULT", None)
    if fault:
        env["STYLEX_FAULT"] = fault
    return env


def _kill_and_resume(tmp_path: Path, clf: str, fault: str) -> None:
    run = tmp_path / "run"
    killed = subprocess.run(
        _train_cmd(run, clf, 12), env=_env(fault), capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -9, f"fault {fault} did not fire: {killed.stderr[-1500:]}"
    done = ckpt.list_checkpoints(run)
    last_step = int(done[-1].name.split("-")[1]) if done else 0
    # every complete checkpoint is readable in full (no torn file behind a marker)
    for d in done:
        for f in d.iterdir():
            if f.suffix == ".safetensors":
                from safetensors.torch import load_file

                load_file(str(f))
    res = subprocess.run(
        _train_cmd(run, None, 12, resume=True),
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    if done:
        assert f"from step {last_step}" in res.stdout
    assert "(step 12)" in res.stdout
    assert not [p for p in ckpt.checkpoint_dir(run).iterdir() if p.name.startswith(".")]
    Run.load(run, device="cpu")  # the exported models load


FAST_FAULTS = ["ckpt.file:7", "atomic.before_replace:9"]
ALL_FAULTS = FAST_FAULTS + [
    "train.step:5",
    "ckpt.before_rename:2",
    "ckpt.after_rename:1",
    "ckpt.file:1",
    "atomic.before_replace:2",
    "train.step:11",
]


@pytest.mark.parametrize("fault", FAST_FAULTS)
def test_sigkill_matrix_fast(tmp_path, clf_path, fault):
    _kill_and_resume(tmp_path, clf_path, fault)


@pytest.mark.faults
@pytest.mark.slow
@pytest.mark.parametrize("fault", ALL_FAULTS[len(FAST_FAULTS) :])
def test_sigkill_matrix_full(tmp_path, clf_path, fault):
    _kill_and_resume(tmp_path, clf_path, fault)


def test_kill_before_any_checkpoint_loses_at_most_one_interval(tmp_path, clf_path):
    # killed at step 2 (< EVERY): nothing complete yet; resume starts over from the config
    _kill_and_resume(tmp_path, clf_path, "train.step:2")


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {_Evil.marker}",))


def test_malicious_pickle_in_checkpoint_is_not_executed(tmp_path, clf_path):
    from stylex.training.setup import resume_run

    run = tmp_path / "run"
    subprocess.run(
        _train_cmd(run, clf_path, 3), env=_env(None), check=True, capture_output=True, timeout=300
    )
    latest = ckpt.latest_checkpoint(run)
    _Evil.marker = str(tmp_path / "pwned")
    (latest / "state.pt").write_bytes(pickle.dumps({"step": _Evil()}))
    with pytest.raises(RunError, match="cannot read training state"):
        resume_run(run, device="cpu", progress=False)
    assert not (tmp_path / "pwned").exists()


def test_disk_full_while_writing_leaves_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"old")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r": Full(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]  # no temp file left


def test_incompatible_run_folder_is_refused(tmp_path):
    with pytest.raises(RunError, match="not found"):
        RunConfig.read(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="not valid JSON"):
        RunConfig.read(tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps({"format_version": 99, "generator": {}, "data": {}})
    )
    with pytest.raises(RunError, match="newer stylex"):
        RunConfig.read(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"foo": 1}))
    with pytest.raises(RunError, match="not a stylex run"):
        RunConfig.read(tmp_path)


def test_run_without_weights_says_how_to_fix(tmp_path, clf_path):
    (tmp_path / "config.json").write_text(
        json.dumps(
            {"format_version": 1, "generator": {}, "data": {}, "train": {}, "classifier": {}}
        )
    )
    with pytest.raises(RunError, match="no trained weights"):
        Run.load(tmp_path, device="cpu")


def test_classifier_returning_nan_stops_training_setup(tmp_path):
    from stylex.classifier import ClassifierContract, save_torchscript
    from stylex.errors import ClassifierError
    from stylex.training.run_folder import create_run

    class NaNNet(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 2), float("nan"))

    clf = tmp_path / "nan.pt"
    save_torchscript(NaNNet(), ClassifierContract(channels=3, resolution=16), clf)
    with pytest.raises(ClassifierError, match="(?i)nan|finite"):
        create_run(tmp_path / "run", DATA, str(clf), resolution=16, device="cpu", progress=False)
    assert not (tmp_path / "run" / "config.json").exists()


def test_classifier_output_size_mismatch(tmp_path):
    from stylex.classifier import ClassifierContract, save_torchscript
    from stylex.errors import ClassifierError
    from stylex.training.run_folder import create_run

    class Three(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :3]

    clf = tmp_path / "three.pt"
    save_torchscript(Three(), ClassifierContract(channels=3, resolution=16), clf)
    with pytest.raises(ClassifierError, match="3"):
        create_run(tmp_path / "run", DATA, str(clf), resolution=16, device="cpu", progress=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12), st.data())
def test_style_space_index_roundtrip_property(sizes, data):
    layers = sorted(
        data.draw(
            st.lists(st.integers(0, 60), min_size=len(sizes), max_size=len(sizes), unique=True)
        )
    )
    sp = StyleSpace(layers, sizes)
    assert sp.total == sum(sizes)
    i = data.draw(st.integers(0, sp.total - 1))
    layer, ch = sp.locate(i)
    assert sp.index(layer, ch) == i
    assert 0 <= ch < sizes[layers.index(layer)]
    styles = [torch.zeros(2, 1)] * (max(layers) + 1)
    for layer_id, n in zip(layers, sizes):
        styles[layer_id] = torch.randn(2, n)
    flat = sp.flatten(styles)
    back = sp.flatten(sp.unflatten(flat, styles))
    assert torch.equal(flat, back)
    with pytest.raises(IndexError):
        sp.locate(sp.total)


@pytest.mark.parametrize("fault", ["attfind.chunk:2", "atomic.before_replace:2"])
def test_sigkill_during_attfind_then_resume(tiny_run, fault):
    from safetensors.torch import load_file

    cmd = [
        sys.executable,
        "-m",
        "stylex",
        "attfind",
        "--run",
        str(tiny_run),
        "--num-images",
        "16",
        "--top-k",
        "3",
        "--images-per-chunk",
        "4",
        "--no-progress",
        "--device",
        "cpu",
        "--out",
        str(tiny_run / "af"),
    ]
    killed = subprocess.run(cmd, env=_env(fault), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-1500:]
    partial = tiny_run / "af" / "partial"
    saved = sorted(p.name for p in partial.glob("chunk-*.safetensors"))
    assert saved, "no finished chunk was kept"
    for p in partial.iterdir():  # no torn file under a final name
        if p.name.startswith("chunk-"):
            load_file(str(p))
    assert not (tiny_run / "af" / "attributes.json").exists()  # nothing that looks complete
    done = subprocess.run(cmd, env=_env(None), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    again = subprocess.run(
        cmd + ["--no-resume", "--out", str(tiny_run / "af2")],
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0
    a = load_file(str(tiny_run / "af" / "effects.safetensors"))
    b = load_file(str(tiny_run / "af2" / "effects.safetensors"))
    assert torch.equal(a["delta"], b["delta"])
    assert (
        json.loads((tiny_run / "af" / "attributes.json").read_text())["classes"]
        == json.loads((tiny_run / "af2" / "attributes.json").read_text())["classes"]
    )


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_bytes(target, b"{}")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
