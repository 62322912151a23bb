"""Class-per-folder data: ``DATA/<class>/**/<image>``, or a folder of unlabelled images.

Every non-hidden sub-folder of ``DATA`` is a class, named after the folder; every non-hidden
file below it (recursively) must be an image Pillow reads. Classes are ordered by name
(numerically when all names are integers); images by path. Files at the top level are ignored
with a warning; hidden files (``.*``) are ignored. A folder holding a CSV is read as that CSV
(:mod:`stylex.data.csvfile`). A folder with images and no sub-folders is *unlabelled* data
(``label_source == "none"``): ``stylex train`` labels it with the classifier's
predictions.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from stylex.data.classes import check_classes, resolve_selection
from stylex.data.csvfile import find_csv, load_csv
from stylex.data.dataset import UNLABELLED, StylexDataset
from stylex.data.files import is_hidden, load_image_files, not_an_image, sort_names
from stylex.errors import DataError


def load_folder(
    root: Path,
    select: list[str] | None = None,
    *,
    resolution: int | None = None,
    channels: int | None = None,
    skip_bad: bool = False,
    n: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> StylexDataset:
    """A folder with one sub-folder per class (or a CSV inside it) → dataset."""
    root = Path(root)
    name = name or str(root)
    how: dict[str, Any] = dict(
        resolution=resolution, channels=channels, skip_bad=skip_bad, n=n, seed=seed
    )
    csv_file = find_csv(root)
    if csv_file is not None:
        return load_csv(csv_file, select, name=name, **how)
    entries = sorted(p for p in root.iterdir() if not is_hidden(p))
    class_dirs = [p for p in entries if p.is_dir()]
    loose = [p.name for p in entries if not p.is_dir()]
    if not class_dirs and any(not not_an_image(root / f) for f in loose):
        if select:
            raise DataError(
                f"{root} holds images without class sub-folders (unlabelled data): there are "
                f"no classes to select ({','.join(select)})"
            )
        return _load_unlabelled(root, [root / f for f in loose], name=name, **how)
    if not class_dirs:
        raise DataError(
            f"{root}: no class sub-folders (and no CSV); expected {root}/<class>/<image files>, "
            "a CSV with path,label columns, or an .npz"
        )
    if loose:
        warnings.warn(
            f"{root}: ignoring {len(loose)} file(s) at the top level ({', '.join(loose[:5])}); "
            "images must be inside one sub-folder per class",
            stacklevel=3,
        )
    by_name = {p.name: p for p in class_dirs}
    class_names = sort_names(by_name)
    if select:
        class_names = [class_names[k] for k in resolve_selection(class_names, select, name)]
    paths: list[Path] = []
    label_list: list[int] = []
    ignored: list[str] = []
    for k, cname in enumerate(class_names):
        files = sorted(
            p
            for p in by_name[cname].rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        ignored += [str(p.relative_to(root)) for p in files if not_an_image(p)]
        files = [p for p in files if not not_an_image(p)]
        if not files:
            raise DataError(f"class folder {by_name[cname]} is empty (no image files)")
        paths += files
        label_list += [k] * len(files)
    _warn_not_images(root, ignored)
    if len(class_names) < 2:
        check_classes(np.asarray(label_list), class_names, name)
    labels = np.asarray(label_list, np.int64)
    if n is not None and n < len(paths):
        keep = np.sort(np.random.default_rng(seed).permutation(len(paths))[:n])
        paths, labels = [paths[i] for i in keep], labels[keep]
    return load_image_files(
        paths,
        labels,
        class_names,
        resolution=resolution,
        channels=channels,
        skip_bad=skip_bad,
        source=name,
    )


def _warn_not_images(root: Path, ignored: list[str], stacklevel: int = 4) -> None:
    """Warn of the files skipped as not images (``Thumbs.db``, ``.txt``, …), if any."""
    if ignored:
        warnings.warn(
            f"{root}: ignoring {len(ignored)} file(s) that are not images "
            f"({', '.join(ignored[:5])}{', …' if len(ignored) > 5 else ''})",
            stacklevel=stacklevel,
        )


def _load_unlabelled(
    root: Path,
    files: list[Path],
    *,
    resolution: int | None,
    channels: int | None,
    skip_bad: bool,
    n: int | None,
    seed: int,
    name: str,
) -> StylexDataset:
    """A flat folder of images → an unlabelled dataset (one class, every label 0)."""
    _warn_not_images(root, [p.name for p in files if not_an_image(p)], stacklevel=5)
    paths = [p for p in files if not not_an_image(p)]
    if n is not None and n < len(paths):
        keep = np.sort(np.random.default_rng(seed).permutation(len(paths))[:n])
        paths = [paths[i] for i in keep]
    return load_image_files(
        paths,
        np.zeros(len(paths), np.int64),
        [UNLABELLED],
        resolution=resolution,
        channels=channels,
        skip_bad=skip_bad,
        source=name,
        labelled=False,
    )
