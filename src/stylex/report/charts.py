"""Inline SVG line charts (no scripts, no external resources)."""

from __future__ import annotations

import math

from stylex.report.html import esc


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
