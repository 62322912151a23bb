"""The image conversion rule: every source (files, ``.npz`` arrays, built-ins) → uint8 ``R x R``.

Images are kept as uint8 ``[H, W, C]`` numpy arrays here; models see them as float
``[C, R, R]`` in ``[-1, 1]`` (:func:`stylex.utils.images.from_uint8`).

Conversion rule (the same for every source)
-------------------------------------------
*Resolution.* The default ``R`` is the largest native side in the dataset rounded up to the
next power of two, at least 16 and at most 256. An image whose own rounded-up size equals ``R``
(so it fits in ``R x R`` and is more than half as large) is **padded**, centred, with its
background colour (the per-channel median of its outermost ring of pixels; 0 for the
built-in digits and clothes): 28-px Fashion-MNIST becomes 32 px by 2 px of black on each
side, with no resampling. Any other image (smaller than ``R/2``, or larger than ``R``, or when
a different ``R`` is requested) is **resized** with Pillow's Lanczos filter so that its shorter
side is ``R``, then centre-cropped to ``R x R``.

*Channels.* The default is 1 if every image is greyscale, else 3. Grey → RGB repeats the grey
value; RGB → grey uses the ITU-R 601 luminance ``0.299 R + 0.587 G + 0.114 B`` (Pillow's
``convert("L")``). Transparent images (RGBA, LA, palette with transparency) are composited over
**black**. 16-bit images are scaled to 8 bits; CMYK/YCbCr/other modes go through Pillow's RGB
conversion; the first frame of a multi-frame file is used; EXIF orientation is applied.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageOps

from stylex.utils.images import MAX_RESOLUTION, MIN_RESOLUTION, check_channels, check_resolution

__all__ = [
    "GREY_MODES",
    "LUMA",
    "MAX_RESOLUTION",
    "MIN_RESOLUTION",
    "border_colour",
    "check_channels",
    "check_resolution",
    "fit_batch",
    "fit_image",
    "native_resolution",
    "next_pow2",
    "padded_from",
    "pil_to_array",
    "to_channels",
    "use_padding",
]

LUMA = (0.299, 0.587, 0.114)
GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


# --------------------------------------------------------------------------------------------
# resolution / channel rules


def next_pow2(n: int) -> int:
    """Smallest power of two ``>= n`` (n >= 1)."""
    return 1 << max(0, math.ceil(math.log2(max(1, n))))


def native_resolution(height: int, width: int) -> int:
    """The default resolution of one ``height x width`` image: next power of two, 16…256."""
    return int(min(MAX_RESOLUTION, max(MIN_RESOLUTION, next_pow2(max(height, width)))))


def use_padding(height: int, width: int, resolution: int) -> bool:
    """True if an image of this size is padded (not resized) to ``resolution``."""
    return max(height, width) <= resolution and native_resolution(height, width) == resolution


def padded_from(sizes, resolution: int) -> int | None:
    """The square native size ``S`` when every ``(h, w)`` in ``sizes`` is ``(S, S)`` and is
    padded (not resized) to ``resolution`` (:attr:`StylexDataset.padded_from`); else None."""
    distinct = set(sizes)
    if len(distinct) != 1:
        return None
    h, w = distinct.pop()
    return h if h == w and h < resolution and use_padding(h, w, resolution) else None


# --------------------------------------------------------------------------------------------
# single-image conversion (numpy, HWC uint8)


def to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """``[H, W, 1|3]`` uint8 → ``[H, W, channels]`` uint8 (repeat, or ITU-R 601 luminance)."""
    c = arr.shape[2]
    if c == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=2)
    luma = arr.astype(np.float32) @ np.asarray(LUMA, np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[:, :, None]


def border_colour(arr: np.ndarray) -> np.ndarray:
    """Per-channel median of the outermost ring of an ``[H, W, C]`` image, as uint8 ``[C]``."""
    ring = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]], axis=0)
    return np.median(ring, axis=0).round().astype(np.uint8)


def fit_image(
    arr: np.ndarray, resolution: int, pad_value: np.ndarray | int | None = None
) -> np.ndarray:
    """Pad or resize+centre-crop one ``[H, W, C]`` uint8 image to ``[R, R, C]`` (see module doc).

    ``pad_value``: the fill used when padding; ``None`` = the image's border colour.
    """
    h, w, c = arr.shape
    if (h, w) == (resolution, resolution):
        return arr
    if use_padding(h, w, resolution):
        fill = border_colour(arr) if pad_value is None else pad_value
        out = np.empty((resolution, resolution, c), np.uint8)
        out[...] = fill
        top, left = (resolution - h) // 2, (resolution - w) // 2
        out[top : top + h, left : left + w] = arr
        return out
    scale = resolution / min(h, w)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, "L" if c == 1 else "RGB")
    img = img.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - resolution) // 2, (nh - resolution) // 2
    img = img.crop((left, top, left + resolution, top + resolution))
    out = np.array(img, np.uint8)
    return out[:, :, None] if out.ndim == 2 else out


def fit_batch(
    images: np.ndarray, resolution: int, channels: int, pad_value: int | None = None
) -> np.ndarray:
    """Convert a batch ``[N, H, W, C]`` uint8 of equal-size images to ``[N, R, R, channels]``.

    Padding is vectorised; resizing goes image by image through Pillow (Lanczos).
    ``pad_value``: a fixed fill for padding, or ``None`` for each image's border colour.
    """
    n, h, w, c = images.shape
    if c != channels:
        if channels == 3:
            images = np.repeat(images, 3, axis=3)
        else:
            luma = images.astype(np.float32) @ np.asarray(LUMA, np.float32)
            images = np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]
    if (h, w) == (resolution, resolution):
        return np.ascontiguousarray(images)
    if use_padding(h, w, resolution):
        top, left = (resolution - h) // 2, (resolution - w) // 2
        out = np.empty((n, resolution, resolution, channels), np.uint8)
        if pad_value is None:  # each image's border colour, [N, 1, 1, C]
            ring = np.concatenate(
                [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1
            )
            out[...] = np.median(ring, axis=1).round().astype(np.uint8)[:, None, None, :]
        else:
            out[...] = pad_value
        out[:, top : top + h, left : left + w] = images
        return out
    out = np.empty((n, resolution, resolution, channels), np.uint8)
    for i in range(n):
        out[i] = fit_image(images[i], resolution, pad_value)
    return out


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A decoded Pillow image → ``[H, W, 1|3]`` uint8, alpha composited over black."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF must not make a good image unreadable
        pass
    mode = img.mode
    if mode == "1":
        img = img.convert("L")
    elif mode == "P" or mode == "PA":
        img = img.convert("RGBA")
    elif mode.startswith("I") or mode == "F":
        a = np.asarray(img).astype(np.float64)
        if mode == "F":
            a = a * 255.0 if a.size and np.nanmax(a) <= 1.0 else a
        elif a.size and a.max() > 255:
            a = a / 257.0
        a = np.nan_to_num(a, nan=0.0)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)[:, :, None]
    elif mode not in ("L", "LA", "La", "RGB", "RGBA", "RGBa"):
        img = img.convert("RGB")
    mode = img.mode
    a = np.array(img, np.uint8)
    if mode == "L":
        return a[:, :, None]
    if mode == "RGB":
        return a
    # transparent: composite over black
    colour, alpha = a[:, :, :-1].astype(np.float32), a[:, :, -1:].astype(np.float32)
    if mode in ("LA", "RGBA"):  # straight alpha
        colour = colour * (alpha / 255.0)
    return np.clip(np.rint(colour), 0, 255).astype(np.uint8)
