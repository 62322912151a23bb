"""Fault injection for crash-safety tests: ``STYLEX_FAULT=point[:n]`` SIGKILLs this process the
n-th time (default 1st) execution reaches ``fault_point(point)``.

Points: ``ckpt.file`` (after each file of a checkpoint is written), ``ckpt.before_rename``,
``ckpt.after_rename``, ``atomic.before_replace`` (a temp file fully written, not yet renamed),
``train.step`` (after a training step), ``attfind.chunk`` (after a partial chunk is saved).
Unset (the normal case) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def fault_point(point: str) -> None:
    spec = os.environ.get("STYLEX_FAULT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
