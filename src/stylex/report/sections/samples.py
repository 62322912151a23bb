"""Section "Samples": the latest sample grid the training saved."""

from __future__ import annotations

import re
from pathlib import Path

from stylex.report.context import ReportContext
from stylex.report.html import data_uri, esc, missing
from stylex.report.images import upscale_png


def samples_section(ctx: ReportContext) -> str:
    folder = Path(ctx.run.path) / "samples"
    files = sorted(folder.glob("step-*.png")) if folder.is_dir() else []

    def step_of(p: Path) -> int:
        m = re.search(r"(\d+)", p.stem)
        return int(m.group(1)) if m else -1

    files.sort(key=step_of)
    if not files:
        return missing("No sample grids in <code>samples/</code>.")
    latest = files[-1]
    try:
        data, w, h = upscale_png(latest)
    except Exception as e:  # noqa: BLE001 - a broken file must not stop the report
        return missing(f"Could not read {esc(latest.name)}: {esc(e)}")
    return (
        f'<p class="note">Latest sample grid, step {step_of(latest):,} '
        f"(<code>samples/{esc(latest.name)}</code>; {len(files)} grid(s) saved): "
        "the first two rows are random samples G(z) (fixed z), then held-out originals "
        "above their reconstructions.</p>"
        f'<div class="samples"><img src="{data_uri(data, "image/png")}" width="{w}" '
        f'height="{h}" alt="samples at step {step_of(latest)}"></div>'
    )
