"""Build ``RUN/report/index.html``: one self-contained page about a run.

Everything is inline (PNG and GIF images as base64 data URIs, CSS in a ``<style>`` block, charts
as SVG), so the file opens offline from disk, needs no scripts and can be mailed around.

Sections: header with headline metrics; configuration (data, classifier, model sizes, training
budget, AttFind settings); training curves from ``log.jsonl``; the latest sample grid;
reconstructions beside the originals; per class, its top attributes with their numbers, an
attribute view (original/edited pairs with the class probability) and a sweep GIF; per-image
explanations of a few held-out images; the metrics table from ``metrics.json``; with a
baseline run, StylEx and the baseline side by side (metrics and top attributes).

Small images are upscaled with nearest neighbour (×8 for 16 px, ×4 for 32 px; see
:func:`stylex.explain.display_scale`).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from stylex.errors import StylexError
from stylex.explain import (
    AttributeView,
    Explainer,
    ImageExplanation,
    display_scale,
    font,
)
from stylex.report.field import field_section
from stylex.utils.fs import atomic_write_bytes
from stylex.utils.images import to_pil

EVALUATE_HINT = "not computed — run <code>stylex evaluate</code>"


# ------------------------------------------------------------------------------------ options
@dataclass
class ReportOptions:
    """What goes into the page (defaults keep a 32-px run's page around 1–3 MB)."""

    top_k: int = 5  # attributes shown per class
    num_images: int = 6  # original/edited pairs per attribute view
    num_explain: int = 4  # held-out images explained one by one
    num_reconstructions: int = 8
    sweep_steps: int = 9
    shift_size: float | None = None  # attribute strength (default: AttFind's)
    baseline_top_k: int = 3  # attributes per class in the side-by-side comparison


@dataclass
class ReportResult:
    path: Path
    size_bytes: int
    seconds: float


# ------------------------------------------------------------------------------------ html bits
def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def pil_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def img_tag(image: torch.Tensor, scale: int, alt: str, cls: str = "") -> str:
    """``<img>`` of one image ``[C, R, R]`` in [-1, 1], upscaled ``scale``× (nearest)."""
    pil = to_pil(image, scale)
    c = f' class="{cls}"' if cls else ""
    uri = data_uri(pil_png(pil), "image/png")
    return (
        f'<img{c} src="{uri}" width="{pil.width}" height="{pil.height}" alt="{esc(alt)}" '
        f'title="{esc(alt)}">'
    )


def tick_label(v: float) -> str:
    """A short axis label: ``1,143`` / ``12.5`` / ``0.0421`` (at most ~6 characters wide)."""
    if not math.isfinite(v):
        return esc(v)
    a = abs(v)
    if a >= 1e5 or (0 < a < 1e-3):
        return f"{v:.2g}"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, bool) or v is None:
        return esc(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return esc(v)
        if v != 0 and (abs(v) >= 1e4 or abs(v) < 10 ** (-digits)):
            return f"{v:.{digits}g}"
        return f"{v:.{digits}f}"
    if isinstance(v, list | tuple):
        return ", ".join(fmt(x, digits) for x in v)
    return esc(v)


def kv_table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><td>{esc(k)}</td><td>{fmt(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def card(title: str, body: str, cls: str = "card") -> str:
    return f'<div class="{cls}"><h4>{esc(title)}</h4>{body}</div>'


def missing(text: str) -> str:
    return f'<div class="missing-box">{text}</div>'


# ------------------------------------------------------------------------------------ charts
COLOURS = ["#2f5fd0", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad"]


def _downsample(xs: list[float], ys: list[float], n: int = 300) -> tuple[list, list]:
    if len(xs) <= n:
        return xs, ys
    size = len(xs) / n
    ox, oy = [], []
    for b in range(n):
        a, e = int(b * size), max(int((b + 1) * size), int(b * size) + 1)
        ox.append(sum(xs[a:e]) / (e - a))
        oy.append(sum(ys[a:e]) / (e - a))
    return ox, oy


def _smooth(ys: list[float], alpha: float) -> list[float]:
    out, m = [], None
    for y in ys:
        m = y if m is None else alpha * m + (1 - alpha) * y
        out.append(m)
    return out


def line_chart(
    title: str,
    series: list[tuple[str, list[float], list[float]]],
    width: int = 282,
    height: int = 160,
) -> str:
    """An inline SVG line chart of ``(label, steps, values)`` series (noisy series get a faint
    raw line and a smoothed one)."""
    series = [(n, xs, ys) for n, xs, ys in series if xs]
    if not series:
        return ""
    left, right, top, bottom = 46, 10, 22, 34
    all_x = [x for _, xs, _ in series for x in xs]
    all_y = [y for _, _, ys in series for y in ys]
    x0, x1 = min(all_x), max(all_x)
    y0, y1 = min(all_y), max(all_y)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{left}" y="14" font-size="12" font-weight="600" fill="#1d2433">'
        f"{esc(title)}</text>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fbfcfe" stroke="#dde2ea"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        yv = y0 + frac * (y1 - y0)
        yy = py(yv)
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e9ecf2"/>'
            f'<text x="{left - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#5d6677">{tick_label(float(yv))}</text>'
        )
    for xv, anchor in ((x0, "start"), (x1, "end")):
        parts.append(
            f'<text x="{px(xv):.1f}" y="{top + ph + 13}" font-size="10" text-anchor="{anchor}" '
            f'fill="#5d6677">{int(round(xv)):,}</text>'
        )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{top + ph + 13}" font-size="10" '
        'text-anchor="middle" fill="#8a93a3">step</text>'
    )
    legend_x = left
    for j, (name, xs, ys) in enumerate(series):
        colour = COLOURS[j % len(COLOURS)]
        dx, dy = _downsample(xs, ys)
        if len(dx) == 1:
            parts.append(
                f'<circle cx="{px(dx[0]):.1f}" cy="{py(dy[0]):.1f}" r="3" fill="{colour}"/>'
            )
        else:
            noisy = len(xs) > 40
            pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(dx, dy))
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                f'stroke-width="{1 if noisy else 1.6}" stroke-opacity="{0.3 if noisy else 1}"/>'
            )
            if noisy:
                sm = _smooth(dy, 0.9)
                pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(dx, sm))
                parts.append(
                    f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
                )
        if len(series) > 1:
            parts.append(
                f'<rect x="{legend_x}" y="{height - 12}" width="10" height="3" fill="{colour}"/>'
                f'<text x="{legend_x + 13}" y="{height - 8}" font-size="10" fill="#5d6677">'
                f"{esc(name)}</text>"
            )
            legend_x += 20 + 6 * len(name)
    parts.append("</svg>")
    return '<div class="chart">' + "".join(parts) + "</div>"


CURVE_GROUPS: list[tuple[str, list[str]]] = [
    ("Discriminator loss", ["loss_d"]),
    ("D outputs (real / fake)", ["d_real", "d_fake"]),
    ("Generator + encoder loss", ["loss_g"]),
    ("Adversarial loss (G)", ["adv"]),
    ("Reconstruction L1", ["l1"]),
    ("w reconstruction", ["w_rec"]),
    ("Perceptual loss", ["perc", "perceptual"]),
    ("Classifier KL(C(x) ‖ C(x′))", ["kl"]),
    ("R1 penalty", ["r1"]),
    ("Held-out consistency", ["eval_consistency"]),
    ("Held-out probability difference", ["eval_prob_diff"]),
    ("Held-out reconstruction L1", ["eval_rec_l1"]),
    ("Throughput (images/s)", ["img_per_s"]),
]
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


def training_curves(log: dict[str, tuple[list[float], list[float]]]) -> str:
    charts, used = [], set()
    for title, keys in CURVE_GROUPS:
        series = [(k, *log[k]) for k in keys if k in log]
        used.update(keys)
        if series:
            charts.append(line_chart(title, series))
    for k in sorted(set(log) - used):
        charts.append(line_chart(k, [(k, *log[k])]))
    return '<div class="charts">' + "".join(charts) + "</div>"


# ------------------------------------------------------------------------------------ metrics
# key, label, description, which way is better ("up" / "down" / None)
METRIC_ROWS: list[tuple[str, str, str, str | None]] = [
    ("consistency", "Classifier consistency", "share of G(E(x)) keeping x's class", "up"),
    ("prob_diff", "Probability difference", "mean |p(x) − p(x′)| of x's predicted class", "down"),
    ("prob_tv", "Probability TV distance", "mean ½Σ|p(x) − p(x′)|", "down"),
    ("reconstruction_l1", "Reconstruction L1", "mean |x − x′|, images in [−1, 1]", "down"),
    ("perceptual", "Perceptual distance", "LPIPS-like on EfficientNet-Lite0 features", "down"),
    ("fd_samples", "FD (random samples)", "Fréchet distance, real vs G(z)", "down"),
    ("fd_reconstructions", "FD (reconstructions)", "Fréchet distance, real vs G(E(x))", "down"),
    ("fd_real_reference", "FD (real reference)", "two real sets of this size: the floor", None),
]
GT_ROWS = [
    ("precision_top5", "Ground truth: precision@5", "top-5 that change a used factor", "up"),
    ("recall_top10", "Ground truth: recall@10", "used factors found in the top 10", "up"),
]
SECTION_KEYS = {"baseline", "difference", "sufficiency", "ground_truth"}
META_KEYS = {"format_version", "num_images", "baseline_run", "seed", "same_images"}


def read_metrics(path: Path) -> tuple[dict | None, str]:
    """``metrics.json`` → (dict or None, a note when it is missing or unreadable)."""
    if not path.is_file():
        return None, ""
    try:
        m = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return None, f"{path.name} could not be read ({e})"
    if not isinstance(m, dict):
        return None, f"{path.name} is not a JSON object"
    return m, ""


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _sufficiency(m: dict | None) -> dict[int, float]:
    s = (m or {}).get("sufficiency")
    out = {}
    if isinstance(s, dict):
        for k, v in s.items():
            if str(k).isdigit() and _num(v) is not None:
                out[int(k)] = float(v)
    return out


def headline_chips(m: dict | None) -> str:
    if m is None:
        return (
            '<div class="chip missing"><div class="k">metrics</div>'
            f'<div class="v">{EVALUATE_HINT}</div></div>'
        )
    chips = []
    suff = _sufficiency(m)

    def chip(label: str, v: float | None, digits: int = 3) -> None:
        if v is not None:
            chips.append(
                f'<div class="chip"><div class="k">{esc(label)}</div>'
                f'<div class="v">{fmt(v, digits)}</div></div>'
            )

    chip("consistency", _num(m.get("consistency")))
    for k in (1, 5, 10):
        if k in suff:
            chip(f"sufficiency@{k}", suff[k])
    chip("reconstruction L1", _num(m.get("reconstruction_l1")))
    chip("FD reconstructions", _num(m.get("fd_reconstructions")), 2)
    gt = m.get("ground_truth")
    if isinstance(gt, dict):
        chip("GT recall@10", _num(gt.get("recall_top10")))
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
        row(label, desc, better, _num(m.get(key)), _num((base or {}).get(key)))
    gt_a, gt_b = m.get("ground_truth"), (base or {}).get("ground_truth")
    gt_a = gt_a if isinstance(gt_a, dict) else {}
    gt_b = gt_b if isinstance(gt_b, dict) else {}
    for key, label, desc, better in GT_ROWS:
        row(label, desc, better, _num(gt_a.get(key)), _num(gt_b.get(key)))
    known = {k for k, *_ in METRIC_ROWS} | SECTION_KEYS | META_KEYS
    for key in sorted(set(m) | set(base or {})):
        if key in known:
            continue
        a, b = _num(m.get(key)), _num((base or {}).get(key))
        if a is not None or b is not None:
            row(key, "", None, a, b)
    parts = []
    notes = []
    n_a, n_b = _num(m.get("num_images")), _num((base or {}).get("num_images"))
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
    suff_rows = [("StylEx", _sufficiency(m), True)]
    suff_rows += [(f"· {c}", _per_class(m, c), False) for c in _classes(m)]
    if two:
        suff_rows.append((base_label, _sufficiency(base), True))
        suff_rows += [(f"· {c}", _per_class(base, c), False) for c in _classes(base)]
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
            "(mean over classes; per class below it).</p>"
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
    head = "<tr><th>class</th><th>#</th><th>layer · channel · dir</th><th>dominant</th>"
    head += "".join(f"<th>{esc(n)}{' *' if n in used else ''}</th>" for n in names) + "</tr>"
    body = []
    for r in rows:
        ch = r.get("change") or {}
        dom = r.get("dominant")
        cells = "".join(
            f"<td{' class=dom' if n == dom else ''}>{fmt(ch.get(n), 2)}</td>" for n in names
        )
        mark = "better" if dom in used else "worse"
        body.append(
            f"<tr><td>{esc(r.get('class'))}</td><td>{esc(r.get('rank'))}</td>"
            f"<td>{esc(r.get('layer'))} · {esc(r.get('channel'))} · {esc(r.get('direction'))}"
            f'</td><td><span class="{mark}">{esc(dom or "none")}</span></td>{cells}</tr>'
        )
    probe = gt.get("probe") if isinstance(gt.get("probe"), dict) else {}
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
    return (
        f'<h3>Ground truth per attribute ({esc(label)})</h3><p class="note">{note}</p>'
        f'<table class="data gt">{head}{"".join(body)}</table>'
    )


def _classes(m: dict | None) -> list[str]:
    per = (m or {}).get("sufficiency_per_class")
    return [str(c) for c in per] if isinstance(per, dict) else []


def _per_class(m: dict | None, cls: str) -> dict[int, float]:
    per = (m or {}).get("sufficiency_per_class")
    return _sufficiency({"sufficiency": per.get(cls)}) if isinstance(per, dict) else {}


# ------------------------------------------------------------------------------------ images
def sweep_gif(
    frames: torch.Tensor,
    probs: torch.Tensor,
    class_index: int,
    scale: int,
    duration_ms: int = 110,
    max_side: int = 160,
) -> bytes:
    """Frames ``[T, C, R, R]`` → looping GIF (forth and back) with the class probability
    drawn as a bar and a number under each frame; frames wider than ``max_side`` px are
    shrunk to it."""
    fnt = font(11)
    pils = []
    for f, p in zip(frames, probs[:, class_index].tolist()):
        tile = to_pil(f, scale).convert("RGB")
        if tile.width > max_side:  # large images: a smaller animation keeps the page light
            tile = tile.resize((max_side, max_side * tile.height // tile.width), Image.LANCZOS)
        w = tile.width
        canvas = Image.new("RGB", (w, tile.height + 18), "white")
        canvas.paste(tile, (0, 0))
        d = ImageDraw.Draw(canvas)
        y, bar_end = tile.height + 3, max(8, w - 32)
        d.rectangle((1, y, bar_end, y + 12), outline=(190, 196, 208))
        d.rectangle((2, y + 1, 2 + int((bar_end - 3) * p), y + 11), fill=(47, 95, 208))
        d.text((bar_end + 3, y), f"{p:.2f}", fill=(0, 0, 0), font=fnt)
        pils.append(canvas)
    pils = pils + pils[-2:0:-1]
    buf = io.BytesIO()
    pils[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=pils[1:],
        duration=duration_ms,
        loop=0,
        optimize=True,
    )
    return buf.getvalue()


def upscale_png(path: Path, min_width: int = 640, max_scale: int = 8) -> tuple[bytes, int, int]:
    """A PNG file, nearest-upscaled by an integer factor to at least ``min_width`` px wide."""
    with Image.open(path) as im:
        im.load()
        scale = max(1, min(max_scale, math.ceil(min_width / max(1, im.width))))
        if scale > 1:
            im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
        return pil_png(im), im.width, im.height


# ------------------------------------------------------------------------------------ builder
class ReportBuilder:
    """Assembles the page of one run (and optionally a baseline run)."""

    def __init__(self, run, baseline=None, options: ReportOptions | None = None):
        self.run = run
        self.base = baseline
        self.opt = options or ReportOptions()
        self.names = run.class_names
        self.scale = display_scale(run.generator.config.resolution)
        self.explainer, self.attfind_note = self._explainer(run)
        self.base_explainer, self.base_attfind_note = (
            self._explainer(baseline) if baseline is not None else (None, "")
        )
        self.metrics, self.metrics_note = read_metrics(Path(run.path) / "metrics.json")
        # the baseline's numbers: from this run's metrics.json (computed on the same images by
        # `stylex evaluate --baseline`), else from the baseline run's own metrics.json
        self.base_metrics = None
        if isinstance((self.metrics or {}).get("baseline"), dict):
            self.base_metrics = self.metrics["baseline"]
        elif baseline is not None:
            self.base_metrics, _ = read_metrics(Path(baseline.path) / "metrics.json")
        self._val = None

    def _explainer(self, run) -> tuple[Explainer | None, str]:
        try:
            return Explainer(run, shift_size=self.opt.shift_size), ""
        except StylexError as e:
            return None, str(e)

    @property
    def val(self):
        if self._val is None:
            self._val = self.run.dataset("val")
            if len(self._val) == 0:
                self._val = self.run.dataset("all")
        return self._val

    def _held_out(self, n: int) -> list[int]:
        """``n`` held-out image positions, taking the classes in turn."""
        labels = self.val.labels.tolist()
        per_class: dict[int, list[int]] = {}
        for i, y in enumerate(labels):
            per_class.setdefault(y, []).append(i)
        out: list[int] = []
        queues = [per_class[k] for k in sorted(per_class)]
        while len(out) < min(n, len(labels)):
            for q in queues:
                if q and len(out) < n:
                    out.append(q.pop(0))
        return out

    # ----------------------------------------------------------------------------- page
    def html(self, seconds_so_far: float = 0.0) -> str:
        t0 = time.perf_counter()
        sections: list[tuple[str, str, str]] = [
            ("config", "Configuration", self.config_section()),
            ("training", "Training", self.training_section()),
            ("samples", "Samples", self.samples_section()),
            ("reconstructions", "Reconstructions", self.reconstructions_section()),
            ("attributes", "Top attributes", self.attributes_section()),
            ("explanations", "Per-image explanations", self.explanations_section()),
            ("metrics", "Metrics", self.metrics_section()),
        ]
        if field_html := field_section(self.metrics):
            sections.append(("counterfactual", "Counterfactual metrics", field_html))
        if self.base is not None:
            sections.append(("baseline", "StylEx vs baseline", self.baseline_section()))
        css = resources.files("stylex.report").joinpath("report.css").read_text()
        nav = "".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title, _ in sections)
        body = "".join(
            f'<section id="{sid}"><h2>{esc(title)}</h2>{content}</section>'
            for sid, title, content in sections
        )
        name = Path(self.run.path).resolve().name
        kind = "baseline" if self.run.baseline else "StylEx"
        d = self.run.config["data"]
        sub = (
            f"{esc(d.get('spec', '?'))} · {d.get('resolution')} px · "
            f"{'grey' if d.get('channels') == 1 else 'RGB'} · {len(self.names)} classes: "
            f"{esc(', '.join(self.names))} · {self._steps_done():,} training steps"
        )
        took = seconds_so_far + time.perf_counter() - t0
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>stylex report: {esc(name)}</title><style>{css}</style></head><body>"
            f'<header class="top"><h1>stylex report: {esc(name)}<span class="kind">{kind}'
            f'</span></h1><div class="sub">{sub}</div>'
            f'<div class="chips">{headline_chips(self.metrics)}</div></header>'
            f'<nav class="toc">{nav}</nav><main>{self.fitness_section()}{body}</main>'
            f"<footer>Generated by stylex {esc(self.run.config.get('stylex_version', ''))} on "
            f"{stamp} in {took:.1f} s from <code>{esc(Path(self.run.path).resolve())}</code>. "
            "Self-contained: all images are embedded; no scripts.</footer>"
            "</body></html>\n"
        )

    def fitness_section(self) -> str:
        """The fitness banner at the top of the page."""
        from stylex.report.fitness_banner import fitness_banner, report_fitness

        fitness, stale = report_fitness(self.metrics, self.run.path)
        return f'<section id="fitness">{fitness_banner(fitness, self.run.path, stale)}</section>'

    def _steps_done(self) -> int:
        log = read_log(Path(self.run.path) / "log.jsonl", skip=set())
        steps = [s for xs, _ in log.values() for s in xs]
        return int(max(steps)) if steps else 0

    def _extra_train_rows(self, t: dict[str, Any]) -> list[tuple[str, Any]]:
        """The options beyond the paper, and the run it was fine-tuned from (if any)."""
        rows: list[tuple[str, Any]] = []
        if t.get("cond_sparsity") or t.get("lambda_cf"):
            rows += [
                ("class-sparse conditioning λ", t.get("cond_sparsity")),
                ("counterfactual λ", t.get("lambda_cf")),
            ]
        init = self.run.config.get("init_from")
        if init:
            rows.append(("initialised from", init.get("run")))
        history = self.run.config.get("history") or []
        if history:
            rows.append(("training history", f"{len(history)} stages (config.json)"))
        return rows

    def _train_seconds(self) -> float | None:
        """About how long training took: mean logged seconds per step × steps."""
        log = read_log(Path(self.run.path) / "log.jsonl", skip=set())
        if "sec_per_step" not in log:
            return None
        vals = log["sec_per_step"][1]
        return sum(vals) / len(vals) * self._steps_done()

    # ----------------------------------------------------------------------------- sections
    def config_section(self) -> str:
        cfg = self.run.config
        d, c, g, t = cfg["data"], cfg.get("classifier", {}), cfg["generator"], cfg.get("train", {})
        data = kv_table(
            [
                ("spec", d.get("spec")),
                ("images", d.get("num_images")),
                ("resolution", f"{d.get('resolution')} px"),
                ("channels", d.get("channels")),
                ("held-out fraction", d.get("val_fraction")),
                ("classes", ", ".join(self.names)),
            ]
        )
        contract = getattr(self.run.classifier, "contract", None)
        crow = [("file", c.get("file")), ("source", c.get("source"))]
        if contract is not None and hasattr(contract, "input_range"):
            crow += [("input range", list(contract.input_range)), ("output", contract.output)]
        crow.append(("parameters", _params(self.run.classifier)))
        clf = kv_table(crow)
        models = kv_table(
            [
                ("generator params", _params(self.run.generator)),
                ("encoder params", _params(self.run.encoder)),
                ("discriminator params", _params(self.run.discriminator)),
                ("w, z size", f"{g.get('w_dim')}, {g.get('z_dim')}"),
                ("condition size", g.get("cond_dim")),
                ("channels (base, max)", f"{g.get('channel_base')}, {g.get('channel_max')}"),
                ("mapping layers", g.get("mapping_layers")),
                ("StyleSpace coordinates", self.run.generator.style_space().total),
            ]
        )
        steps_done = self._steps_done()
        train = kv_table(
            [
                ("steps done (planned)", f"{steps_done:,} ({t.get('steps', 0):,})"),
                ("batch", t.get("batch")),
                ("images seen", steps_done * int(t.get("batch", 0) or 0)),
                ("training time (approx.)", _duration(self._train_seconds())),
                *self._extra_train_rows(t),
                ("mode", "baseline (no classifier terms)" if self.run.baseline else "StylEx"),
                ("condition signal", t.get("cond_signal")),
                ("learning rates (G, D, E)", f"{t.get('lr_g')}, {t.get('lr_d')}, {t.get('lr_e')}"),
                (
                    "λ (L1, perceptual, w, classifier)",
                    f"{t.get('lambda_l1')}, {t.get('lambda_perc')}, "
                    f"{t.get('lambda_w')}, {t.get('lambda_cls')}",
                ),
                ("R1 γ (every)", f"{t.get('r1_gamma')} ({t.get('r1_every')})"),
                ("perceptual", t.get("perceptual")),
            ]
        )
        cards = [card("Data", data), card("Classifier", clf), card("Models", models)]
        cards.append(card("Training", train))
        ex = self.explainer
        if ex is not None:
            r, e = ex.result, ex.effects
            cards.append(
                card(
                    "AttFind",
                    kv_table(
                        [
                            ("images", e.num_images),
                            ("coordinates searched", e.num_coords),
                            ("include toRGB", e.include_rgb),
                            ("shift size (shown)", f"{e.shift_size} ({ex.shift_size})"),
                            ("top-k", r.config.get("top_k")),
                            ("screening", r.config.get("screen")),
                            ("unstable images", r.config.get("num_unstable")),
                            ("seconds", r.config.get("seconds")),
                        ]
                    ),
                )
            )
        return f'<div class="grid">{"".join(cards)}</div>'

    def training_section(self) -> str:
        log = read_log(Path(self.run.path) / "log.jsonl")
        if not log:
            return missing("No training log (<code>log.jsonl</code>) in this run.")
        return (
            '<p class="note">From <code>log.jsonl</code>; long noisy curves show the raw values '
            "faintly and an exponential moving average on top.</p>" + training_curves(log)
        )

    def samples_section(self) -> str:
        folder = Path(self.run.path) / "samples"
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

    def reconstructions_section(self) -> str:
        idx = self._held_out(self.opt.num_reconstructions)
        if not idx:
            return missing("The run has no held-out images.")
        real = self.val.float_images(idx)
        recon = self.run.reconstruct(real).cpu()
        p_real, p_rec = self.run.probs(real).cpu(), self.run.probs(recon).cpu()
        figs = []
        for j, i in enumerate(idx):
            y = int(self.val.labels[i])
            pr, pc = int(p_real[j].argmax()), int(p_rec[j].argmax())
            same = pr == pc
            cls = "pair" if same else "pair flip"
            figs.append(
                f'<figure class="{cls}"><div class="imgs">'
                + img_tag(real[j], self.scale, "original")
                + img_tag(recon[j], self.scale, "reconstruction", "after")
                + f"</div><figcaption>label <b>{esc(self.names[y])}</b><br>"
                f"p({esc(self.names[pr])}) {p_real[j, pr]:.2f} → {p_rec[j, pr]:.2f}"
                + ("" if same else ' <span class="flip-text">class changed</span>')
                + "</figcaption></figure>"
            )
        return (
            '<p class="note">Held-out images (left) and their reconstructions G(E(x)) (right); '
            "the caption gives the classifier's probability of the class it predicts on the "
            "original, before → after.</p>"
            f'<div class="row">{"".join(figs)}</div>'
        )

    def attribute_card(self, ex: Explainer, view: AttributeView, compact: bool = False) -> str:
        """One attribute: its numbers, a sweep GIF and original/edited pairs."""
        a, y = view.attribute, view.class_index
        cls_y = esc(self.names[y] if y < len(self.names) else view.class_name)
        scale = max(1, self.scale // 2) if compact else self.scale
        figs = []
        if view.image_ids:
            frames = ex.sweep(ex.encode(view.real[:1]), a, self.opt.sweep_steps)
            probs = ex.probs(frames).cpu()
            gif = sweep_gif(frames.cpu(), probs, y, scale)
            with Image.open(io.BytesIO(gif)) as im:
                gw, gh = im.size
            lo, hi = ex.sweep_values(a, 2).tolist()
            figs.append(
                f'<figure class="sweep"><img src="{data_uri(gif, "image/gif")}" '
                f'alt="sweep of layer {a.layer} channel {a.channel}" '
                f'width="{gw}" height="{gh}">'
                f"<figcaption>sweep {fmt(lo)} ↔ {fmt(hi)}<br>bar: p({cls_y})</figcaption>"
                "</figure>"
            )
        n = min(3 if compact else len(view.image_ids), len(view.image_ids))
        side = view.originals.shape[-1] * scale
        if n:
            figs.append(
                f'<div class="legend" style="--side:{side}px"><span>original</span>'
                "<span>with attribute</span></div>"
            )
        for j in range(n):
            before, after = float(view.probs_before[j, y]), float(view.probs_after[j, y])
            flip = bool(view.flipped[j])
            figs.append(
                f'<figure class="pair stack{" flip" if flip else ""}"><div class="imgs">'
                + img_tag(view.originals[j], scale, f"{view.image_ids[j]} original")
                + img_tag(view.edited[j], scale, f"{view.image_ids[j]} edited", "after")
                + f"</div><figcaption>p({cls_y})<br><b>{before:.2f} → {after:.2f}</b>"
                + (' <span class="flip-text">flips</span>' if flip else "")
                + "</figcaption></figure>"
            )
        considered = ex.result[view.class_name].num_considered
        stats = (
            f"effect {a.effect:.3f} · flipped {a.flipped}/{considered} · mean Δ {a.mean_delta:+.3f}"
        )
        return (
            f'<div class="card attr-card{" compact" if compact else ""}"><div class="attr-head">'
            f'<span class="rank">#{view.rank + 1}</span>'
            f"<h4>layer {a.layer} · channel {a.channel} · toward {esc(a.direction)}</h4>"
            f'<span class="stats">{stats}</span></div>'
            f'<div class="row attr-body">{"".join(figs)}</div></div>'
        )

    def class_attributes(self, ex: Explainer, cls: str, top_k: int, compact: bool) -> str:
        ca = ex.result[cls]
        attrs = ca.attributes[:top_k]
        if not attrs:
            return missing(
                f"No attributes for <b>{esc(cls)}</b>: {ca.num_considered} stable image(s) "
                "predicted as another class were available to AttFind."
            )
        parts = []
        if not compact:
            hdr = (
                "<tr><th>#</th><th>layer</th><th>channel</th><th>index</th><th>direction</th>"
                "<th>target</th><th>effect</th><th>mean Δ</th><th>flipped</th></tr>"
            )
            rows = "".join(
                f"<tr><td>{r + 1}</td><td>{a.layer}</td><td>{a.channel}</td><td>{a.index}</td>"
                f"<td>{esc(a.direction)}</td><td>{fmt(a.target)}</td><td>{fmt(a.effect)}</td>"
                f"<td>{a.mean_delta:+.3f}</td><td>{a.flipped} / {ca.num_considered}</td></tr>"
                for r, a in enumerate(ca.attributes)
            )
            parts.append(f'<table class="data">{hdr}{rows}</table>')
        for r in range(len(attrs)):
            view = ex.attribute_view(cls, r, 3 if compact else self.opt.num_images)
            parts.append(self.attribute_card(ex, view, compact))
        return "".join(parts)

    def attributes_section(self) -> str:
        ex = self.explainer
        if ex is None:
            return missing(
                f"AttFind {esc(self.attfind_note)} — run <code>stylex attfind --run RUN</code>."
            )
        intro = (
            '<p class="note">Per class, the StyleSpace coordinates AttFind found to raise the '
            "classifier's probability of that class most (effect = mean increase over images "
            "predicted as another class; flipped = images whose predicted class becomes this "
            f"one). Each pair: the reconstruction and the same with the attribute applied "
            f"(shift size {ex.shift_size:g}); red frames mark flips. The GIF sweeps the "
            "coordinate from its minimum to its maximum on the first image.</p>"
        )
        names = ex.result.class_names
        blocks = []
        for i, cls in enumerate(names):
            body = self.class_attributes(ex, cls, self.opt.top_k, compact=False)
            if len(names) > MANY_CLASSES:  # one open section at a time keeps 10 classes readable
                blocks.append(
                    f'<details class="class-block" id="class-{_slug(cls)}"'
                    f"{' open' if i == 0 else ''}><summary><h3>Class “{esc(cls)}”</h3>"
                    f"</summary>{body}</details>"
                )
            else:
                blocks.append(
                    f'<div class="class-block" id="class-{_slug(cls)}"><h3>Class “{esc(cls)}”</h3>'
                    + body
                    + "</div>"
                )
        return intro + class_selector(names) + "".join(blocks)

    def explanation_card(self, e: ImageExplanation, title: str) -> str:
        names, p, t = e.class_names, e.predicted, e.target

        def cap(probs: torch.Tensor) -> str:
            s = f"p({esc(names[p])}) {float(probs[p]):.2f}"
            if t != p:
                s += f"<br>p({esc(names[t])}) {float(probs[t]):.2f}"
            return s

        width = e.image.shape[-1] * self.scale + 8

        def tile(
            img: torch.Tensor, label: str, probs: torch.Tensor, extra: str = "", cls: str = ""
        ) -> str:
            flip = cls and int(probs.argmax()) != p
            return (
                f'<figure class="tile {cls}{" flip" if flip else ""}" style="width:{width}px">'
                + img_tag(img, self.scale, label)
                + f"<figcaption><b>{label}</b><br>{cap(probs)}{extra}</figcaption></figure>"
            )

        tiles = [
            tile(e.image, "input", e.input_probs),
            tile(e.reconstruction, "reconstruction", e.probs),
        ]
        for r, c in enumerate(e.independent):
            a = c.attributes[-1]
            src = f"<br>AttFind: {esc(', '.join(c.sources[-1]))}" if c.sources[-1] else ""
            label = f"#{r + 1} L{a.layer} c{a.channel} {esc(a.direction)}"
            extra = f"<br>Δp({esc(names[t])}) {c.delta:+.3f}{src}"
            tiles.append(tile(c.image, label, c.probs, extra, "single"))
        if e.subset:
            c = e.subset[-1]
            label = (
                f"top {e.subset_size} together" if e.flipped else f"all {len(e.subset)} together"
            )
            extra = f"<br>Δp({esc(names[t])}) {c.delta:+.3f}"
            tiles.append(tile(c.image, label, c.probs, extra, "subset"))
        outcome = (
            f'<span class="flip-text">flips to {esc(names[e.subset[-1].predicted])} with the '
            f"top {e.subset_size} attribute(s) together</span>"
            if e.flipped
            else f"does not flip with the top {len(e.independent)} attribute(s) together"
        )
        return (
            f'<div class="card explain-card"><div class="attr-head"><h4>{esc(title)}</h4>'
            f'<span class="stats">predicted <b>{esc(names[p])}</b> '
            f"({float(e.probs[p]):.2f}); ranked toward {esc(names[t])}: {outcome}</span></div>"
            f'<div class="row">{"".join(tiles)}</div></div>'
        )

    def explanations_section(self) -> str:
        ex = self.explainer
        if ex is None:
            return missing("Needs AttFind's result — run <code>stylex attfind --run RUN</code>.")
        idx = self._held_out(self.opt.num_explain)
        if not idx:
            return missing("The run has no held-out images.")
        images = self.val.float_images(idx)
        results = ex.explain(images, top_k=self.opt.top_k)
        cards = []
        for i, e in zip(idx, results):
            y = int(self.val.labels[i])
            cards.append(self.explanation_card(e, f"{self.val.ids[i]} (label {self.names[y]})"))
        return (
            '<p class="note">Held-out images explained one by one: each image\'s own top '
            "attributes (ranked by how much each raises the probability of the runner-up class "
            "for this image), each applied alone, then together (the subset counterfactual: "
            "applied cumulatively until the predicted class changes).</p>" + "".join(cards)
        )

    def metrics_section(self) -> str:
        note = f'<p class="note">{esc(self.metrics_note)}</p>' if self.metrics_note else ""
        label = "baseline"
        if self.base is not None:
            label = f"baseline “{Path(self.base.path).resolve().name}”"
        base = self.base_metrics if (self.base is not None or self.base_metrics) else None
        gt = ground_truth_table((self.metrics or {}).get("ground_truth"))
        if base is not None:
            gt += ground_truth_table(base.get("ground_truth"), label)
        return note + metrics_tables(self.metrics, base, label) + gt

    def baseline_section(self) -> str:
        base = self.base
        bname = esc(Path(base.path).resolve().name)
        label = f"{'baseline' if base.baseline else 'other run'} “{Path(base.path).resolve().name}”"
        parts = [
            f'<p class="note">StylEx (this run, classifier terms on) beside <b>{bname}</b> '
            f"({'baseline: no classifier terms' if base.baseline else 'another StylEx run'}) "
            "on the same data and classifier.</p>",
            '<p class="note">The metrics of both, side by side, are in '
            '<a href="#metrics">Metrics</a>.</p>',
            "<h3>Top attributes</h3>",
        ]
        ex, bx = self.explainer, self.base_explainer
        k = self.opt.baseline_top_k
        for cls in self.names:
            cols = []
            name = Path(self.run.path).resolve().name
            for title, e, note in (
                (f"StylEx “{name}”", ex, self.attfind_note),
                (label, bx, self.base_attfind_note),
            ):
                if e is None:
                    body = missing(f"AttFind {esc(note)}")
                elif cls not in e.result.class_names:
                    body = missing(f"no class {esc(cls)} in this run's AttFind result")
                else:
                    ca = e.result[cls]
                    tot = sum(a.effect for a in ca.attributes[:k])
                    flips = sum(a.flipped for a in ca.attributes[:k])
                    body = (
                        f'<p class="note">top {k}: total effect {tot:.3f}, flipped {flips} '
                        f"(of {ca.num_considered} images, single edits)</p>"
                        + self.class_attributes(e, cls, k, compact=True)
                    )
                cols.append(f"<div><h4>{esc(title)}</h4>{body}</div>")
            parts.append(
                f'<div class="class-block"><h3>Class “{esc(cls)}”</h3>'
                f'<div class="two-col">{"".join(cols)}</div></div>'
            )
        return "".join(parts)


def _params(module) -> int | str:
    if module is None:
        return "—"
    try:
        return sum(p.numel() for p in module.parameters())
    except Exception:  # noqa: BLE001 - TorchScript wrappers
        return "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


MANY_CLASSES = 4  # above this many classes, per-class sections fold (<details>)


def class_selector(names: list[str]) -> str:
    """A line of links to the per-class sections (for more than two classes; one-vs-rest)."""
    if len(names) <= 2:
        return ""
    links = " · ".join(
        f'<a href="#class-{_slug(n)}" onclick="var d=document.getElementById(\'class-{_slug(n)}\');'
        f"if(d&&d.tagName==='DETAILS')d.open=true\">{esc(n)}</a>"
        for n in names
    )
    return f'<p class="class-selector"><b>{len(names)} classes</b> (one-vs-rest): {links}</p>'


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", s).strip("-") or "class"


# ------------------------------------------------------------------------------------ entry
def build_report(
    run,
    baseline=None,
    out: str | Path | None = None,
    options: ReportOptions | None = None,
    device: str | None = None,
) -> ReportResult:
    """Write the report of ``run`` (a :class:`~stylex.run.Run` or its folder) to
    ``out/index.html`` (default ``RUN/report/index.html``), atomically.

    ``baseline``: another run (folder) shown side by side. Returns the path, size and time.
    """
    from stylex.run import Run

    t0 = time.perf_counter()
    if not isinstance(run, Run):
        run = Run.load(run, device=device, discriminator=True)
    if baseline is not None and not isinstance(baseline, Run):
        baseline = Run.load(baseline, device=device, discriminator=True)
    if baseline is not None and list(baseline.class_names) != list(run.class_names):
        warnings.warn(
            f"baseline classes {baseline.class_names} differ from the run's {run.class_names}",
            stacklevel=2,
        )
    out = Path(out) if out is not None else Path(run.path) / "report"
    with torch.no_grad():
        page = ReportBuilder(run, baseline, options).html(time.perf_counter() - t0)
    data = page.encode("utf-8")
    path = out / "index.html"
    atomic_write_bytes(path, data)
    return ReportResult(path, len(data), time.perf_counter() - t0)


__all__ = ["ReportOptions", "ReportResult", "build_report", "line_chart", "read_log"]
