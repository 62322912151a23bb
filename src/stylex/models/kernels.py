"""Which modulated-convolution kernel a generator runs: fused (grouped) or unfused, per device.

Both forms of :class:`~stylex.models.layers.ModulatedConv2d` compute the same function (tests
hold them equal); their speed depends on the device, the dtype and whether a backward pass
follows:

* **CPU**: a fixed rule, *unfused*. Measured on this project's 2-core machine (torch 2.13,
  synthesis with mapping and affines, best of 2): unfused is faster in every case tried —
  32 px/width 128/batch 16 forward+backward 0.18 s vs 0.25 s fused (fp32), 0.10 vs 0.19 s
  (bf16); 64 px/width 256/batch 8 forward+backward 1.13 vs 1.30 s (fp32), 0.59 vs 0.88 s
  (bf16); forward only 1.4–1.8× faster. A fixed rule also keeps CPU runs bit-reproducible (a
  timing-based choice could differ between a run and its resume).
* **CUDA** (and other accelerators): measured. :func:`choose_modconv` times the synthesis
  (forward, plus backward when training) once in each form on a copy of the generator and keeps
  the faster; the answer is cached per (device, shapes, batch, dtype, training) for the life of
  the process. StyleGAN2-ADA's experience (grouped convolution slow in backward and in reduced
  precision) is why training is measured rather than assumed fused.

:func:`set_modconv` applies a choice to every modulated convolution of a module.
"""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext

import torch
from torch import nn

from stylex.models.layers import ModulatedConv2d

MODES = ("auto", "fused", "unfused")
_cache: dict[tuple, str] = {}


def set_modconv(module: nn.Module, mode: str) -> int:
    """Set every :class:`ModulatedConv2d` in ``module`` to ``mode`` (auto|fused|unfused).

    Returns the number of convolutions changed. The weights are not touched.
    """
    if mode not in MODES:
        raise ValueError(f"modconv must be one of {MODES}, got {mode!r}")
    n = 0
    for m in module.modules():
        if isinstance(m, ModulatedConv2d):
            m.fused = mode
            n += 1
    return n


def modconv_modes(module: nn.Module) -> set[str]:
    """The set of modes the module's modulated convolutions are set to."""
    return {m.fused for m in module.modules() if isinstance(m, ModulatedConv2d)}


def _time_synthesis(g, batch: int, fused: bool, dtype, training: bool, repeat: int) -> float:
    dev = g.const.device
    cfg = g.config
    z = torch.randn(batch, cfg.z_dim, device=dev)
    c = torch.rand(batch, cfg.cond_dim, device=dev) if cfg.cond_dim else None
    amp = (
        torch.autocast(dev.type, dtype=dtype)
        if dtype is not None and dtype != torch.float32
        else nullcontext()
    )

    def once() -> None:
        with torch.set_grad_enabled(training), amp:
            img = g.synthesize(g.styles(g.map(z), c), noise_mode="random", fused=fused)
            if training:
                img.float().square().mean().backward()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    once()  # warm-up (cuDNN algorithm choice, allocator)
    sync()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        once()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def choose_modconv(
    generator,
    batch: int,
    dtype: torch.dtype | None = None,
    training: bool = True,
    repeat: int = 3,
) -> str:
    """``"fused"`` or ``"unfused"``: the faster form for this generator on its device.

    Args:
        generator: a :class:`~stylex.models.Generator` (not modified; a copy is timed).
        batch: images per forward pass.
        dtype: autocast dtype of the run (``torch.bfloat16``), or None / float32 for none.
        training: time forward + backward (True) or forward only.
        repeat: timed repetitions per form (best of).

    CPU always answers ``"unfused"`` (module docstring).
    """
    dev = generator.const.device
    if dev.type == "cpu":
        return "unfused"
    cfg = generator.config
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
    key = (name, str(dev), tuple(sorted(cfg.to_dict().items())), batch, str(dtype), training)
    if key in _cache:
        return _cache[key]
    g = copy.deepcopy(generator).train(training).requires_grad_(training)
    times = {
        mode: _time_synthesis(g, batch, mode == "fused", dtype, training, repeat)
        for mode in ("unfused", "fused")
    }
    del g
    _cache[key] = min(times, key=lambda mode: times[mode])
    return _cache[key]
