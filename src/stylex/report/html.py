"""HTML building blocks of the report: escaping, inline images, number formatting, tables."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Any

import torch
from PIL import Image

from stylex.utils.images import to_pil

EVALUATE_HINT = "not computed — run <code>stylex evaluate</code>"


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


def param_count(module: Any) -> int | str:
    """The number of parameters of ``module`` ("—" when there is none or it cannot say)."""
    if module is None:
        return "—"
    try:
        return sum(p.numel() for p in module.parameters())
    except Exception:  # noqa: BLE001 - TorchScript wrappers
        return "—"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def slug(s: str) -> str:
    """An HTML id made of ``s``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", s).strip("-") or "class"
