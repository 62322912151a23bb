"""Crash-safe file writes: temporary file in the same folder, fsync, atomic rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from stylex.errors import RunError
from stylex.utils.faults import fault_point


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder + fsync + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        fault_point("atomic.before_replace")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_versioned_json(
    path: str | os.PathLike, max_version: int, *, what: str = "file", hint: str = ""
) -> dict[str, Any]:
    """Read a JSON object written by stylex with a ``format_version`` field.

    The one reader of stylex's versioned JSON files (run config, model configs, AttFind results,
    metrics, probes). Raises :class:`~stylex.errors.RunError` with the path when the file is
    missing (``hint`` says how to make it), is not a JSON object, or was written by a newer stylex
    (``format_version`` above ``max_version``). A missing ``format_version`` reads as 0.
    """
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(obj, dict):
        raise RunError(f"{path} is not a JSON object")
    version = obj.get("format_version", 0)
    if not isinstance(version, int) or version > max_version:
        raise RunError(f"{path} was written by a newer stylex (format {version!r}); upgrade stylex")
    return obj
