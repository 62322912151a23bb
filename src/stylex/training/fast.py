"""Speed set-up of the training loop: host reads once per log interval, per-device kernels,
``torch.compile``, channels_last.

* :class:`StepWindow` — the steps since the last host read. ``train_step`` returns its scalars as
  device tensors; the loop keeps them here and reads all of them in one transfer when something
  needs a value (a log line, an evaluation, samples, a checkpoint), checking every step of the
  window for NaN/inf at that moment. The logged values are those of the step logged, as before.
  A checkpoint is never written after a non-finite step because every checkpoint is preceded by
  a read.
* :func:`prepare_models` — the generator's modulated-conv kernel chosen per device
  (:mod:`stylex.models.kernels`) and, with ``channels_last``, NHWC memory format.
* :func:`compile_for_training` — ``torch.compile`` of the networks the step runs (in place, so
  parameters, optimisers, checkpoints and EMA are untouched).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping

import torch

from stylex.models.kernels import choose_modconv, set_modconv


class StepWindow:
    """Per-step scalar dicts (``{name: 0-d tensor}``) kept on the device until :meth:`read`."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, Mapping[str, torch.Tensor | float]]] = []

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, stats: Mapping[str, torch.Tensor | float]) -> None:
        self.steps.append((step, stats))

    def read(
        self, latest_of_each: bool = False
    ) -> tuple[dict[str, float], tuple[int, list[str]] | None]:
        """Read the whole window to the host (one transfer per device) and clear it.

        Returns the last step's values as floats (``latest_of_each``: each name's value from the
        last step of the window that had it), and ``(step, names)`` of the first step with a
        non-finite value (None when all are finite).
        """
        steps, self.steps = self.steps, []
        if not steps:
            return {}, None
        flat: list[float] = []
        groups: dict[torch.device, list[tuple[int, torch.Tensor]]] = {}
        for _, stats in steps:
            for v in stats.values():
                if torch.is_tensor(v):
                    groups.setdefault(v.device, []).append((len(flat), v))
                    flat.append(0.0)  # filled below, one transfer per device
                else:
                    flat.append(float(v))
        for items in groups.values():
            vals = torch.stack([t.detach().float().reshape(()) for _, t in items]).tolist()
            for (i, _), v in zip(items, vals):
                flat[i] = v
        pos, bad = 0, None
        last: dict[str, float] = {}
        for s, stats in steps:
            this = {k: flat[pos + j] for j, k in enumerate(stats)}
            last = {**last, **this} if latest_of_each else this
            pos += len(stats)
            if bad is None:
                names = [k for k, v in this.items() if not _finite(v)]
                if names:
                    bad = (s, names)
        return last, bad


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast is faster than fp32 on ``device``: CUDA, an x86 CPU with AMX, or
    an Arm CPU for which oneDNN has bf16 kernels. On an earlier 2-core CPU a step of the
    default recipe measured 1.4x faster under bf16 autocast than in fp32, with the same
    held-out reconstruction at equal steps (``benchmarks/recipe_log.md``, session 4). x86 reads
    the CPU's flags, not oneDNN's answer (which is yes on any AVX-512 CPU): without AMX a step
    measured 1.8x slower in bf16 on an AVX-512 Xeon without AVX512_BF16 (0.87 s against
    0.47 s), and 1.2x slower on one with AVX512_BF16 (0.51 s against 0.43 s; recipe_log,
    session 11)."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    return _cpu_bf16_is_faster()


def _cpu_bf16_is_faster() -> bool:
    """The CPU half of :func:`native_bf16`."""
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686") and amx is not None:
        try:
            return bool(amx())
        except RuntimeError:
            return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype the step's autocast runs in (``precision`` auto|fp32|bf16; ``auto``: bf16
    where it is faster, :func:`native_bf16`, else fp32)."""
    if precision == "auto":
        precision = "bf16" if native_bf16(device) else "fp32"
    return torch.bfloat16 if precision == "bf16" else torch.float32


def prepare_models(trainer) -> str:
    """Per-device speed set-up of a new :class:`~stylex.training.trainer.Trainer`'s live
    networks; returns the generator's modulated-conv kernel (``fused``/``unfused``/as
    configured).

    With ``modconv="auto"`` the training generator gets the faster kernel for this device and
    batch (CPU: unfused, a fixed rule; accelerators: measured, :func:`choose_modconv`). The EMA
    copies keep the inference rule. With ``channels_last`` every network's 4-D weights move to
    NHWC, so convolutions run in that format.
    """
    tc = trainer.tc
    mode = trainer.gen_cfg.modconv
    if mode == "auto":
        mode = choose_modconv(trainer.G, trainer.per_rank_batch, trainer.dtype, training=True)
        set_modconv(trainer.G, mode)
    if tc.channels_last:
        for m in (trainer.G, trainer.D, trainer.E, trainer.G_ema, trainer.E_ema):
            m.to(memory_format=torch.channels_last)
    return mode


def compile_for_training(trainer) -> Callable[..., torch.Tensor]:
    """``torch.compile`` the networks of the training step, in place.

    Compiled: D and E (``Module.compile``), G's mapping network, style affines
    (``G.styles``) and synthesis (``G.synthesize``, which ``generate`` and ``forward`` call),
    and the perceptual network. The classifier (TorchScript) and the EMA copies stay eager.
    Returns D's eager forward, for the R1 penalty: compiled graphs do not support the double
    backward it needs.
    """
    G = trainer.G
    trainer.D.compile()
    trainer.E.compile()
    G.mapping.compile()
    G.styles = torch.compile(G.styles)
    G.synthesize = torch.compile(G.synthesize)
    if trainer.perceptual is not None:
        trainer.perceptual.compile()
    return trainer.D.forward
