"""The in-memory dataset every stage of stylex reads.

A :class:`StylexDataset` holds all its images as one ``uint8`` tensor ``[N, C, R, R]``
(``C`` = 1 grey or 3 RGB, ``R`` a power of two in 16…256) with integer labels ``[N]`` in
``0..K-1``. Models see images as float ``[C, R, R]`` in ``[-1, 1]``
(:func:`stylex.utils.images.from_uint8`). How images of any size and mode become ``R x R`` is
the conversion rule of :mod:`stylex.data.convert`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylex.errors import DataError
from stylex.utils.fs import atomic_write_bytes
from stylex.utils.images import check_channels, check_resolution, from_uint8


def grouped_by_class(labels: np.ndarray, num_classes: int) -> bool:
    """Whether ``labels`` come in runs of one class (at most two runs per class, e.g. a folder
    listing, or a CSV sorted by label) rather than mixed. A dataset in random order has
    about ``N (1 − Σ p_k²)`` runs, far more than ``2 K`` once it has a few dozen images."""
    labels = np.asarray(labels)
    if len(labels) < 2:
        return False
    runs = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
    return runs <= 2 * max(num_classes, 1)


UNLABELLED = "unlabelled"  # the one class name of data without labels
LABEL_SOURCES = ("data", "none", "classifier")


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
        padded_from: the square size S every image had before it was padded (centred) to R,
            when all had that one size (28 for MNIST at 32 px); None when resized, of mixed
            sizes or unknown. A classifier trained at S gets the padding cropped off.
        label_source: ``"data"`` (labels came with the images), ``"none"`` (unlabelled data:
            one class :data:`UNLABELLED`, every label 0, until a classifier labels it with
            :meth:`with_labels`) or ``"classifier"`` (the labels are a classifier's predictions).

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
        padded_from: int | None = None,
        label_source: str = "data",
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
        self.skipped: list[tuple[str, str]] = [(p, why) for p, why in skipped]
        self.padded_from: int | None = padded_from if padded_from and padded_from < h else None
        if label_source not in LABEL_SOURCES:
            raise DataError(f"{name}: label_source must be one of {LABEL_SOURCES}")
        if label_source == "none" and (class_names != [UNLABELLED] or (n and labels.any())):
            raise DataError(f"{name}: unlabelled data has the one class {UNLABELLED!r}")
        self.label_source: str = label_source

    @property
    def labelled(self) -> bool:
        """False for data without labels (``label_source == "none"``)."""
        return self.label_source != "none"

    def with_labels(
        self, labels: torch.Tensor, class_names: Sequence[str], source: str = "classifier"
    ) -> StylexDataset:
        """The same images with other ``labels`` (e.g. a classifier's predictions) and
        ``class_names``."""
        return StylexDataset(
            self.images,
            torch.as_tensor(labels),
            class_names,
            factors=self.factors,
            factor_names=self.factor_names,
            label_factors=self.label_factors,
            ids=self.ids,
            name=self.name,
            skipped=self.skipped,
            padded_from=self.padded_from,
            label_source=source,
        )

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
        return from_uint8(self.images[i]), int(self.labels[i])

    def float_images(self, idx=None) -> torch.Tensor:
        """Images ``idx`` (all when None; an index, slice, list or tensor) as float
        ``[n, C, R, R]`` in ``[-1, 1]``."""
        x = self.images if idx is None else self.images[idx]
        if x.ndim == 3:
            x = x.unsqueeze(0)
        return from_uint8(x)

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
            padded_from=self.padded_from,
            label_source=self.label_source,
        )

    def split(
        self, val_fraction: float = 0.1, seed: int = 0
    ) -> tuple[StylexDataset, StylexDataset]:
        """Deterministic stratified split into ``(train, val)``.

        In each class, ``round(n_k * val_fraction)`` images (at least one when the class has two
        or more and ``val_fraction > 0``) chosen by ``seed`` go to validation. Both parts keep
        the dataset's order, except that a dataset grouped by class (:func:`grouped_by_class`:
        a folder lists class 0's images, then class 1's, …) gets its validation part in a
        seeded random order: the held-out stages (AttFind, evaluation, the fitness verdict,
        the training monitor) read the first N validation images, which must be a mix of
        classes, not N images of the first class.
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
        val = np.flatnonzero(is_val)
        if grouped_by_class(labels, self.num_classes):
            val = rng.permutation(val)
        return self.subset(np.flatnonzero(~is_val)), self.subset(val)

    def sample(self, n: int, seed: int = 0) -> StylexDataset:
        """A random subset of ``min(n, len)`` images chosen by ``seed``, in dataset order."""
        if n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return self.subset(idx)

    # -- persistence ---------------------------------------------------------------------
    def to_npz(self, path: str | Path) -> None:
        """Write an ``.npz`` that :func:`stylex.data.load_dataset` reads back to an equal dataset.

        Keys: ``images`` uint8 ``[N, R, R, C]``, ``labels`` int64 and ``class_names`` (not for
        unlabelled data), ``ids``, ``name`` and, with factors, ``factors``, ``factor_names``,
        ``label_factors``.
        """
        arrays: dict[str, Any] = {
            "images": self.images.permute(0, 2, 3, 1).numpy(),
            "labels": self.labels.numpy(),
            "class_names": np.asarray(self.class_names, dtype=str),
            "ids": np.asarray(self.ids, dtype=str),
            "name": np.asarray(self.name),
        }
        if not self.labelled:  # read back as unlabelled
            del arrays["labels"], arrays["class_names"]
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
            "label_source": self.label_source,
        }
