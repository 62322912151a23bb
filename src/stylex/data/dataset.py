"""The in-memory dataset every stage of stylex reads, and the image conversion rule.

A :class:`StylexDataset` holds all its images as one ``uint8`` tensor ``[N, C, R, R]``
(``C`` = 1 grey or 3 RGB, ``R`` a power of two in 16…256) with integer labels ``[N]`` in
``0..K-1``. Models see images as float ``[C, R, R]`` in ``[-1, 1]`` (``x / 127.5 - 1``).

Conversion rule (the same for every source: files, ``.npz`` arrays and built-ins)
---------------------------------------------------------------------------------
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

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from stylex.errors import DataError
from stylex.utils.fs import atomic_write_bytes

MIN_RESOLUTION = 16
MAX_RESOLUTION = 256
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


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is a power of two in 16…256, else raise :class:`DataError`."""
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int | np.integer)
        or resolution < MIN_RESOLUTION
        or resolution > MAX_RESOLUTION
        or resolution & (resolution - 1)
    ):
        raise DataError(
            f"resolution must be a power of two between {MIN_RESOLUTION} and {MAX_RESOLUTION} "
            f"(16, 32, 64, 128, 256), got {resolution!r}"
        )
    return int(resolution)


def check_channels(channels: int) -> int:
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return int(channels)


def use_padding(height: int, width: int, resolution: int) -> bool:
    """True if an image of this size is padded (not resized) to ``resolution``."""
    return max(height, width) <= resolution and native_resolution(height, width) == resolution


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


# --------------------------------------------------------------------------------------------
# the dataset


class StylexDataset(torch.utils.data.Dataset):
    """Labelled images in memory, in stylex's convention.

    Attributes:
        images: uint8 ``[N, C, R, R]``, C = 1 (grey) or 3 (RGB), R a power of two in 16…256.
        labels: int64 ``[N]`` in ``0..K-1``.
        class_names: K names; ``class_names[k]`` is the name of label k.
        factors: float32 ``[N, F]`` generating factors (synthetic data), or None.
        factor_names: F names of the factor columns (empty without factors).
        label_factors: names of the factors the label depends on (empty when unknown).
        ids: a stable id per image (a file path, ``fashion-mnist/train/123``, …).
        name: the spec the dataset was loaded from.
        skipped: ``(path, reason)`` of every bad file skipped while loading (``skip_bad``).

    ``dataset[i]`` is ``(image float [C, R, R] in [-1, 1], label int)``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        class_names: Sequence[str],
        *,
        factors: torch.Tensor | None = None,
        factor_names: Sequence[str] = (),
        label_factors: Sequence[str] = (),
        ids: Sequence[str] | None = None,
        name: str = "",
        skipped: Sequence[tuple[str, str]] = (),
    ):
        images = torch.as_tensor(images)
        labels = torch.as_tensor(labels).to(torch.int64)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise DataError(
                f"{name}: images must be uint8 [N, C, R, R], "
                f"got {images.dtype} {list(images.shape)}"
            )
        n, c, h, w = images.shape
        if h != w:
            raise DataError(f"{name}: images must be square, got {h}x{w}")
        check_channels(c)
        check_resolution(h)
        if labels.shape != (n,):
            raise DataError(f"{name}: {n} images but labels of shape {list(labels.shape)}")
        class_names = [str(s) for s in class_names]
        if len(set(class_names)) != len(class_names):
            raise DataError(f"{name}: duplicate class names in {class_names}")
        if n and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise DataError(
                f"{name}: labels must lie in 0..{len(class_names) - 1} "
                f"(one per class name), found {int(labels.min())}..{int(labels.max())}"
            )
        if factors is not None:
            factors = torch.as_tensor(factors, dtype=torch.float32)
            if factors.ndim != 2 or factors.shape[0] != n or factors.shape[1] != len(factor_names):
                raise DataError(
                    f"{name}: factors of shape {list(factors.shape)} do not match "
                    f"{n} images x {len(factor_names)} factor names"
                )
        elif factor_names:
            raise DataError(f"{name}: factor names given without factors")
        missing = [f for f in label_factors if f not in factor_names]
        if missing:
            raise DataError(f"{name}: label factors {missing} are not among {list(factor_names)}")
        ids = [f"{name or 'data'}/{i}" for i in range(n)] if ids is None else [str(s) for s in ids]
        if len(ids) != n:
            raise DataError(f"{name}: {n} images but {len(ids)} ids")
        self.images = images.contiguous()
        self.labels = labels.contiguous()
        self.class_names: list[str] = class_names
        self.factors: torch.Tensor | None = factors
        self.factor_names: list[str] = list(factor_names)
        self.label_factors: list[str] = list(label_factors)
        self.ids: list[str] = ids
        self.name: str = name
        self.skipped: list[tuple[str, str]] = [tuple(s) for s in skipped]

    # -- shape facts ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.images.shape[2])

    def class_counts(self) -> list[int]:
        """Number of images per class, ``[K]``."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def __repr__(self) -> str:
        return (
            f"StylexDataset({self.name!r}, n={len(self)}, classes={self.class_names}, "
            f"channels={self.channels}, resolution={self.resolution}"
            + (f", factors={self.factor_names}" if self.factors is not None else "")
            + ")"
        )

    # -- access --------------------------------------------------------------------------
    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        """``(image float [C, R, R] in [-1, 1], label int)``."""
        return self.images[i].float() / 127.5 - 1.0, int(self.labels[i])

    def float_images(self, idx=None) -> torch.Tensor:
        """Images ``idx`` (all when None; an index, slice, list or tensor) as float
        ``[n, C, R, R]`` in ``[-1, 1]``."""
        x = self.images if idx is None else self.images[idx]
        if x.ndim == 3:
            x = x.unsqueeze(0)
        return x.float() / 127.5 - 1.0

    # -- derived datasets ----------------------------------------------------------------
    def subset(self, indices) -> StylexDataset:
        """The images at ``indices`` (a sequence, bool mask or tensor), same classes."""
        idx = torch.as_tensor(indices)
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        idx = idx.to(torch.int64).flatten()
        return StylexDataset(
            self.images[idx],
            self.labels[idx],
            self.class_names,
            factors=None if self.factors is None else self.factors[idx],
            factor_names=self.factor_names,
            label_factors=self.label_factors,
            ids=[self.ids[i] for i in idx.tolist()],
            name=self.name,
        )

    def split(
        self, val_fraction: float = 0.1, seed: int = 0
    ) -> tuple[StylexDataset, StylexDataset]:
        """Deterministic stratified split into ``(train, val)``.

        In each class, ``round(n_k * val_fraction)`` images (at least one when the class has two
        or more and ``val_fraction > 0``) chosen by ``seed`` go to validation. Both parts keep
        the dataset's order.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
        rng = np.random.default_rng(seed)
        labels = self.labels.numpy()
        is_val = np.zeros(len(self), bool)
        for k in range(self.num_classes):
            members = np.flatnonzero(labels == k)
            n_val = int(round(len(members) * val_fraction))
            if val_fraction > 0 and len(members) >= 2:
                n_val = min(max(n_val, 1), len(members) - 1)
            is_val[rng.permutation(members)[:n_val]] = True
        return self.subset(np.flatnonzero(~is_val)), self.subset(np.flatnonzero(is_val))

    def sample(self, n: int, seed: int = 0) -> StylexDataset:
        """A random subset of ``min(n, len)`` images chosen by ``seed``, in dataset order."""
        if n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return self.subset(idx)

    # -- persistence ---------------------------------------------------------------------
    def to_npz(self, path: str | Path) -> None:
        """Write an ``.npz`` that :func:`stylex.data.load_dataset` reads back to an equal dataset.

        Keys: ``images`` uint8 ``[N, R, R, C]``, ``labels`` int64, ``class_names``, ``ids``,
        ``name`` and, with factors, ``factors``, ``factor_names``, ``label_factors``.
        """
        arrays = {
            "images": self.images.permute(0, 2, 3, 1).numpy(),
            "labels": self.labels.numpy(),
            "class_names": np.asarray(self.class_names, dtype=str),
            "ids": np.asarray(self.ids, dtype=str),
            "name": np.asarray(self.name),
        }
        if self.factors is not None:
            arrays["factors"] = self.factors.numpy()
            arrays["factor_names"] = np.asarray(self.factor_names, dtype=str)
            arrays["label_factors"] = np.asarray(self.label_factors, dtype=str)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())

    def describe(self) -> dict:
        """JSON-serialisable summary (no pixels)."""
        return {
            "name": self.name,
            "num_images": len(self),
            "class_names": self.class_names,
            "class_counts": self.class_counts(),
            "channels": self.channels,
            "resolution": self.resolution,
            "factor_names": self.factor_names,
            "label_factors": self.label_factors,
            "skipped": len(self.skipped),
        }


# --------------------------------------------------------------------------------------------
# helpers shared by the loaders


def normalise_class_name(name: str) -> str:
    """Lowercase, spaces/underscores/slashes → hyphens (``"Ankle boot"`` → ``"ankle-boot"``)."""
    return "-".join(str(name).strip().lower().replace("_", " ").replace("/", " ").split())


def resolve_selection(class_names: Sequence[str], select: Sequence[str], source: str) -> list[int]:
    """Indices into ``class_names`` of the selected names, in the order given.

    A name matches exactly, or after :func:`normalise_class_name`; a number that is not a
    class name is taken as a class index. Unknown names raise :class:`DataError`.
    """
    exact = {n: i for i, n in enumerate(class_names)}
    loose = {normalise_class_name(n): i for i, n in enumerate(class_names)}
    picked: list[int] = []
    for raw in select:
        token = raw.strip()
        if token in exact:
            k = exact[token]
        elif normalise_class_name(token) in loose:
            k = loose[normalise_class_name(token)]
        elif token.isdigit() and int(token) < len(class_names):
            k = int(token)
        else:
            raise DataError(
                f"{source}: class {token!r} is not in the class list ({', '.join(class_names)})"
            )
        if k in picked:
            raise DataError(f"{source}: class {token!r} selected twice")
        picked.append(k)
    return picked


def select_and_subsample(
    labels: np.ndarray,
    class_names: Sequence[str],
    select: Sequence[str] | None,
    n: int | None,
    seed: int,
    source: str,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Apply a class selection and an ``n``-image random subset to integer labels.

    Returns ``(indices into the original arrays, new labels, new class names)``; checks that at
    least two classes remain and that none is empty.
    """
    labels = np.asarray(labels, np.int64)
    if select:
        picked = resolve_selection(class_names, select, source)
        lut = np.full(len(class_names), -1, np.int64)
        lut[picked] = np.arange(len(picked))
        new = lut[labels]
        idx = np.flatnonzero(new >= 0)
        labels, names = new[idx], [class_names[k] for k in picked]
    else:
        idx, names = np.arange(len(labels)), list(class_names)
    if n is not None:
        if n < 1:
            raise DataError(f"{source}: n must be positive, got {n}")
        if n < len(idx):
            keep = np.sort(np.random.default_rng(seed).permutation(len(idx))[:n])
            idx, labels = idx[keep], labels[keep]
    check_classes(labels, names, source)
    return idx, labels, names


def check_classes(labels: np.ndarray, class_names: Sequence[str], source: str) -> None:
    """Raise :class:`DataError` unless there are ≥ 2 classes, each with at least one image."""
    if len(class_names) < 2:
        raise DataError(
            f"{source}: only one class ({', '.join(class_names) or 'none'}); a classifier "
            "needs at least two classes"
        )
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(class_names))
    empty = [class_names[k] for k in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"{source}: no images of class {', '.join(map(repr, empty))}")
