"""Shared helpers for the benchmark scripts: timing and the machine's matmul GFLOP/s."""

from __future__ import annotations

import time

import torch


def timeit(fn, warmup: int = 1, repeat: int = 3) -> float:
    """Best-of-``repeat`` wall time of ``fn()`` in seconds (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_gflops(n: int = 4096, device: str = "cpu", dtype=torch.float32) -> float:
    """Achieved GFLOP/s of a large square matmul on this machine, measured now."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t = timeit(lambda: a @ b, warmup=2, repeat=5)
    return 2 * n**3 / t / 1e9
