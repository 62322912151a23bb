"""``gratings``: a synthetic grey dataset of oriented sinusoidal gratings with known factors.

A different generating process from ``shapes``: a *texture* (a cosine grating seen through a
round window) on a mid-grey background, one channel, where ``shapes`` draws a solid coloured
object. The classifier must then read orientation or frequency (properties of a periodic
pattern) rather than colour or outline. Rendered with numpy, anti-aliased by 2×2 supersampling,
deterministic from the seed.

Factors (``dataset.factor_names``, columns of ``dataset.factors``, float32), all independent
and uniform on [0, 1):

============  =============================================================================
``angle``     orientation in half-turns (circular, period 1): the stripes' normal points at
              ``π·angle`` (0 = vertical stripes, 0.25 = stripes along the anti-diagonal,
              0.5 = horizontal stripes)
``freq``      spatial frequency: period ``(0.28 − 0.16·freq)·R`` pixels (9 … 3.8 px at 32 px)
``size``      window radius ``(0.22 + 0.14·size)·R``
``x``, ``y``  window centre (0 = leftmost/top that keeps the window inside, 1 = right/bottom)
``contrast``  grating amplitude ``0.15 + 0.35·contrast`` around the grey level 0.5
============  =============================================================================

Pixel value (in [0, 1]): ``0.5 + amp·cos(2π·((p − c)·n)/period)·window(p)``, where the window
is a disk of the given radius with a one-pixel soft edge; the grating's phase is fixed (a
bright stripe through the window's centre), so every visible property is one of the factors.

Label rule: the syntax of ``shapes`` (:mod:`stylex.data.shapes`) over these factors, e.g.
``gratings:angle<0.5`` (the default: stripes from vertical through the anti-diagonal, 0°–90°,
vs 90°–180°), ``gratings:freq>0.5``, ``gratings:angle<0.5&contrast>0.5``. Classes are balanced
by the same rejection sampling, so factors not named in the rule stay independent of the label.
Options: ``n`` (default 10000), ``seed``. Ids ``gratings/<seed>/<candidate index>``.

Factor probe (ground truth, :mod:`stylex.metrics.ground_truth`): trained on fresh renders with
the probe's own seed, as for ``shapes``, but *without* the blur/desaturation augmentation, since
blur lowers a grating's contrast (it would change a factor).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from stylex.data.dataset import StylexDataset
from stylex.data.shapes import SAMPLE_CHUNK, balanced_sample, parse_rule
from stylex.errors import DataError
from stylex.utils.images import check_channels, check_resolution

FACTOR_NAMES = ["angle", "freq", "size", "x", "y", "contrast"]
FACTOR_KINDS = {"angle": "circular"}  # the others are continuous
DEFAULT_RULE = "angle<0.5"
DEFAULT_N = 10000
_SUPERSAMPLE = 2


def sample_factors(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` independent factor rows ``[n, 6]`` float64 (columns ``FACTOR_NAMES``)."""
    return rng.random((n, len(FACTOR_NAMES))).astype(np.float32).astype(np.float64)


def geometry(factors: np.ndarray, resolution: int) -> dict[str, np.ndarray]:
    """Per-row pixel geometry ``{"theta", "period", "radius", "cx", "cy", "amp"}`` (``[N]``
    each; lengths in pixels of an ``R``-px image, ``theta`` in radians)."""
    f = np.asarray(factors, np.float64)
    r = float(resolution)
    radius = (0.22 + 0.14 * f[:, 2]) * r
    return {
        "theta": math.pi * f[:, 0],
        "period": (0.28 - 0.16 * f[:, 1]) * r,
        "radius": radius,
        "cx": radius + f[:, 3] * (r - 2 * radius),
        "cy": radius + f[:, 4] * (r - 2 * radius),
        "amp": 0.15 + 0.35 * f[:, 5],
    }


def render(factors: np.ndarray, resolution: int) -> np.ndarray:
    """Render factor rows ``[N, 6]`` to uint8 grey images ``[N, 1, R, R]`` (vectorised numpy)."""
    n, r_px = len(factors), int(resolution)
    g = geometry(factors, r_px)
    s = _SUPERSAMPLE
    coords = (np.arange(r_px * s, dtype=np.float32) + 0.5) / s  # sub-pixel centres, pixel units
    out = np.empty((n, 1, r_px, r_px), np.uint8)
    chunk = max(1, (1 << 20) // (r_px * r_px * s * s))
    for a in range(0, n, chunk):
        sl = slice(a, a + chunk)
        col = {k: v[sl].astype(np.float32)[:, None, None] for k, v in g.items()}
        dx = coords[None, None, :] - col["cx"]
        dy = coords[None, :, None] - col["cy"]
        along = dx * np.cos(col["theta"]) + dy * np.sin(col["theta"])
        wave = np.cos(2 * np.pi * along / col["period"])
        window = np.clip(col["radius"] - np.sqrt(dx * dx + dy * dy) + 0.5, 0.0, 1.0)
        img = 0.5 + col["amp"] * wave * window  # [m, R·s, R·s]
        m = img.shape[0]
        img = img.reshape(m, r_px, s, r_px, s).mean(axis=(2, 4))
        out[sl, 0] = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out


def make_gratings(
    n: int = DEFAULT_N,
    resolution: int = 32,
    rule: str = DEFAULT_RULE,
    seed: int = 0,
    channels: int = 1,
    name: str | None = None,
) -> StylexDataset:
    """Generate ``gratings``: ``n`` balanced images ``[n, C, R, R]`` with their factors.

    Args:
        n: number of images (each of the 2 classes gets ``n // 2`` or one more).
        resolution: power of two in 16…256.
        rule: label rule on ``FACTOR_NAMES`` (module docstring), default ``angle<0.5``.
        seed: generation seed; everything is a deterministic function of it.
        channels: 1 (grey, the default) or 3 (the grey value repeated).
    """
    resolution = check_resolution(resolution)
    channels = check_channels(channels)
    parsed = parse_rule(rule, FACTOR_NAMES, dataset="gratings")
    class_names = parsed.class_names([])
    if n < len(class_names):
        raise DataError(f"gratings: need at least {len(class_names)} images, got n={n}")
    rng = np.random.default_rng(seed)
    factors, cand = balanced_sample(
        n,
        class_names,
        lambda: sample_factors(rng, SAMPLE_CHUNK),
        parsed.evaluate,
        f"gratings:{rule}",
    )
    images = render(factors, resolution)
    if channels == 3:
        images = np.repeat(images, 3, axis=1)
    return StylexDataset(
        torch.from_numpy(np.ascontiguousarray(images)),
        torch.from_numpy(parsed.evaluate(factors)),
        class_names,
        factors=torch.from_numpy(factors.astype(np.float32)),
        factor_names=FACTOR_NAMES,
        label_factors=parsed.factors(),
        ids=[f"gratings/{seed}/{i}" for i in cand.tolist()],
        name=name or f"gratings:{rule}",
    )


__all__ = ["DEFAULT_RULE", "FACTOR_KINDS", "FACTOR_NAMES", "make_gratings", "render"]
