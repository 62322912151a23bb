"""How many images a no-grad pass of the generator may hold at once (batch sizing)."""

from __future__ import annotations

import torch

from stylex.models.generator import Generator


def memory_budget(device: torch.device | str) -> float:
    """Bytes a batched no-grad pass may plan for: 1 GiB on CPU; on CUDA 40% of the memory
    free now (at least 1 GiB), so the batch grows with the GPU."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return float(2**30)
    free, _ = torch.cuda.mem_get_info(dev)
    return max(0.4 * free, float(2**30))


def default_batch(generator: Generator, budget_bytes: float | None = None) -> int:
    """Rows per forward so that the largest activations stay within ``budget_bytes``
    (default :func:`memory_budget`: 1 GiB on CPU, 40% of free GPU memory). At 128 px and
    width 256 that is 8 rows on CPU; on an H200 (~140 GB) the 2048 cap up to 64 px, ~400 rows
    at 128 px."""
    dev = generator.const.device
    if budget_bytes is None:
        budget_bytes = memory_budget(dev)
    per_row = max(layer.style_dim * layer.resolution**2 for layer in generator.style_layers())
    per_row = max(per_row, generator.config.img_channels * generator.config.resolution**2)
    rows = int(budget_bytes // (per_row * 4 * 8))  # ~8 live fp32 activations per row
    return max(1, min(rows, 2048))


__all__ = ["default_batch", "memory_budget"]
