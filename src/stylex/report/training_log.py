"""Reading the run's training log (``RUN/log.jsonl``) for the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

LOG_FILE = "log.jsonl"
CURVE_SKIP = {"step", "kimg", "sec_per_step", "time", "epoch", "lr"}


def read_log(path: Path, skip: set[str] = CURVE_SKIP) -> dict[str, tuple[list[float], list[float]]]:
    """``log.jsonl`` → ``{key: (steps, values)}`` for every numeric key not in ``skip`` (bad
    lines skipped; a step logged twice, e.g. after a resume, keeps its last value)."""
    per_key: dict[str, dict[float, float]] = {}
    if not path.is_file():
        return {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("step"), int | float):
            continue
        step = float(rec["step"])
        for k, v in rec.items():
            if k in skip or k == "step" or isinstance(v, bool) or not isinstance(v, int | float):
                continue
            if math.isfinite(v):
                per_key.setdefault(k, {})[step] = float(v)
    out = {}
    for k, d in per_key.items():
        steps = sorted(d)
        out[k] = (steps, [d[s] for s in steps])
    return out


def steps_done(run_dir: str | Path) -> int:
    """The last step the log mentions (0 without a log)."""
    log = read_log(Path(run_dir) / LOG_FILE, skip=set())
    steps = [s for xs, _ in log.values() for s in xs]
    return int(max(steps)) if steps else 0


def train_seconds(run_dir: str | Path) -> float | None:
    """About how long training took: mean logged seconds per step × steps."""
    log = read_log(Path(run_dir) / LOG_FILE, skip=set())
    if "sec_per_step" not in log:
        return None
    vals = log["sec_per_step"][1]
    return sum(vals) / len(vals) * steps_done(run_dir)
