"""Shared fixtures: a tiny trained run folder (classifier, StylEx run, AttFind) for later stages.

Everything is tiny (16 px shapes, widths ≤ 16) so the whole fixture takes seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TINY_DATA = "shapes?n=256"


def _make_tiny_run(root: Path, baseline: bool = False) -> Path:
    from stylex.attfind import AttFind
    from stylex.classifier import train_classifier
    from stylex.data import load_dataset
    from stylex.run import Run
    from stylex.training import TrainConfig
    from stylex.training.networks import ModelSize
    from stylex.training.run_folder import create_run

    clf = root / "clf.pt"
    if not clf.exists():
        train_classifier(
            load_dataset(TINY_DATA, resolution=16), clf, epochs=3, batch=64, progress=False, width=8
        )
    name = "baseline" if baseline else "stylex"
    tc = TrainConfig(
        steps=4,
        batch=4,
        checkpoint_every=4,
        sample_every=4,
        eval_every=4,
        eval_images=8,
        log_every=1,
        perceptual="none",
        baseline=baseline,
    )
    size = ModelSize(channel_max=16, channel_base=256, w_dim=16, mapping_layers=2)
    tr = create_run(
        root / name,
        TINY_DATA,
        str(clf),
        resolution=16,
        train=tc,
        size=size,
        device="cpu",
        progress=False,
        force=True,
    )  # tiny classifier: at chance
    tr.train()
    run = Run.load(root / name, device="cpu")
    AttFind(run, progress=False).attribute(num_images=16, top_k=3).save(root / name / "attfind")
    return root / name


@pytest.fixture(scope="session")
def _tiny_runs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny_runs")
    return _make_tiny_run(root), _make_tiny_run(root, baseline=True)


@pytest.fixture
def tiny_run(_tiny_runs, tmp_path) -> Path:
    """A fresh copy of a tiny trained StylEx run folder with attfind/ (safe to modify)."""
    dst = tmp_path / "run"
    shutil.copytree(_tiny_runs[0], dst)
    return dst


@pytest.fixture
def tiny_baseline_run(_tiny_runs, tmp_path) -> Path:
    """A fresh copy of a tiny baseline run (no classifier terms) of the same data."""
    dst = tmp_path / "baseline"
    shutil.copytree(_tiny_runs[1], dst)
    return dst
