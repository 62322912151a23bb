"""Crash-safe checkpoints: ``RUN/checkpoints/step-NNNNNNN/`` written whole or not at all.

A checkpoint is written into a hidden temporary folder, every file fsynced, a ``COMPLETE`` marker
written last, then the folder is renamed into place (atomic on POSIX). Resume takes the newest
folder with a valid marker; torn temporary folders are removed. Network weights are safetensors;
optimiser state uses ``torch.save`` and is read back with ``weights_only=True``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import torch
from torch import nn

from stylex.errors import RunError
from stylex.models.io import load_state, save_state
from stylex.utils.faults import fault_point
from stylex.utils.fs import atomic_write_bytes

MARKER = "COMPLETE"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def write_checkpoint(
    run_dir: Path, step: int, modules: dict[str, nn.Module], extra_state: dict, keep: int
) -> Path:
    """Write modules (safetensors) + ``extra_state`` (torch.save) for ``step``; keep the last K."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".tmp-step-{step:07d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, module in modules.items():
        save_state(module, tmp / f"{name}.safetensors")
        fault_point("ckpt.file")
    buf = io.BytesIO()
    torch.save(extra_state, buf)
    atomic_write_bytes(tmp / "state.pt", buf.getvalue())
    atomic_write_bytes(
        tmp / MARKER,
        json.dumps(
            {"step": step, "files": sorted([f"{n}.safetensors" for n in modules] + ["state.pt"])}
        ).encode(),
    )
    _fsync_dir(tmp)
    fault_point("ckpt.before_rename")
    if final.exists():  # re-writing the same step (e.g. after a resume): replace it
        old = root / f".old-step-{step:07d}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(root)
    fault_point("ckpt.after_rename")
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _valid(path: Path) -> bool:
    marker = path / MARKER
    if not marker.is_file():
        return False
    try:
        meta = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return all((path / f).is_file() for f in meta.get("files", []))


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.name.startswith("step-") and _valid(p)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def clean_partial(run_dir: Path) -> int:
    """Remove temporary folders left by a checkpoint write that was killed. Returns the count."""
    root = checkpoint_dir(run_dir)
    n = 0
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)
                n += 1
    return n


def latest_checkpoint(run_dir: Path) -> Path | None:
    cps = list_checkpoints(run_dir)
    return cps[-1] if cps else None


def read_checkpoint(path: Path, modules: dict[str, nn.Module]) -> dict:
    """Load module weights from ``path`` and return the extra state (weights_only load)."""
    if not _valid(path):
        raise RunError(f"checkpoint {path} is incomplete")
    for name, module in modules.items():
        load_state(module, path / f"{name}.safetensors")
    try:
        return torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # an unpickling error is refused, never executed
        raise RunError(f"cannot read training state {path / 'state.pt'}: {e}") from e
