"""``.npz`` data: arrays of images and labels, loaded without pickle.

``images``: ``[N, H, W]`` (grey), ``[N, H, W, C]`` or ``[N, C, H, W]`` with C in 1, 3, 4;
uint8 (0/1 masks are scaled ×255), wider integers by their bit depth, bool, or float in [0, 1]
(all values in it), [-1, 1] (some negative) or [0, 255], each with 2 % slack (clipped);
``labels``: ``[N]`` ints or strings, or one-hot ``[N, K]`` rows (the class is each row's
largest entry, class j of ``class_names`` or named "j"); without ``labels`` the images are
unlabelled data (``label_source == "none"``, labelled by the classifier's predictions
in ``stylex train``); optional ``class_names`` (then int
labels index it and string labels must be in it), ``ids``, ``factors`` + ``factor_names``
(+ ``label_factors``).
Without ``class_names``, classes are the sorted distinct labels. Images are converted by the
rule of :mod:`stylex.data.convert`.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from stylex.data.classes import select_rows
from stylex.data.convert import (
    check_channels,
    check_resolution,
    fit_batch,
    native_resolution,
    padded_from,
)
from stylex.data.dataset import UNLABELLED, StylexDataset
from stylex.data.files import sort_names
from stylex.errors import DataError


def _npz_layout(images: np.ndarray, path: Path) -> np.ndarray:
    """Any accepted layout → ``[N, H, W, C]`` (C in 1, 3, 4)."""
    if images.ndim == 3:
        return images[..., None]
    if images.ndim != 4:
        raise DataError(
            f"{path}: 'images' has shape {list(images.shape)}; expected [N, H, W], "
            "[N, H, W, C] or [N, C, H, W]"
        )
    _, a, b, c = images.shape
    last_ok, first_ok = c in (1, 3, 4), a in (1, 3, 4)
    if last_ok and first_ok:  # ambiguous, e.g. [N, 3, 4, 3]: prefer the square reading
        last_ok = a == b
        first_ok = not last_ok
    if last_ok:
        return images
    if first_ok:
        return images.transpose(0, 2, 3, 1)
    raise DataError(
        f"{path}: 'images' has shape {list(images.shape)}: no channel axis of size 1, 3 or 4 "
        "(expected [N, H, W], [N, H, W, C] or [N, C, H, W])"
    )


FLOAT_SLACK = 0.02  # relative overshoot of a float range that is still read as that range


def _npz_to_uint8(images: np.ndarray, path: Path) -> np.ndarray:
    """Images of any numeric dtype → uint8, the value range read from the dtype and values:
    uint8 0..255 (0/1 masks ×255); wider integers by their bit depth (a maximum of 4095 is
    12-bit data); floats in [0, 1], [-1, 1] or [0, 255], with a tolerance of ``FLOAT_SLACK``
    for values a resize or a normalisation pushed slightly out (clipped)."""
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * 255
    if images.dtype.kind in "iu":
        lo, hi = (int(images.min()), int(images.max())) if images.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise DataError(
                f"{path}: integer images must lie in 0..255 (or 0..65535), got {lo}..{hi}"
            )
        if hi == 1:
            warnings.warn(
                f"{path}: integer images with values 0..1 are read as binary masks (×255)",
                stacklevel=3,
            )
            return images.astype(np.uint8) * 255
        if hi > 255:
            bits = int(np.ceil(np.log2(hi + 1)))
            warnings.warn(
                f"{path}: integer images up to {hi} are read as {bits}-bit data (0..{2**bits - 1})",
                stacklevel=3,
            )
            return np.rint(images * (255.0 / (2**bits - 1))).astype(np.uint8)
        return images.astype(np.uint8)
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise DataError(f"{path}: 'images' contains NaN or infinite values")
        flo, fhi = float(images.min()), float(images.max())
        eps = FLOAT_SLACK
        if flo >= -eps and fhi <= 1.0 + eps:
            scaled = images * 255.0
        elif flo >= -1.0 - eps and fhi <= 1.0 + eps:
            scaled = (images + 1.0) * 127.5
        elif flo >= -255 * eps and 2.0 < fhi <= 255.0 * (1 + eps):  # ≤ 2: black, or a typo
            scaled = images
        else:
            raise DataError(
                f"{path}: float images must lie in [0, 1], [-1, 1] or [0, 255]; "
                f"got {flo:g}..{fhi:g}"
            )
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    raise DataError(f"{path}: 'images' has unsupported dtype {images.dtype}")


def load_npz(
    path: Path,
    select: list[str] | None = None,
    *,
    resolution: int | None = None,
    channels: int | None = None,
    n: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> StylexDataset:
    """An ``.npz`` with ``images`` and ``labels`` (module docstring) → dataset."""
    path = Path(path)
    name = name or str(path)
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read .npz ({e})") from e
    with z:
        keys = list(z.files)

        def get(key: str, required: bool = False):
            if key not in keys:
                if required:
                    raise DataError(
                        f"{path}: missing key {key!r} (keys present: {', '.join(keys) or 'none'}); "
                        "an .npz dataset needs 'images' (and 'labels' unless unlabelled)"
                    )
                return None
            try:
                return z[key]
            except ValueError as e:  # object arrays need pickle
                raise DataError(
                    f"{path}: key {key!r} is stored as Python objects, which stylex does not "
                    f"unpickle; save it as a numeric or str array ({e})"
                ) from e
            except (OSError, zipfile.BadZipFile, EOFError) as e:
                raise DataError(f"{path}: key {key!r} is corrupt ({e})") from e

        images, raw_labels = get("images", True), get("labels")
        names_arr, ids_arr = get("class_names"), get("ids")
        factors, factor_names, label_factors = (
            get("factors"),
            get("factor_names"),
            get("label_factors"),
        )
    images = _npz_layout(np.asarray(images), path)
    labelled = raw_labels is not None
    if not labelled:  # unlabelled data: one class, every label 0
        raw_labels, names_arr = np.zeros(len(images), np.int64), np.asarray([UNLABELLED])
    raw_labels = np.asarray(raw_labels)
    if raw_labels.ndim == 2 and raw_labels.shape[1] == 1:
        raw_labels = raw_labels.reshape(-1)
    elif (
        raw_labels.ndim == 2
        and len(raw_labels) == len(images)
        and raw_labels.dtype.kind in "iufb"
        and np.all(raw_labels.astype(np.float64).sum(1) > 0)
        and np.all(raw_labels >= 0)
    ):  # one-hot rows (or per-class scores): the class is the row's largest entry
        raw_labels = raw_labels.argmax(1)
    if raw_labels.ndim != 1 or len(raw_labels) != len(images):
        raise DataError(
            f"{path}: {len(images)} images but {raw_labels.size} labels; "
            "they must have the same length"
        )
    if len(images) == 0:
        raise DataError(f"{path}: no images")
    class_names = None if names_arr is None else [str(s) for s in np.asarray(names_arr).reshape(-1)]

    if raw_labels.dtype.kind in "US":
        raw_labels = raw_labels.astype(str)
        if class_names is None:
            class_names = sort_names(set(raw_labels.tolist()))
        lut = {c: k for k, c in enumerate(class_names)}
        unknown = sorted(set(raw_labels.tolist()) - set(lut))
        if unknown:
            raise DataError(
                f"{path}: label {unknown[0]!r} is not in the class list ({', '.join(class_names)})"
                + (f" ({len(unknown)} unknown labels)" if len(unknown) > 1 else "")
            )
        labels = np.asarray([lut[s] for s in raw_labels.tolist()], np.int64)
    elif raw_labels.dtype.kind in "iufb":
        if raw_labels.dtype.kind == "f" and not np.all(np.mod(raw_labels, 1) == 0):
            raise DataError(f"{path}: float labels must be whole numbers")
        ints = raw_labels.astype(np.int64)
        if class_names is not None:
            badl = ints[(ints < 0) | (ints >= len(class_names))]
            if badl.size:
                raise DataError(
                    f"{path}: label {int(badl[0])} is not in the class list "
                    f"({len(class_names)} classes: {', '.join(class_names)})"
                )
            labels = ints
        else:
            uniq = np.unique(ints)
            class_names = [str(int(u)) for u in uniq]
            labels = np.searchsorted(uniq, ints).astype(np.int64)
    else:
        raise DataError(f"{path}: labels have unsupported dtype {raw_labels.dtype}")

    fac = fnames = None
    lfac: list[str] = []
    if factors is not None:
        fac = np.asarray(factors, np.float64)
        if fac.ndim == 1:
            fac = fac[:, None]
        if fac.shape[0] != len(images):
            raise DataError(f"{path}: {len(images)} images but factors for {fac.shape[0]}")
        fnames = (
            [str(s) for s in np.asarray(factor_names).reshape(-1)]
            if factor_names is not None
            else [f"f{j}" for j in range(fac.shape[1])]
        )
        if len(fnames) != fac.shape[1]:
            raise DataError(f"{path}: {fac.shape[1]} factor columns but {len(fnames)} factor_names")
        if label_factors is not None:
            lfac = [str(s) for s in np.asarray(label_factors).reshape(-1)]
    ids = (
        [str(s) for s in np.asarray(ids_arr).reshape(-1)]
        if ids_arr is not None
        else [f"{path}#{i}" for i in range(len(images))]
    )
    if len(ids) != len(images):
        raise DataError(f"{path}: {len(images)} images but {len(ids)} ids")

    idx, labels, class_names = select_rows(
        labels, class_names, select, n, seed, name, labelled=labelled
    )

    imgs = images[idx]
    if imgs.shape[-1] == 4:  # RGBA composited over black
        imgs = _npz_to_uint8(imgs, path)
        imgs = np.rint(imgs[..., :3] * (imgs[..., 3:] / 255.0)).astype(np.uint8)
    else:
        imgs = _npz_to_uint8(imgs, path)
    _, h, w, c = imgs.shape
    res = check_resolution(native_resolution(h, w) if resolution is None else resolution)
    ch = check_channels((1 if c == 1 else 3) if channels is None else channels)
    out = fit_batch(imgs, res, ch, pad_value=None)
    return StylexDataset(
        torch.from_numpy(out).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(labels[idx]),
        class_names,
        factors=None if fac is None else torch.from_numpy(fac[idx].astype(np.float32)),
        factor_names=fnames or [],
        label_factors=lfac if fac is not None else [],
        ids=[ids[i] for i in idx.tolist()],
        name=name,
        padded_from=padded_from([(h, w)], res),
        label_source="data" if labelled else "none",
    )
