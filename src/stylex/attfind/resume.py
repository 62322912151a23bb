"""AttFind's Δ chunk by chunk, and its resume files keyed by everything their numbers depend on.

Each finished chunk of Δ is written atomically to
``RUN/attfind/partial/chunk-START-STOP-KEY.safetensors``; KEY hashes the chunk's style vectors,
the targets, shift size, temperature, StyleSpace, the pairs computed and the generator's and
classifier's weights, so a restarted AttFind reuses exactly the chunks that would come out the
same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from stylex.utils.faults import fault_point
from stylex.utils.fs import atomic_write_bytes


def tensor_digest(h: Any, t: torch.Tensor) -> None:
    """Feed ``t``'s dtype, shape and bytes to the hash object ``h``."""
    t = t.detach().to("cpu").contiguous()
    h.update(str((t.dtype, tuple(t.shape))).encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def model_fingerprint(modules: Sequence[nn.Module]) -> str:
    """A hash of the modules' weights (parameters and buffers, by name)."""
    h = hashlib.sha256()
    for module in modules:
        for name, t in sorted(module.state_dict().items()):
            h.update(name.encode())
            tensor_digest(h, t)
    return h.hexdigest()


def config_key(settings: dict[str, Any], tensors: Sequence[torch.Tensor], fingerprint: str) -> str:
    """A hash of AttFind's settings (JSON-able), the tensors they come with (targets, mask) and
    the models' fingerprint: the part of a chunk's key shared by all chunks."""
    h = hashlib.sha256()
    h.update(json.dumps(settings).encode())
    for t in tensors:
        tensor_digest(h, t)
    h.update(fingerprint.encode())
    return h.hexdigest()


def chunk_key(config: str, chunk: Sequence[torch.Tensor]) -> str:
    """The key of one chunk: :func:`config_key` plus the chunk's per-layer styles."""
    h = hashlib.sha256(config.encode())
    for s in chunk:
        tensor_digest(h, s)
    return h.hexdigest()[:16]


def chunk_path(directory: Path, start: int, stop: int, key: str) -> Path:
    return directory / f"chunk-{start:06d}-{stop:06d}-{key}.safetensors"


def read_partial(path: Path | None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(delta, base_probs)`` of a chunk file, or None when it is missing, torn or foreign."""
    if path is None or not path.is_file():
        return None
    try:
        t = st_load(path.read_bytes())
        return t["delta"], t["base_probs"]
    except Exception:  # a torn or foreign file: recompute the chunk
        return None


def write_partial(path: Path, delta: torch.Tensor, base_probs: torch.Tensor) -> None:
    """Write a finished chunk atomically."""
    atomic_write_bytes(
        path, st_save({"delta": delta.contiguous(), "base_probs": base_probs.contiguous()})
    )
    fault_point("attfind.chunk")


def progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar over ``total`` edits with ETA (None when not ``enabled``)."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="edit", unit_scale=True, desc="AttFind Δ", smoothing=0.1)


def chunked_effects(
    styles: Sequence[torch.Tensor],
    chunks: Sequence[tuple[int, int]],
    compute: Callable[[list[torch.Tensor]], tuple[torch.Tensor, torch.Tensor]],
    *,
    partial_dir: Path | None,
    config_key: str,
    num_coords: int,
    stats: dict[str, Any],
    skipped: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Δ ``[N, 2, S, K]`` and base probabilities ``[N, K]`` of the images ``(start, stop)`` in
    ``chunks`` (the others stay 0; None when ``chunks`` is empty). Each chunk is read from its
    file in ``partial_dir`` when one with the same key is there (``skipped(images)`` is called),
    else ``compute(per-layer styles of the chunk)``-d and written there. Counts ``reused`` and
    ``computed`` chunks in ``stats``."""
    n = styles[0].shape[0]
    delta: torch.Tensor | None = None
    base: torch.Tensor | None = None
    for a, b in chunks:
        chunk = [s[a:b] for s in styles]
        path = None
        if partial_dir is not None:
            path = chunk_path(partial_dir, a, b, chunk_key(config_key, chunk))
        got = read_partial(path)
        if got is not None:
            d_chunk, b_chunk = got
            stats["reused"] += 1
            if skipped is not None:
                skipped(b - a)
        else:
            d_chunk, b_chunk = compute(chunk)
            stats["computed"] += 1
            if path is not None:
                write_partial(path, d_chunk, b_chunk)
        if delta is None or base is None:
            k = d_chunk.shape[-1]
            delta = torch.zeros(n, 2, num_coords, k)
            base = torch.zeros(n, k)
        delta[a:b] = d_chunk
        base[a:b] = b_chunk
    return delta, base


__all__ = [
    "chunked_effects",
    "chunk_key",
    "chunk_path",
    "config_key",
    "model_fingerprint",
    "progress_bar",
    "read_partial",
    "tensor_digest",
    "write_partial",
]
