"""Detect host synchronisations: Python code reading a tensor's value.

On an accelerator every ``t.item()``, ``float(t)``, ``bool(t)``, ``t.tolist()``, ``t.cpu()``
… waits for all queued device work, so a training step that does one per loss runs at the speed
of the slowest kernel launch round-trip. :func:`host_reads` patches those entry points of
``torch.Tensor`` for the duration of a ``with`` block and records (or refuses) every call; it
works on CPU, where no real synchronisation exists, so a test can hold the training step free
of them without a GPU. Where CUDA is present, :func:`cuda_sync_debug` additionally turns on
``torch.cuda.set_sync_debug_mode``, which also catches synchronisations inside kernels
(``nonzero``, boolean masks, pageable copies) that no Python-level patch sees.

Usage::

    with host_reads(allow=optimizer_step_tensors(opt)) as reads:
        trainer.train_step(s)
    assert not reads.calls, reads.calls
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

#: Tensor methods that return (or need) the value on the host.
READ_METHODS = (
    "item",
    "tolist",
    "cpu",
    "numpy",
    "__float__",
    "__int__",
    "__bool__",
    "__index__",
)


class HostSyncError(RuntimeError):
    """A tensor value was read on the host inside a :func:`host_reads` block with raise_on_read."""


@dataclass
class HostReads:
    """What :func:`host_reads` saw: one ``(method, where)`` per call (``where``: the innermost
    calling frame outside torch, as ``file:line function``)."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)


def optimizer_step_tensors(*optimizers: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimisers' ``step`` counters: CPU scalars by design (non-capturable Adam reads them
    with ``.item()`` on the host); reading them is not a device synchronisation."""
    out = []
    for opt in optimizers:
        for state in opt.state.values():
            step = state.get("step")
            if torch.is_tensor(step) and step.device.type == "cpu":
                out.append(step)
    return out


def _caller() -> str:
    for fr in reversed(traceback.extract_stack()[:-2]):
        if "/torch/" not in fr.filename and not fr.filename.endswith("syncguard.py"):
            return f"{fr.filename}:{fr.lineno} {fr.name}"
    return "?"


@contextmanager
def host_reads(
    allow: Iterable[torch.Tensor] = (), raise_on_read: bool = False
) -> Iterator[HostReads]:
    """Record every host read of a tensor's value inside the block (see the module docstring).

    Args:
        allow: tensors whose reads are legitimate host scalars (e.g.
            :func:`optimizer_step_tensors`); matched by identity.
        raise_on_read: raise :class:`HostSyncError` at the first read instead of recording.
    """
    allowed = {id(t) for t in allow}
    seen = HostReads()
    originals = {name: getattr(torch.Tensor, name) for name in READ_METHODS}

    def wrap(name, orig):
        def patched(self, *args, **kwargs):
            if id(self) not in allowed:
                where = _caller()
                if raise_on_read:
                    raise HostSyncError(f"host read Tensor.{name} at {where}")
                seen.calls.append((name, where))
            return orig(self, *args, **kwargs)

        patched.__name__ = name
        return patched

    for name, orig in originals.items():
        setattr(torch.Tensor, name, wrap(name, orig))
    try:
        yield seen
    finally:
        for name, orig in originals.items():
            setattr(torch.Tensor, name, orig)


@contextmanager
def cuda_sync_debug(mode: str = "error") -> Iterator[bool]:
    """``torch.cuda.set_sync_debug_mode(mode)`` inside the block; yields whether CUDA is there
    (without CUDA it does nothing and yields False)."""
    if not torch.cuda.is_available():
        yield False
        return
    before = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield True
    finally:
        torch.cuda.set_sync_debug_mode(before)
