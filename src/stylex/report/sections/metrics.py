"""Section "Metrics" (the metrics and sufficiency tables, StylEx beside the baseline, and the
ground-truth table) and the headline chips of the page header."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stylex.report.context import ReportContext
from stylex.report.html import EVALUATE_HINT, esc, fmt, missing
from stylex.report.metrics_view import (
    GT_ROWS,
    META_KEYS,
    METRIC_ROWS,
    SECTION_KEYS,
    classes,
    display_sufficiency,
    number,
    per_class,
    sufficiency,
)


def headline_chips(m: dict | None) -> str:
    if m is None:
        return (
            '<div class="chip missing"><div class="k">metrics</div>'
            f'<div class="v">{EVALUATE_HINT}</div></div>'
        )
    chips = []
    suff = sufficiency(m)

    def chip(label: str, v: float | None, digits: int = 3) -> None:
        if v is not None:
            chips.append(
                f'<div class="chip"><div class="k">{esc(label)}</div>'
                f'<div class="v">{fmt(v, digits)}</div></div>'
            )

    chip("consistency", number(m.get("consistency")))
    for k in (1, 5, 10):
        if k in suff:
            chip(f"sufficiency@{k}", suff[k])
    chip("reconstruction L1", number(m.get("reconstruction_l1")))
    chip("FD reconstructions", number(m.get("fd_reconstructions")), 2)
    gt = m.get("ground_truth")
    if isinstance(gt, dict):
        chip("GT recall@10", number(gt.get("recall_top10")))
    return "".join(chips) or (
        '<div class="chip missing"><div class="k">metrics</div>'
        '<div class="v">metrics.json has no known metrics</div></div>'
    )


def metrics_tables(m: dict | None, base: dict | None, base_label: str = "baseline") -> str:
    """The metrics table (and the sufficiency curve table), StylEx beside the baseline."""
    if m is None and base is None:
        return missing(f"Metrics {EVALUATE_HINT}.")
    m = m or {}
    two = base is not None
    head = "<tr><th>metric</th><th>StylEx</th>"
    head += f"<th>{esc(base_label)}</th><th>difference</th>" if two else ""
    head += '<th class="desc">what it measures</th></tr>'
    rows = []

    def row(label: str, desc: str, better: str | None, a: float | None, b: float | None):
        if a is None and b is None:
            return
        arrow = {"up": " ↑", "down": " ↓"}.get(better or "", "")
        cells_a, cells_b = fmt(a) if a is not None else "—", fmt(b) if b is not None else "—"
        if two and a is not None and b is not None and better:
            if (a > b) == (better == "up") and a != b:
                cells_a = f'<span class="better">{cells_a}</span>'
            elif a != b:
                cells_b = f'<span class="better">{cells_b}</span>'
        tr = f"<tr><td>{esc(label)}{arrow}</td><td>{cells_a}</td>"
        if two:
            diff = fmt(a - b) if a is not None and b is not None else "—"
            tr += f"<td>{cells_b}</td><td>{diff}</td>"
        rows.append(tr + f'<td class="desc">{esc(desc)}</td></tr>')

    for key, label, desc, better in METRIC_ROWS:
        row(label, desc, better, number(m.get(key)), number((base or {}).get(key)))
    gt_a, gt_b = m.get("ground_truth"), (base or {}).get("ground_truth")
    gt_a = gt_a if isinstance(gt_a, dict) else {}
    gt_b = gt_b if isinstance(gt_b, dict) else {}
    for key, label, desc, better in GT_ROWS:
        row(label, desc, better, number(gt_a.get(key)), number(gt_b.get(key)))
    known = {k for k, *_ in METRIC_ROWS} | SECTION_KEYS | META_KEYS
    for key in sorted(set(m) | set(base or {})):
        if key in known:
            continue
        a, b = number(m.get(key)), number((base or {}).get(key))
        if a is not None or b is not None:
            row(key, "", None, a, b)
    parts = []
    notes = []
    n_a, n_b = number(m.get("num_images")), number((base or {}).get("num_images"))
    if n_a is not None:
        notes.append(f"Computed on {int(n_a)} held-out images")
        if two and n_b is not None and n_b != n_a:
            notes[-1] += f" ({int(n_b)} for the baseline)"
    if isinstance(m.get("fd_note"), str):
        notes.append(m["fd_note"])
    if notes:
        parts.append(f'<p class="note">{esc(". ".join(notes))}.</p>')
    if rows:
        parts.append(f'<table class="data">{head}{"".join(rows)}</table>')
    suff_rows = [("StylEx", sufficiency(m), True)]
    suff_rows += [(f"· {c}", per_class(m, c), False) for c in classes(m)]
    shown = display_sufficiency(m)
    if shown:
        suff_rows.append(("StylEx at display strength", shown, True))
    if two:
        suff_rows.append((base_label, sufficiency(base), True))
        suff_rows += [(f"· {c}", per_class(base, c), False) for c in classes(base)]
        if display_sufficiency(base):
            suff_rows.append((f"{base_label} at display strength", display_sufficiency(base), True))
    ks = sorted({k for _, d, _ in suff_rows for k in d})
    if ks:
        hdr = "<tr><th>sufficiency (flip rate) with top-k ↑</th>" + "".join(
            f"<th>k={k}</th>" for k in ks
        )
        body = "".join(
            f"<tr{'' if main else ' class=sub'}><td>{esc(label)}</td>"
            + "".join(f"<td>{fmt(d[k]) if k in d else '—'}</td>" for k in ks)
            + "</tr>"
            for label, d, main in suff_rows
            if d
        )
        parts.append(
            '<p class="note">Sufficiency: over images not of class y, the share whose '
            "predicted class becomes y when the top-k attributes of y are applied together "
            "(mean over classes; per class below it). “At display strength”: each attribute "
            "at the strength its card in “Top attributes” shows (a multiple of AttFind's shift; "
            "past 1× the edit leaves the range seen on real images).</p>"
            f'<table class="data">{hdr}</tr>{body}</table>'
        )
    if not m:
        parts.insert(0, missing(f"StylEx metrics {EVALUATE_HINT}."))
    if not rows and not ks:
        return missing("metrics.json holds no known metrics.")
    return "".join(parts)


def ground_truth_table(gt: Any, label: str = "StylEx") -> str:
    """Per top attribute, the factor it changes most (the ground-truth metric's dominant
    factor) and the mean |change| of every factor, plus how well the factor probe reads
    images; empty when ``gt`` has no attribute rows."""
    if not isinstance(gt, dict) or not isinstance(gt.get("attributes"), list):
        return ""
    rows = [r for r in gt["attributes"] if isinstance(r, dict)]
    if not rows:
        return ""
    names = list(gt.get("factor_names") or rows[0].get("change", {}))
    used = set(gt.get("label_factors") or [])
    head, body = _factor_table(
        rows,
        names,
        used,
        ("class", "#", "layer · channel · dir"),
        lambda r: (
            r.get("class"),
            r.get("rank"),
            f"{r.get('layer')} · {r.get('channel')} · {r.get('direction')}",
        ),
    )
    joint = [r for r in gt.get("joint_attributes") or [] if isinstance(r, dict)]
    joint_head, joint_body = _factor_table(
        joint, names, used, ("class", "top-k together"), lambda r: (r.get("class"), r.get("k"))
    )
    probe_found = gt.get("probe")
    probe = probe_found if isinstance(probe_found, dict) else {}
    quality = []
    for key, what in (
        ("clean_test", "clean renders"),
        ("degraded_test", "degraded renders"),
        ("on_real", "held-out images"),
        ("on_reconstructions", "their reconstructions"),
    ):
        e = probe.get(key)
        if not isinstance(e, dict) or not e:
            continue
        bits = []
        for n in names:
            v = e.get(n) or {}
            if "accuracy" in v:
                bits.append(f"{n} acc {fmt(v['accuracy'], 2)}")
            elif "normalised" in v:
                bits.append(f"{n} {fmt(v['normalised'], 2)}")
        quality.append(f"on {what}: " + ", ".join(bits))
    note = (
        f"{esc(label)}: per top attribute, the mean |change| of each generating factor when the "
        "attribute alone is applied, read by the factor probe and in units of the factor's "
        "spread (shape: scaled change of the probe's class probabilities). * = a factor the "
        "label rule uses; dominant = the largest change"
        + (f" if ≥ {fmt(gt.get('min_change'), 2)}" if gt.get("min_change") is not None else "")
        + "."
    )
    if quality:
        note += " Probe errors (in stds; shape: accuracy) " + "; ".join(esc(q) for q in quality)
        note += "."
    unread = [str(f) for f in gt.get("unreproduced_factors") or []]
    if unread:
        note += (
            f" Not reproduced by the generator: {esc(', '.join(unread))} (read on the "
            "reconstructions much worse than on the real images): never taken as dominant, "
            "since a reading near chance measures no change."
        )
    out = (
        f'<h3>Ground truth per attribute ({esc(label)})</h3><p class="note">{note}</p>'
        f'<table class="data gt">{head}{"".join(body)}</table>'
    )
    if joint_body:
        out += (
            f"<h3>Ground truth of the top-k attributes together ({esc(label)})</h3>"
            '<p class="note">The same, for each class\'s top-k attributes applied together, in '
            "order (the edit that sufficiency and the explanations' “together” column apply): "
            "a class can be carried by a few coordinates that each move several factors while "
            "together they move the label factor.</p>"
            f'<table class="data gt">{joint_head}{"".join(joint_body)}</table>'
        )
    return out


def _factor_table(
    rows: list[dict],
    names: list[str],
    used: set,
    first: tuple[str, ...],
    first_cells: Callable[[dict], tuple[Any, ...]],
) -> tuple[str, list[str]]:
    """Header and body rows of a factor-change table: the ``first`` columns (values from
    ``first_cells(row)``), the dominant factor (marked by whether the rule uses it) and every
    factor's mean |change| (``*`` = used by the rule)."""
    head = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in first) + "<th>dominant</th>"
    head += "".join(f"<th>{esc(n)}{' *' if n in used else ''}</th>" for n in names) + "</tr>"
    body = []
    for r in rows:
        ch = r.get("change") or {}
        dom = r.get("dominant")
        cells = "".join(
            f"<td{' class=dom' if n == dom else ''}>{fmt(ch.get(n), 2)}</td>" for n in names
        )
        mark = "better" if dom in used else "worse"
        lead = "".join(f"<td>{esc(v)}</td>" for v in first_cells(r))
        body.append(
            f'<tr>{lead}<td><span class="{mark}">{esc(dom or "none")}</span></td>{cells}</tr>'
        )
    return head, body


def metrics_section(ctx: ReportContext) -> str:
    note = f'<p class="note">{esc(ctx.metrics_note)}</p>' if ctx.metrics_note else ""
    label = "baseline"
    if ctx.base is not None:
        label = f"baseline “{Path(ctx.base.path).resolve().name}”"
    base = ctx.base_metrics if (ctx.base is not None or ctx.base_metrics) else None
    gt = ground_truth_table((ctx.metrics or {}).get("ground_truth"))
    if base is not None:
        gt += ground_truth_table(base.get("ground_truth"), label)
    return note + metrics_tables(ctx.metrics, base, label) + gt
