"""Datasets for stylex: user data and offline built-ins, as one in-memory type.

``load_dataset(spec)`` returns a :class:`StylexDataset` (images uint8 ``[N, C, R, R]``, labels
``[N]``; ``dataset[i]`` is a float image in ``[-1, 1]``). The conversion rule (padding vs
resizing, channels) is documented in :mod:`stylex.data.convert`;
image files are decoded by :mod:`stylex.data.decode`.

Spec syntax::

    SPEC := SOURCE ["@" SPLIT] [":" SELECTION] ["?" OPTIONS]

``SOURCE``
    a path — class-per-folder directory, a folder with a CSV, a ``.csv`` file or an ``.npz``
    (a folder of images without sub-folders, or an ``.npz`` without ``labels``, is unlabelled
    data: ``label_source == "none"``) (:mod:`stylex.data.folder`, :mod:`stylex.data.csvfile`,
    :mod:`stylex.data.npz`) — or a built-in: ``fashion-mnist``, ``mnist``
    (:mod:`stylex.data.builtin`), ``shapes`` (:mod:`stylex.data.shapes`), ``gratings``
    (:mod:`stylex.data.gratings`).
``SPLIT``
    ``fashion-mnist@train`` (default) or ``fashion-mnist@test``.
``SELECTION``
    a comma-separated class subset, in the order that defines the new labels:
    ``fashion-mnist:sneaker,ankle-boot``, ``mnist:3,8``, ``path/to/folder:cat,dog``. Names
    match case-insensitively with spaces/underscores read as hyphens; a number that is not a
    class name is a class index. For ``shapes`` the selection is the label rule:
    ``shapes:shape=circle``, ``shapes:hue<0.5&size>0.3``, ``shapes:shape`` (see
    :mod:`stylex.data.shapes`); the same for ``gratings`` over its factors:
    ``gratings:angle<0.5``, ``gratings:angle<0.5&contrast>0.5``.
``OPTIONS``
    ``key=value`` pairs joined by ``&``. ``n=N``: a random subset of ``N`` images (chosen by the
    seed, in dataset order; for ``shapes`` the number generated, default 10000). ``shapes`` also
    takes ``seed=S`` and ``shapes=circle,square``; ``gratings`` takes ``seed=S``. Example:
    ``fashion-mnist@test:bag,coat?n=500``. A path also takes ``skip_bad=1``: skip unreadable
    image files (as ``skip_bad=True`` does), so that a run's stored spec reloads the same
    images.

A path that exists is read as a path, even if it contains ``:``, ``@`` or ``?``, except that a
bare built-in name always means the built-in: a folder called ``shapes`` is ``./shapes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stylex.data.builtin import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from stylex.data.csvfile import load_csv
from stylex.data.dataset import StylexDataset
from stylex.data.decode import DecodeError, decode_image, decode_pil, open_image
from stylex.data.folder import load_folder
from stylex.data.gratings import make_gratings
from stylex.data.npz import load_npz
from stylex.data.shapes import DEFAULT_N, DEFAULT_RULE, FACTOR_NAMES, make_shapes, parse_rule
from stylex.data.spec import (
    BUILTINS,
    OPTIONS,
    RULE_SOURCES,
    bool_option,
    int_option,
    parse_spec,
)
from stylex.errors import DataError
from stylex.utils.images import check_channels, check_resolution

__all__ = [
    "BUILTINS",
    "DecodeError",
    "FACTOR_NAMES",
    "FASHION_MNIST_CLASSES",
    "StylexDataset",
    "decode_image",
    "decode_pil",
    "load_dataset",
    "make_gratings",
    "make_shapes",
    "open_image",
    "parse_rule",
    "parse_spec",
]


def load_dataset(
    spec: str,
    resolution: int | None = None,
    channels: int | None = None,
    skip_bad: bool = False,
    seed: int = 0,
) -> StylexDataset:
    """Load a dataset from a spec (module docstring) as a :class:`StylexDataset`.

    Args:
        spec: a path or built-in name, e.g. ``"fashion-mnist:sneaker,ankle-boot"``,
            ``"shapes:shape=circle?n=5000"``, ``"data/pets"``, ``"data/x.npz"``.
        resolution: output size R (power of two in 16…256); None = the native size rounded up.
        channels: 1 or 3; None = 1 if every image is grey, else 3 (``shapes``: 3).
        skip_bad: skip unreadable image files (warned, listed in ``dataset.skipped``) instead
            of raising :class:`DataError`.
        seed: for ``shapes`` generation and ``?n=`` subsets.

    Returns:
        images uint8 ``[N, C, R, R]``, labels int64 ``[N]`` in ``0..K-1``, and metadata.
    """
    if resolution is not None:
        resolution = check_resolution(resolution)
    if channels is not None:
        channels = check_channels(channels)
    parsed = parse_spec(spec)
    source, options = parsed["source"], parsed["options"]
    allowed = OPTIONS[source]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise DataError(
            f"dataset {spec!r}: unknown option(s) {', '.join(unknown)}; "
            f"{source} takes {', '.join(sorted(allowed))}"
        )
    n = int_option(options, "n", spec)
    skip_bad = skip_bad or bool_option(options, "skip_bad", spec)
    if parsed["split"] is not None and source != "fashion-mnist":
        raise DataError(f"dataset {spec!r}: only fashion-mnist has splits (@train, @test)")
    select = None
    if parsed["selection"] is not None and source not in RULE_SOURCES:
        select = [s for s in parsed["selection"].split(",") if s.strip()]
        if not select:
            raise DataError(f"dataset {spec!r}: empty class selection after ':'")

    if source == "shapes":
        s = int_option(options, "seed", spec)
        shapes = options.get("shapes")
        return make_shapes(
            n=DEFAULT_N if n is None else n,
            resolution=32 if resolution is None else resolution,
            rule=parsed["selection"] or DEFAULT_RULE,
            seed=seed if s is None else s,
            shapes=shapes.split(",") if shapes else None,
            channels=3 if channels is None else channels,
            name=str(spec),
        )
    if source == "gratings":
        from stylex.data import gratings

        s = int_option(options, "seed", spec)
        return make_gratings(
            n=gratings.DEFAULT_N if n is None else n,
            resolution=32 if resolution is None else resolution,
            rule=parsed["selection"] or gratings.DEFAULT_RULE,
            seed=seed if s is None else s,
            channels=1 if channels is None else channels,
            name=str(spec),
        )
    common: dict[str, Any] = dict(
        resolution=resolution, channels=channels, n=n, seed=seed, name=str(spec)
    )
    if source == "fashion-mnist":
        return load_fashion_mnist(parsed["split"] or "train", select, **common)
    if source == "mnist":
        return load_mnist(select, **common)
    path: Path = parsed["path"]
    if path.is_dir():
        return load_folder(path, select, skip_bad=skip_bad, **common)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path, select, **common)
    if suffix == ".csv":
        return load_csv(path, select, skip_bad=skip_bad, **common)
    raise DataError(
        f"{path}: not a dataset; give a class-per-folder directory, a .csv of path,label or an .npz"
    )
