"""The training log of a run: ``RUN/log.jsonl`` (one JSON object per line) and, when
tensorboard is installed, the same scalars in ``RUN/tb/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any


class TrainLog:
    """Appends records (``{"step": n, name: value, ...}``) to the run's log; files open lazily."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._file: IO[str] | None = None
        self._tb: Any = None  # SummaryWriter; False when tensorboard is not installed

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            self._file = open(self.run_dir / "log.jsonl", "a")  # noqa: SIM115
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # tensorboard not installed: JSON-lines log only
                self._tb = False
        if self._tb:
            for k, v in record.items():
                if k != "step" and isinstance(v, float | int):
                    self._tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb:
            self._tb.flush()
            self._tb.close()
            self._tb = None
