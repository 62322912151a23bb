"""The report's fitness banner: red "not fit to explain: causes…" or green "fit", with the
check table (:mod:`stylex.metrics.fitness`)."""

from __future__ import annotations

import math
from pathlib import Path

from stylex.metrics.fitness import Fitness, load_fitness
from stylex.report.html import esc


def _num(v: float | None) -> str:
    return "—" if v is None or not math.isfinite(float(v)) else f"{float(v):.3f}"


def report_fitness(metrics: dict | None, run_dir: str | Path) -> tuple[Fitness | None, bool]:
    """The verdict the report shows: the newest stored one (``RUN/fitness.json`` or
    ``RUN/metrics.json``), else ``metrics["fitness"]``; and whether it is stale (older than the
    weights)."""
    stored = load_fitness(run_dir)
    if stored is not None:
        return stored.fitness, stored.stale
    in_metrics = (metrics or {}).get("fitness")
    if isinstance(in_metrics, dict):
        try:
            return Fitness.from_json(in_metrics), False
        except ValueError:
            pass
    return None, False


def fitness_banner(fitness: Fitness | None, run_dir: str | Path, stale: bool = False) -> str:
    """HTML of the banner (a grey note when there is no verdict)."""
    evaluate = f"<code>stylex evaluate --run {esc(run_dir)}</code>"
    if fitness is None:
        return (
            f'<div class="fitness none"><b>No fitness verdict yet</b>: {evaluate} '
            "computes whether this run can explain its classifier.</div>"
        )
    cls, title = ("fit", "Fit to explain") if fitness.fit else ("unfit", "Not fit to explain")
    causes = "".join(f"<li>{esc(c)}</li>" for c in fitness.causes)
    warns = "".join(f"<li>{esc(w)}</li>" for w in fitness.warnings)
    rows = "".join(
        f'<tr class="{esc(c.status.replace(" ", "-"))}"><td>{esc(name)}</td>'
        f"<td>{_num(c.value)}</td><td>{_num(c.reference)}</td>"
        f"<td>{esc(c.status)}{'' if c.required else ' (advisory)'}</td>"
        f"<td>{esc(c.detail)}</td></tr>"
        for name, c in fitness.checks.items()
    )
    note = (
        f" <b>Stale</b>: the weights are newer than this verdict; run {evaluate}." if stale else ""
    )
    lead = (
        "Every required check passed."
        if fitness.fit
        else "The causes below say why; the explanations on this page may explain nothing."
    )
    return (
        f'<div class="fitness {cls}"><div class="verdict">{title}</div>'
        f"<div>{lead}{note}</div>"
        + (f'<ul class="causes">{causes}</ul>' if causes else "")
        + (f'<ul class="warnings">{warns}</ul>' if warns else "")
        + '<table class="data fitness-checks"><tr><th>check</th><th>value</th><th>reference</th>'
        f"<th>status</th><th>what</th></tr>{rows}</table></div>"
    )


__all__ = ["fitness_banner", "report_fitness"]
