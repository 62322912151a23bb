"""Image files → a dataset: the reading step shared by the folder and CSV formats.

Images are converted by the rule in :mod:`stylex.data.convert`. A bad image (unreadable,
corrupt, truncated, zero bytes, missing) raises :class:`~stylex.errors.DataError` naming every
bad file and its cause; with ``skip_bad=True`` bad files are skipped, counted in a warning and
listed in ``dataset.skipped``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from stylex.data.classes import check_classes
from stylex.data.convert import (
    GREY_MODES,
    check_channels,
    check_resolution,
    native_resolution,
    padded_from,
    use_padding,
)
from stylex.data.dataset import StylexDataset
from stylex.data.decode import decode_image, probe_image
from stylex.errors import DataError

MAX_LISTED = 10


def sort_names(names: Iterable[str]) -> list[str]:
    """Class names in order: numerically when all are integers, else alphabetically."""
    names = list(names)
    if names and all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def is_hidden(p: Path) -> bool:
    return p.name.startswith(".")


# files that operating systems, editors and annotation tools leave beside images
NOT_IMAGE_NAMES = {"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"}
NOT_IMAGE_SUFFIXES = {
    ".txt", ".csv", ".tsv", ".json", ".jsonl", ".xml", ".yaml", ".yml", ".md", ".html",
    ".ini", ".db", ".log", ".pdf", ".zip", ".tar", ".gz", ".npy", ".npz", ".pt", ".pth",
    ".pkl", ".py", ".sh", ".mat", ".h5",
}  # fmt: skip


def not_an_image(p: Path) -> bool:
    """A file in a class folder that is known not to be an image (``Thumbs.db``, annotations,
    notes): skipped with a warning rather than reported as a bad image."""
    return p.name.lower() in NOT_IMAGE_NAMES or p.suffix.lower() in NOT_IMAGE_SUFFIXES


def report_bad(bad: list[tuple[str, str]], source: str, skip_bad: bool) -> None:
    """Raise :class:`DataError` listing the bad files, or (``skip_bad``) warn about them."""
    if not bad:
        return
    listed = "\n".join(f"  {p}: {why}" for p, why in bad[:MAX_LISTED])
    more = f"\n  … and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
    if not skip_bad:
        raise DataError(
            f"{len(bad)} bad image file(s) in {source}:\n{listed}{more}\n"
            "Fix or remove them, or skip them: --skip-bad, the data spec option "
            "?skip_bad=1, or skip_bad=True."
        )
    warnings.warn(
        f"skipped {len(bad)} bad image file(s) in {source} (listed in dataset.skipped):\n"
        f"{listed}{more}",
        stacklevel=3,
    )


MAX_SCALE_SPREAD = 1.5  # largest / smallest share of the frame an image's content fills


def warn_mixed_scales(
    sizes: list[tuple[int, int]],
    labels: np.ndarray,
    class_names: list[str],
    resolution: int,
    source: str,
) -> None:
    """Warn when the conversion rule frames images at very different scales: a padded image
    fills ``max(h, w) / R`` of the frame, a resized one all of it. The generator learns the
    frame, and when the scale differs between classes AttFind can report it as an attribute."""
    fill = np.asarray(
        [max(h, w) / resolution if use_padding(h, w, resolution) else 1.0 for h, w in sizes]
    )
    if fill.max() <= MAX_SCALE_SPREAD * fill.min():
        return
    per_class = [
        f"{name} {np.median(fill[labels == k]):.0%}"
        for k, name in enumerate(class_names)
        if (labels == k).any()
    ]
    warnings.warn(
        f"{source}: images of different sizes fill from {fill.min():.0%} to {fill.max():.0%} "
        f"of the {resolution}-px frame (small ones are padded, not enlarged; median per class: "
        f"{', '.join(per_class)}). The generator learns the frame, and a scale that differs "
        "between classes can come out as an attribute; resize the images to one size first",
        stacklevel=3,
    )


def load_image_files(
    paths: list[Path],
    labels: np.ndarray,
    class_names: list[str],
    *,
    resolution: int | None,
    channels: int | None,
    skip_bad: bool,
    source: str,
    ids: list[str] | None = None,
    factors: np.ndarray | None = None,
    factor_names: list[str] | None = None,
    bad: list[tuple[str, str]] | None = None,
    labelled: bool = True,
) -> StylexDataset:
    """Read image files into a dataset (two passes: headers for the default size and
    channels, then threaded decoding). ``bad``: problems already found (e.g. missing rows).
    ``labelled`` False: images without labels (``labels`` all 0, ``class_names``
    ``[UNLABELLED]``, ``label_source`` ``"none"``)."""
    bad = list(bad or [])
    labels = np.asarray(labels, np.int64)
    ok = np.ones(len(paths), bool)
    sizes, modes = [], []
    for i, p in enumerate(paths):
        try:
            h, w, mode = probe_image(p)
        except ValueError as e:  # a DecodeError
            bad.append((str(p), str(e)))
            ok[i] = False
            continue
        sizes.append((h, w))
        modes.append(mode)
    if not sizes:
        report_bad(bad, source, skip_bad)
        raise DataError(f"{source}: no readable images")
    if resolution is None:
        resolution = max(native_resolution(h, w) for h, w in sizes)
    resolution = check_resolution(resolution)
    if channels is None:
        channels = 1 if all(m in GREY_MODES for m in modes) else 3
    channels = check_channels(channels)
    warn_mixed_scales(sizes, labels[ok], class_names, resolution, source)

    todo = np.flatnonzero(ok)
    out = np.empty((len(todo), resolution, resolution, channels), np.uint8)

    def work(j: int) -> str | None:
        try:
            out[j] = decode_image(paths[todo[j]], resolution, channels)
            return None
        except ValueError as e:  # a DecodeError, or a conversion failure
            return str(e)

    workers = min(8, (os.cpu_count() or 1) + 1)
    with ThreadPoolExecutor(workers) as pool:
        errors = list(pool.map(work, range(len(todo))))
    good = np.asarray([e is None for e in errors], bool)
    for j in np.flatnonzero(~good):
        bad.append((str(paths[todo[j]]), str(errors[j])))
    bad.sort()
    report_bad(bad, source, skip_bad)
    keep = todo[good]
    if labelled:
        check_classes(labels[keep], class_names, source)
    ids = [str(p) for p in paths] if ids is None else ids
    return StylexDataset(
        torch.from_numpy(out[good]).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(labels[keep]),
        class_names,
        factors=None if factors is None else torch.from_numpy(factors[keep].astype(np.float32)),
        factor_names=factor_names or [],
        ids=[ids[i] for i in keep.tolist()],
        name=source,
        skipped=bad,
        padded_from=padded_from(sizes, resolution),
        label_source="data" if labelled else "none",
    )
