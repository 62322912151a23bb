"""Uploaded image bytes → one image at the run's resolution and channels, or a clear error.

The type is sniffed from the content by Pillow (the client's file name and content type are
ignored); decoding and conversion are the data layer's (:func:`stylex.data.decode.open_image`,
:func:`~stylex.data.decode.decode_pil`: alpha over black, grey ↔ RGB, pad or resize +
centre-crop). An animated image gives its first frame.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from stylex.data.decode import DecodeError, decode_pil, open_image
from stylex.serve.state import ViewerError
from stylex.utils.images import from_uint8

MAX_UPLOAD_BYTES = 5 * 2**20
MAX_PIXELS = 40_000_000
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "BMP": "BMP", "WEBP": "WebP"}


def describe_limit(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def read_upload(
    data: bytes,
    resolution: int,
    channels: int,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> torch.Tensor:
    """Decode ``data`` → ``[1, channels, R, R]`` in [-1, 1].

    Raises :class:`~stylex.serve.session.ViewerError` with status 413 (too large, in bytes or
    pixels), 415 (not an image, or a type other than PNG/JPEG/GIF/BMP/WebP) or 400 (empty,
    corrupt or truncated).
    """
    allowed = "/".join(FORMATS.values())
    if len(data) > max_bytes:
        raise ViewerError(
            f"upload too large: {len(data)} bytes (limit {describe_limit(max_bytes)})", 413
        )
    if not data:
        raise ViewerError("empty upload: choose an image file", 400)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = open_image(data)
            fmt = img.format or "unknown"
            if fmt not in FORMATS:
                img.close()
                raise ViewerError(f"unsupported image type {fmt}: upload a {allowed} image", 415)
            w, h = img.size
            if w * h > max_pixels:
                raise ViewerError(
                    f"image too large: {w}×{h} pixels (limit {max_pixels / 1e6:.0f} megapixels)",
                    413,
                )
            if w == 0 or h == 0:
                raise ViewerError("image has zero width or height", 400)
            arr = decode_pil(img, resolution, channels)
    except DecodeError as e:
        raise _upload_error(e, allowed, max_pixels) from None
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]
    return from_uint8(x)


def _upload_error(e: DecodeError, allowed: str, max_pixels: int) -> ViewerError:
    """The data layer's decoding error → the HTTP answer (413 too many pixels, 415 not an
    image, 400 corrupt or truncated)."""
    cause = e.original
    if isinstance(cause, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return ViewerError(
            f"image too large in pixels (limit {max_pixels / 1e6:.0f} megapixels)", 413
        )
    if e.kind == "not_an_image":
        return ViewerError(f"not an image: upload a {allowed} file", 415)
    if cause is None:  # found by stylex, e.g. zero width or height
        return ViewerError(str(e), 400)
    return ViewerError(f"corrupt or truncated image ({type(cause).__name__}: {cause})", 400)
