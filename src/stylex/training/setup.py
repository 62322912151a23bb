"""Set-up shared by new and resumed trainings: the device and process group, the run's data;
and :func:`resume_run`, which re-opens a run folder at its newest complete checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from stylex import distributed as distr
from stylex.classifier import load_classifier
from stylex.classifier.unlabelled import load_labels
from stylex.data import StylexDataset, load_dataset
from stylex.runtime import resolve_device
from stylex.training import checkpoint as ckpt
from stylex.training.run_config import DataSection, RunConfig
from stylex.training.trainer import Trainer


def device_and_ranks(device: str | None) -> tuple[torch.device, distr.DistInfo]:
    """The device, and the process group when launched by torchrun (one GPU per local rank)."""
    dev = resolve_device(device)
    info = distr.init_from_env(dev.type)
    if info.enabled and dev.type == "cuda":
        dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
    return dev, info


def prepare_data(
    spec: str, resolution: int | None, channels: int | None, val_fraction: float, seed: int
) -> tuple[StylexDataset, StylexDataset, StylexDataset]:
    """The dataset of ``spec`` and its (train, val) split: ``(all, train, val)``."""
    ds = load_dataset(spec, resolution=resolution, channels=channels, seed=seed)
    train, val = ds.split(val_fraction, seed=seed)
    return ds, train, val


def load_run_data(run_dir: str | Path, d: DataSection) -> StylexDataset:
    """All of a run's data as it was trained: reloaded from its spec, with the classifier's
    predicted labels of unlabelled data (``labels.json``) put back."""
    ds = load_dataset(d.spec, resolution=d.resolution, channels=d.channels, seed=d.seed)
    if d.labels == "classifier":
        ds = load_labels(run_dir, ds)
    return ds


def run_data_split(
    run_dir: str | Path, d: DataSection
) -> tuple[StylexDataset, StylexDataset, StylexDataset]:
    """:func:`load_run_data` and its (train, val) split: ``(all, train, val)``."""
    ds = load_run_data(run_dir, d)
    train, val = ds.split(d.val_fraction, seed=d.seed)
    return ds, train, val


def resume_run(
    out: str | Path, steps: int | None = None, device: str | None = None, progress: bool = True
) -> Trainer:
    """Re-open a run folder and load its newest complete checkpoint (if any). ``steps``: a new
    planned total, written to its config.json."""
    out = Path(out)
    config = RunConfig.read(out)
    if steps is not None:
        config.train = dataclasses.replace(config.train, steps=steps)
    dev, info = device_and_ranks(device)
    d = config.data
    _, train_set, val_set = run_data_split(out, d)
    clf = load_classifier(str(out / config.classifier.file), device=dev)
    trainer = Trainer(out, config, (train_set, val_set), clf, dev, info, progress)
    if info.is_main:
        ckpt.clean_partial(out)
    distr.barrier(info)
    latest = ckpt.latest_checkpoint(out)
    if latest is not None:
        trainer.load_checkpoint(latest)
        if info.is_main:
            print(f"resuming {out} from step {trainer.step} ({latest.name})")
    else:  # nothing saved yet: a new start
        trainer.fit_encoder_features()
    if steps is not None and info.is_main:
        config.write(out)
    return trainer
