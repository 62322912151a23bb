"""Class names and selections, shared by every loader: ``fashion-mnist:sneaker,ankle-boot``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stylex.errors import DataError


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


def select_rows(
    labels: np.ndarray,
    class_names: Sequence[str],
    select: Sequence[str] | None,
    n: int | None,
    seed: int,
    source: str,
    *,
    positive_n: bool = False,
    labelled: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Apply a class selection and an ``n``-row random subset (chosen by ``seed``, kept in
    order) to integer labels.

    Returns ``(kept row indices, the labels of every row renumbered to the selection (-1:
    not selected), the selected class names)``; ``positive_n``: raise unless ``n`` is None or
    ≥ 1 (the built-ins). Checks that at least two classes remain and that none is empty
    (``labelled`` False: data without labels, one class, nothing to select or check).
    """
    labels = np.asarray(labels, np.int64)
    if select and not labelled:
        raise DataError(
            f"{source} has no labels (unlabelled data): there are no classes to select "
            f"({','.join(select)})"
        )
    idx, names = np.arange(len(labels)), list(class_names)
    if select:
        picked = resolve_selection(class_names, select, source)
        remap = np.full(len(class_names), -1, np.int64)
        remap[picked] = np.arange(len(picked))
        labels = remap[labels]
        idx = np.flatnonzero(labels >= 0)
        names = [class_names[k] for k in picked]
    if positive_n and n is not None and n < 1:
        raise DataError(f"{source}: n must be positive, got {n}")
    if n is not None and n < len(idx):
        idx = idx[np.sort(np.random.default_rng(seed).permutation(len(idx))[:n])]
    if labelled:
        check_classes(labels[idx], names, source)
    return idx, labels, names


def check_classes(labels: np.ndarray, class_names: Sequence[str], source: str) -> None:
    """Raise :class:`DataError` unless there are ≥ 2 classes, each with at least one image."""
    if len(class_names) < 2:
        raise DataError(
            f"{source}: only one class ({', '.join(class_names) or 'none'}); a classifier "
            "needs at least two classes"
        )
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(class_names))
    empty = [class_names[int(k)] for k in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"{source}: no images of class {', '.join(map(repr, empty))}")
