"""Where a run's verdict is kept, and the warning later commands print.

The verdict lives in ``RUN/fitness.json`` (written at the end of ``stylex train`` and by
``stylex evaluate``) and in ``RUN/metrics.json["fitness"]`` (``stylex evaluate``);
:func:`load_fitness` takes the newer of the two. A verdict older than the run's weights
(``generator.safetensors``) is stale: the run was trained further since.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from stylex.errors import StylexError
from stylex.metrics.fitness.verdict import FITNESS_FILE, FITNESS_FORMAT, Fitness
from stylex.metrics.result import METRICS_FILE, METRICS_FORMAT
from stylex.utils.fs import atomic_write_json, read_versioned_json


@dataclass
class StoredFitness:
    """A verdict read from a run folder: where from, and whether the weights are newer."""

    fitness: Fitness
    source: Path
    stale: bool


def save_fitness(run_dir: str | Path, fitness: Fitness) -> Path:
    """Write ``RUN/fitness.json`` atomically; returns its path."""
    path = Path(run_dir) / FITNESS_FILE
    atomic_write_json(path, fitness.to_json())
    return path


def _read(path: Path, key: str | None) -> Fitness | None:
    try:
        d = read_versioned_json(path, METRICS_FORMAT if key else FITNESS_FORMAT)
        return Fitness.from_json(d[key] if key else d)
    except (OSError, ValueError, KeyError, TypeError, StylexError):
        return None


def load_fitness(run_dir: str | Path) -> StoredFitness | None:
    """The newest readable verdict stored in ``run_dir`` (None when there is none)."""
    run_dir = Path(run_dir)
    found = []
    for name, key in ((FITNESS_FILE, None), (METRICS_FILE, "fitness")):
        path = run_dir / name
        if path.is_file():
            f = _read(path, key)
            if f is not None:
                found.append((path.stat().st_mtime, path, f))
    if not found:
        return None
    mtime, path, f = max(found, key=lambda t: t[0])
    weights = run_dir / "generator.safetensors"
    stale = weights.is_file() and weights.stat().st_mtime > mtime
    return StoredFitness(f, path, stale)


def fitness_notice(run_dir: str | Path) -> str | None:
    """The text later commands print before working on ``run_dir``: a warning when its verdict
    is "not fit", a note when there is no verdict or a stale one; None when it is fit."""
    stored = load_fitness(run_dir)
    evaluate = f"`stylex evaluate --run {run_dir}`"
    if stored is None:
        return f"note: {run_dir} has no fitness verdict yet; {evaluate} computes it"
    f = stored.fitness
    stale = (
        f" (stale: the weights are newer than {stored.source.name}; run {evaluate})"
        if stored.stale
        else ""
    )
    if f.fit:
        return f"note: fitness verdict of {run_dir} is stale; run {evaluate}" if stale else None
    lines = [
        f"warning: {run_dir} is NOT FIT to explain its classifier{stale}; results may "
        "explain nothing. Causes:"
    ]
    lines += [f"  - {c}" for c in f.causes]
    lines.append(f"  (verdict from {stored.source}; going on anyway)")
    return "\n".join(lines)


def warn_if_unfit(run_dir: str | Path, stream: TextIO | None = None) -> Fitness | None:
    """Print :func:`fitness_notice` to ``stream`` (default stderr) when there is one; return
    the stored verdict (None if none). Never raises on an unreadable verdict."""
    text = fitness_notice(run_dir)
    if text:
        print(text, file=stream if stream is not None else sys.stderr, flush=True)
    stored = load_fitness(run_dir)
    return stored.fitness if stored is not None else None


def fitness_after_training(
    run_dir: str | Path, device: str | None = None, num_images: int = 256
) -> Fitness:
    """The verdict of a just-trained run on its first ``num_images`` held-out images, written
    to ``RUN/fitness.json`` (AttFind and factor checks are "not run" unless already there).

    256 images, as ``stylex evaluate`` uses by default, so that the two verdicts agree: at 128
    the chance-corrected ``neutral_consistency`` has a standard error of ~0.15 (a 30-minute
    shapes run measured κ 0.24 on 128 images, failing at 0.25, and 0.60 on 256)."""
    from stylex.metrics.fitness.compute import compute_fitness
    from stylex.run import Run

    run = Run.load(run_dir, device=device, discriminator=False)
    fitness = compute_fitness(run, num_images=num_images)
    save_fitness(run_dir, fitness)
    return fitness


__all__ = [
    "StoredFitness",
    "fitness_after_training",
    "fitness_notice",
    "load_fitness",
    "save_fitness",
    "warn_if_unfit",
]
