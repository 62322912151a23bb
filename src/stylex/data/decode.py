"""Image files and bytes → uint8 arrays: the one image decoder of stylex.

Data loading (:mod:`stylex.data.files`), ``stylex explain`` (:func:`stylex.explain.read_images`)
and the viewer's uploads (:mod:`stylex.serve.upload`) all decode through
:func:`open_image` + :func:`decode_pil` (or :func:`decode_image`, the two together), then
convert by the rule of :mod:`stylex.data.convert` (alpha over black, grey ↔ RGB, pad or
resize + centre-crop). A file that cannot be decoded raises :class:`DecodeError`, a
``ValueError`` whose message is the cause, whose ``kind`` says which cause and whose
``original`` is the decoder's own exception (None when stylex found the problem).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from stylex.data.convert import fit_image, pil_to_array, to_channels

NOT_AN_IMAGE = "not an image Pillow can read (unknown format or corrupt header)"
KINDS = ("missing", "unreadable", "empty", "not_an_image", "corrupt")

ImageSource = str | os.PathLike | bytes


class DecodeError(ValueError):
    """An image that cannot be decoded (see the module docstring)."""

    def __init__(self, cause: str, kind: str, original: BaseException | None = None):
        super().__init__(cause)
        self.kind = kind
        self.original = original


def _corrupt(e: BaseException) -> DecodeError:
    msg = str(e)
    cause = "truncated or corrupt image" if "truncat" in msg.lower() else "corrupt image"
    return DecodeError(f"{cause} ({type(e).__name__}: {msg})", "corrupt", e)


def probe_image(path: str | os.PathLike) -> tuple[int, int, str]:
    """``(height, width, mode)`` from a file's header, without decoding the pixels.

    Raises :class:`DecodeError` (missing, unreadable, empty, not an image)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DecodeError("file not found", "missing") from None
    except OSError as e:
        raise DecodeError(f"cannot read file ({e.strerror or e})", "unreadable", e) from None
    if size == 0:
        raise DecodeError("empty file (0 bytes)", "empty")
    try:
        with Image.open(path) as img:
            w, h = img.size
            return h, w, img.mode
    except UnidentifiedImageError as e:
        raise DecodeError(NOT_AN_IMAGE, "not_an_image", e) from None
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
        raise DecodeError(f"unreadable image ({type(e).__name__}: {e})", "unreadable", e) from None


def open_image(source: ImageSource) -> Image.Image:
    """A file path or the bytes of a file → a lazily opened Pillow image (header read only;
    the type is sniffed from the content). Raises :class:`DecodeError`."""
    try:
        return Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
    except FileNotFoundError as e:
        raise DecodeError("file not found", "missing", e) from None
    except UnidentifiedImageError as e:
        raise DecodeError(NOT_AN_IMAGE, "not_an_image", e) from None
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
        raise _corrupt(e) from None


def decode_pil(img: Image.Image, resolution: int, channels: int) -> np.ndarray:
    """Decode an opened image and convert it to ``[R, R, channels]`` uint8 (the rule of
    :mod:`stylex.data.convert`). Raises :class:`DecodeError`."""
    try:
        img.load()
        arr = pil_to_array(img)
    except FileNotFoundError as e:
        raise DecodeError("file not found", "missing", e) from None
    except UnidentifiedImageError as e:
        raise DecodeError(NOT_AN_IMAGE, "not_an_image", e) from None
    except Exception as e:  # noqa: BLE001
        raise _corrupt(e) from None
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DecodeError("image has zero width or height", "empty")
    return fit_image(to_channels(arr, channels), resolution)


def decode_image(source: ImageSource, resolution: int, channels: int) -> np.ndarray:
    """A file path or file bytes → ``[R, R, channels]`` uint8. Raises :class:`DecodeError`."""
    with open_image(source) as img:
        return decode_pil(img, resolution, channels)
