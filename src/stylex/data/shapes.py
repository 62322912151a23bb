"""``shapes``: a synthetic dataset with known generating factors and a label rule.

Every image is one anti-aliased object (a circle, a square or an upward triangle, all of equal
area for a given size) of a saturated colour on a grey background, rendered with numpy at any
power-of-two resolution, always RGB. Generation is deterministic from the seed.

Factors (``dataset.factor_names``, columns of ``dataset.factors``, float32), all independent:

==========  ===============================================================================
``shape``   0 = circle, 1 = square, 2 = triangle (uniform over the drawn shapes)
``hue``     object hue in [0, 1) (HSV with saturation 1 and value 1; 0 red, 1/3 green, 2/3 blue)
``size``    relative size in [0, 1]: radius of the equal-area circle = (0.12 + 0.16 size) R
``x``       horizontal position in [0, 1] (0 = leftmost that keeps the object inside, 1 = right)
``y``       vertical position in [0, 1] (0 = top, 1 = bottom), same convention
``bg``      background brightness in [0, 1]: grey level 0.1 + 0.8 bg
==========  ===============================================================================

Label rule syntax (the part after ``shapes:``)
----------------------------------------------
A **binary** label from a boolean rule on factors: comparisons ``FACTOR OP VALUE`` with
``OP`` one of ``< <= > >= = == !=``, combined with ``&`` (and), ``|`` (or) and parentheses;
``&`` binds tighter than ``|``. For ``shape`` the value may be a name (``circle``,
``square``, ``triangle``). Label 1 = rule true, label 0 = rule false; the class names are the
negated rule and the rule (``["hue>=0.5", "hue<0.5"]``). Examples::

    shapes:hue<0.5                  colour: red…cyan (1) vs cyan…magenta (0)
    shapes:shape=circle             circle (1) vs square or triangle (0)
    shapes:shape=circle&size>0.5    large circles (1) vs everything else (0)
    shapes:(x<0.5|y<0.5)&bg>0.3

A **multi-class** label by shape: ``shapes:shape`` (one class per drawn shape).

The default, ``shapes``, is ``shapes:hue<0.5``: the label uses the object's hue only, while
shape, size, position and background vary independently of it.

Classes are **balanced** (equal counts, ±1) by rejection sampling: candidates are drawn from the
independent factor distribution above and each class keeps its first ``n / K`` candidates, so
the factors not named in the rule stay independent of the label and of each other.
``dataset.label_factors`` lists exactly the factors the rule names.

Options (after ``?``, joined by ``&``): ``n`` number of images (default 10000), ``seed``
(default: ``load_dataset``'s seed), ``shapes`` the drawn shapes (default
``circle,square,triangle``). Example: ``shapes:shape=circle?n=5000&shapes=circle,square``.
Image ids are ``shapes/<seed>/<candidate index>``: the same seed gives the same object for an id
at any ``n`` or resolution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stylex.data.convert import check_channels, check_resolution, fit_batch
from stylex.data.dataset import StylexDataset
from stylex.errors import DataError

FACTOR_NAMES = ["shape", "hue", "size", "x", "y", "bg"]
SHAPE_NAMES = ["circle", "square", "triangle"]
DEFAULT_RULE = "hue<0.5"
DEFAULT_N = 10000
SAMPLE_CHUNK = 8192  # candidates drawn per rng call: fixed, so ids do not depend on n

# geometry, in units of the equal-area circle's radius r
_SQUARE_HALF = math.sqrt(math.pi) / 2  # half side of the equal-area square
_TRI_IN = math.sqrt(math.pi / (3 * math.sqrt(3)))  # inradius of the equal-area triangle
_MARGIN = math.sqrt(3) * _TRI_IN  # largest half-extent over the three shapes (triangle width)


# --------------------------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class Rule:
    """A parsed label rule: ``evaluate(factors) -> labels``."""

    text: str
    tree: tuple  # ("cmp", factor, op, value) | ("and"|"or", left, right) | ("class", factor)
    names: tuple[str, ...] = tuple(FACTOR_NAMES)  # the factor columns the rule reads

    @property
    def is_multiclass(self) -> bool:
        return self.tree[0] == "class"

    def factors(self) -> list[str]:
        """Names of the factors the rule uses, in the order of ``names``."""
        used: set[str] = set()

        def walk(t):
            if t[0] in ("cmp", "class"):
                used.add(t[1])
            else:
                walk(t[1])
                walk(t[2])

        walk(self.tree)
        return [f for f in self.names if f in used]

    def class_names(self, shapes: list[int]) -> list[str]:
        if self.is_multiclass:
            return [SHAPE_NAMES[s] for s in shapes]
        return [_negate(self.tree, self.text), self.text]

    def evaluate(self, factors: np.ndarray, shapes: list[int] | None = None) -> np.ndarray:
        """Labels (int64 ``[N]``) of factor rows ``[N, len(names)]``."""
        if self.is_multiclass:
            codes = np.rint(np.asarray(factors)[:, 0]).astype(np.int64)
            lookup = np.full(len(SHAPE_NAMES), -1, np.int64)
            for k, s in enumerate(shapes or range(len(SHAPE_NAMES))):
                lookup[s] = k
            return lookup[codes]
        return _eval(self.tree, np.asarray(factors), self.names).astype(np.int64)


_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_NEG = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "==": "!=", "!=": "="}
_TOKEN = re.compile(
    r"\s*(<=|>=|==|!=|<|>|=|&|\||\(|\)|[A-Za-z_][A-Za-z0-9_-]*|[-+]?[0-9.]+(?:e[-+]?\d+)?)"
)


def _eval(t, f: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    if t[0] == "cmp":
        return _OPS[t[2]](f[:, names.index(t[1])].astype(np.float64), t[3])
    a, b = _eval(t[1], f, names), _eval(t[2], f, names)
    return a & b if t[0] == "and" else a | b


def _negate(t, text: str) -> str:
    if t[0] == "cmp":
        value = SHAPE_NAMES[int(t[3])] if t[1] == "shape" and float(t[3]).is_integer() else t[4]
        return f"{t[1]}{_NEG[t[2]]}{value}"
    return f"not({text})"


def parse_rule(text: str, factor_names: list[str] | None = None, dataset: str = "shapes") -> Rule:
    """Parse a label rule (see the module docstring); raise :class:`DataError` if malformed.

    ``factor_names``: the factors a rule may name (default ``shapes``'s); ``dataset`` names the
    data in error messages. Other synthetic data (:mod:`stylex.data.gratings`) share the syntax.
    """
    names = list(FACTOR_NAMES if factor_names is None else factor_names)
    src = text.strip()
    if not src:
        example = (
            "shapes:hue<0.5 or shapes:shape=circle"
            if dataset == "shapes"
            else (f"{dataset}:{names[0]}<0.5")
        )
        raise DataError(f"empty {dataset} rule; write e.g. {example}")
    tokens, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or not m.group(1):
            raise DataError(f"cannot parse {dataset} rule {text!r} at {src[pos:]!r}")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1

    def bad(msg: str):
        return DataError(
            f"bad {dataset} rule {text!r}: {msg}. Factors: {', '.join(names)}; "
            f"syntax: FACTOR OP VALUE joined by & and |, e.g. {names[0]}<0.5&{names[-1]}>0.5"
        )

    if len(tokens) == 1:
        if tokens[0] == "shape" and "shape" in names:
            return Rule(src, ("class", "shape"), tuple(names))
        if tokens[0] in names:
            raise bad(
                f"only 'shape' can be used alone (multi-class); compare {tokens[0]} to a value"
            )

    i = 0

    def peek():
        return tokens[i] if i < len(tokens) else None

    def take():
        nonlocal i
        if i >= len(tokens):
            raise bad("unexpected end")
        i += 1
        return tokens[i - 1]

    def p_or():
        left = p_and()
        while peek() == "|":
            take()
            left = ("or", left, p_and())
        return left

    def p_and():
        left = p_atom()
        while peek() == "&":
            take()
            left = ("and", left, p_atom())
        return left

    def p_atom():
        tok = take()
        if tok == "(":
            t = p_or()
            if take() != ")":
                raise bad("missing ')'")
            return t
        factor = tok.lower()
        if factor not in names:
            raise bad(f"unknown factor {tok!r}")
        op = take()
        if op not in _OPS:
            raise bad(f"expected a comparison after {tok!r}, got {op!r}")
        raw = take()
        if factor == "shape" and raw.lower() in SHAPE_NAMES:
            value = float(SHAPE_NAMES.index(raw.lower()))
        else:
            try:
                value = float(raw)
            except ValueError:
                raise bad(f"{raw!r} is not a number") from None
        return ("cmp", factor, op, value, raw.lower() if factor == "shape" else raw)

    tree = p_or()
    if i != len(tokens):
        raise bad(f"unexpected {tokens[i]!r}")
    return Rule(src, tree, tuple(names))


# --------------------------------------------------------------------------------------------
# factors and rendering


def sample_factors(rng: np.random.Generator, n: int, shapes: list[int]) -> np.ndarray:
    """``n`` independent factor rows ``[n, 6]`` float64 (columns ``FACTOR_NAMES``)."""
    f = np.empty((n, len(FACTOR_NAMES)))
    f[:, 0] = np.asarray(shapes)[rng.integers(0, len(shapes), n)]
    f[:, 1:] = rng.random((n, len(FACTOR_NAMES) - 1))
    return f.astype(np.float32).astype(np.float64)  # exactly what the dataset stores


def hue_to_rgb(hue: np.ndarray) -> np.ndarray:
    """HSV (hue, 1, 1) → RGB in [0, 1], ``[...] -> [..., 3]``."""
    h6 = np.asarray(hue)[..., None] * 6.0
    k = (np.asarray([5.0, 3.0, 1.0]) + h6) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def render(factors: np.ndarray, resolution: int) -> np.ndarray:
    """Render factor rows ``[N, 6]`` to uint8 images ``[N, 3, R, R]`` (vectorised numpy)."""
    factors = np.asarray(factors, np.float64)
    n, r_px = len(factors), resolution
    out = np.empty((n, 3, r_px, r_px), np.uint8)
    coords = np.arange(r_px, dtype=np.float32) + 0.5  # pixel centres
    chunk = max(1, (1 << 21) // (r_px * r_px))
    for s in range(0, n, chunk):
        f = factors[s : s + chunk]
        m = len(f)
        shape = f[:, 0].astype(np.int64)
        radius = (0.12 + 0.16 * f[:, 2]) * r_px
        margin = _MARGIN * radius
        cx = margin + f[:, 3] * (r_px - 2 * margin)
        cy = margin + f[:, 4] * (r_px - 2 * margin)
        dx = (coords[None, None, :] - cx[:, None, None].astype(np.float32)).astype(np.float32)
        dy = (coords[None, :, None] - cy[:, None, None].astype(np.float32)).astype(np.float32)
        rad = radius[:, None, None].astype(np.float32)
        dx, dy = np.broadcast_to(dx, (m, r_px, r_px)), np.broadcast_to(dy, (m, r_px, r_px))
        # signed distance in pixels (exact for the circle, exact near edges for the others)
        dist = np.sqrt(dx * dx + dy * dy) - rad
        sq = np.maximum(np.abs(dx), np.abs(dy)) - _SQUARE_HALF * rad
        a = _TRI_IN * rad
        ty = dy - 0.5 * a  # centroid sits half an inradius below the box centre
        tri = np.maximum(ty, np.maximum(0.8660254 * dx - 0.5 * ty, -0.8660254 * dx - 0.5 * ty)) - a
        dist = np.where((shape == 1)[:, None, None], sq, dist)
        dist = np.where((shape == 2)[:, None, None], tri, dist)
        cover = np.clip(0.5 - dist, 0.0, 1.0)[:, None]  # [m, 1, R, R]
        colour = hue_to_rgb(f[:, 1]).astype(np.float32)[:, :, None, None]  # [m, 3, 1, 1]
        grey = (0.1 + 0.8 * f[:, 5]).astype(np.float32)[:, None, None, None]
        img = grey + (colour - grey) * cover
        out[s : s + m] = np.rint(img * 255.0).astype(np.uint8)
    return out


def balanced_sample(
    n: int,
    class_names: list[str],
    draw: Callable[[], np.ndarray],
    label: Callable[[np.ndarray], np.ndarray],
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Rejection sampling to ``n`` images with balanced classes (module docstring).

    ``draw()`` returns the next chunk of independent factor rows, ``label(rows)`` their labels;
    each class keeps its first ``n / K`` (±1) candidates in drawing order. Returns the kept rows
    and their candidate indices (sorted; the image ids). ``what`` names the data in errors.
    """
    k = len(class_names)
    quota = [n // k + (1 if c < n % k else 0) for c in range(k)]
    kept: list[list[np.ndarray]] = [[] for _ in range(k)]  # candidate indices per class
    rows: list[np.ndarray] = []
    have = [0] * k
    drawn = 0
    while any(h < q for h, q in zip(have, quota, strict=True)):
        if drawn >= max(200 * n, 10 * SAMPLE_CHUNK):
            rare = [class_names[c] for c in range(k) if have[c] < quota[c]]
            raise DataError(
                f"{what}: class {rare} is too rare (or impossible) under the factor "
                f"distribution; found {have} of {quota} in {drawn} candidates"
            )
        f = draw()
        labels = label(f)
        rows.append(f)
        for c in range(k):
            idx = np.flatnonzero(labels == c)[: quota[c] - have[c]]
            kept[c].append(idx + drawn)
            have[c] += len(idx)
        drawn += len(f)
    all_f = np.concatenate(rows)
    cand = np.sort(np.concatenate([np.concatenate(kc) for kc in kept]))
    return all_f[cand], cand


def make_shapes(
    n: int = DEFAULT_N,
    resolution: int = 32,
    rule: str = DEFAULT_RULE,
    seed: int = 0,
    shapes: list[str] | None = None,
    channels: int = 3,
    name: str | None = None,
) -> StylexDataset:
    """Generate the ``shapes`` dataset: ``n`` balanced images ``[n, 3, R, R]`` with factors.

    Args:
        n: number of images (classes get ``n // K`` or one more).
        resolution: power of two in 16…256.
        rule: label rule (module docstring), default ``hue<0.5``.
        seed: generation seed; everything is a deterministic function of it.
        shapes: drawn shapes, a subset of ``circle, square, triangle``.
        channels: 3 (RGB, the default) or 1 (luminance of the RGB rendering).
    """
    resolution = check_resolution(resolution)
    parsed = parse_rule(rule)
    shapes = [s.strip().lower() for s in (shapes or SHAPE_NAMES)]
    unknown = [s for s in shapes if s not in SHAPE_NAMES]
    if unknown or not shapes:
        raise DataError(f"unknown shapes {unknown}; choose from {', '.join(SHAPE_NAMES)}")
    codes = sorted({SHAPE_NAMES.index(s) for s in shapes})
    class_names = parsed.class_names(codes)
    k = len(class_names)
    if k < 2:
        raise DataError(
            f"shapes:{rule} with shapes={shapes} gives a single class; draw more shapes"
        )
    if n < k:
        raise DataError(f"shapes: need at least {k} images for {k} classes, got n={n}")
    rng = np.random.default_rng(seed)
    factors, cand = balanced_sample(
        n,
        class_names,
        lambda: sample_factors(rng, SAMPLE_CHUNK, codes),
        lambda f: parsed.evaluate(f, codes),
        f"shapes:{rule}",
    )
    labels = parsed.evaluate(factors, codes)
    images = render(factors, resolution)
    if check_channels(channels) == 1:
        images = fit_batch(images.transpose(0, 2, 3, 1), resolution, 1).transpose(0, 3, 1, 2)
    return StylexDataset(
        torch.from_numpy(np.ascontiguousarray(images)),
        torch.from_numpy(labels),
        class_names,
        factors=torch.from_numpy(factors.astype(np.float32)),
        factor_names=FACTOR_NAMES,
        label_factors=parsed.factors(),
        ids=[f"shapes/{seed}/{i}" for i in cand.tolist()],
        name=name or f"shapes:{rule}",
    )
