"""Process-level runtime set-up: allocator tuning and device selection.

glibc's default allocator returns every block over ``M_MMAP_THRESHOLD`` (≤ 32 MB) to the kernel
and maps it afresh on the next allocation. StyleGAN2 allocates activations of that size many
times per step, so on CPU the page faults make it 2–5× slower. :func:`tune_allocator` switches
mmap off for large blocks and raises the trim threshold, so freed memory stays in the heap and is
reused. It runs once when :mod:`stylex` is imported (set ``STYLEX_NO_MALLOC_TUNING=1`` to skip);
memory held back can be given to the OS explicitly with :func:`release_memory`.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 1 << 34  # 16 GiB: in practice "never trim on free"

_state = {"tuned": False}


def _libc():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def tune_allocator() -> bool:
    """Tune glibc malloc for large, short-lived tensors. Returns True if applied.

    A no-op (returning False) off glibc, or when ``STYLEX_NO_MALLOC_TUNING`` is set.
    """
    if _state["tuned"]:
        return True
    if os.environ.get("STYLEX_NO_MALLOC_TUNING"):
        return False
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1
    trim = ctypes.c_int(min(_TRIM_THRESHOLD, 2**31 - 1))
    ok = (libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1) and ok
    _state["tuned"] = ok
    return ok


def allocator_tuned() -> bool:
    return _state["tuned"]


def release_memory() -> None:
    """Give free heap memory back to the OS (``malloc_trim``), e.g. after a large job."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def default_device() -> torch.device:
    """CUDA if available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return default_device()
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available on this machine")
    return dev


def add_device_argument(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """Add the ``--device`` option every stylex command shares (read it with
    :func:`resolve_device`)."""
    parser.add_argument(
        "--device", default=default, help=f"auto | cpu | cuda | cuda:N (default {default})"
    )
