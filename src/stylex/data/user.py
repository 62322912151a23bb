"""The user's own data: a folder per class, a CSV of ``path,label``, or an ``.npz``.

Class-per-folder
    ``DATA/<class>/**/<image>``: every non-hidden sub-folder of ``DATA`` is a class, named after
    the folder; every non-hidden file below it (recursively) must be an image Pillow reads.
    Classes are ordered by name (numerically when all names are integers); images by path.
    Files at the top level are ignored with a warning; hidden files (``.*``) are ignored.

CSV
    A ``.csv`` file, or a folder holding one (``labels.csv`` is preferred when there are
    several; a CSV takes precedence over class sub-folders). A header row names the columns:
    ``path`` (also ``file``, ``filename``, ``image``) and ``label`` (also ``class``). Paths are
    relative to the CSV's folder (or absolute). A ``classes.txt`` next to the CSV (one name per
    line) fixes the class list and its order, and every label must be in it; without it the
    classes are the sorted distinct labels. Extra columns whose values are all numbers become
    generating factors (``dataset.factors``).

``.npz``
    ``images``: ``[N, H, W]`` (grey), ``[N, H, W, C]`` or ``[N, C, H, W]`` with C in 1, 3, 4;
    uint8, or float in [0, 1] (all values in it), [-1, 1] (some negative) or [0, 255];
    ``labels``: ``[N]`` ints or strings; optional ``class_names`` (then int labels index it and
    string labels must be in it), ``ids``, ``factors`` + ``factor_names`` (+ ``label_factors``).
    Without ``class_names``, classes are the sorted distinct labels. Loaded without pickle.

Images are converted by the rule in :mod:`stylex.data.dataset`. A bad image (unreadable,
corrupt, truncated, zero bytes, missing) raises :class:`DataError` naming every bad file and
its cause; with ``skip_bad=True`` bad files are skipped, counted in a warning and listed in
``dataset.skipped``.
"""

from __future__ import annotations

import csv
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from stylex.data.dataset import (
    GREY_MODES,
    StylexDataset,
    check_channels,
    check_classes,
    check_resolution,
    fit_batch,
    fit_image,
    native_resolution,
    pil_to_array,
    resolve_selection,
    to_channels,
)
from stylex.errors import DataError

_PATH_COLUMNS = ("path", "file", "filename", "image")
_LABEL_COLUMNS = ("label", "class")
_MAX_LISTED = 10


def _sort_names(names) -> list[str]:
    names = list(names)
    if names and all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def _hidden(p: Path) -> bool:
    return p.name.startswith(".")


# --------------------------------------------------------------------------------------------
# reading image files


def _probe(path: Path) -> tuple[int, int, str]:
    """``(height, width, mode)`` from the header; raises ``ValueError(cause)``."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as e:
        raise ValueError(f"cannot read file ({e.strerror or e})") from None
    if size == 0:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(path) as img:
            w, h = img.size
            return h, w, img.mode
    except UnidentifiedImageError:
        raise ValueError(
            "not an image Pillow can read (unknown format or corrupt header)"
        ) from None
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
        raise ValueError(f"unreadable image ({type(e).__name__}: {e})") from None


def _decode(path: Path, resolution: int, channels: int) -> np.ndarray:
    """Decode and convert one file to ``[R, R, C]`` uint8; raises ``ValueError(cause)``."""
    try:
        with Image.open(path) as img:
            img.load()
            arr = pil_to_array(img)
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except UnidentifiedImageError:
        raise ValueError(
            "not an image Pillow can read (unknown format or corrupt header)"
        ) from None
    except Exception as e:  # noqa: BLE001
        msg = str(e)
        cause = "truncated or corrupt image" if "truncat" in msg.lower() else "corrupt image"
        raise ValueError(f"{cause} ({type(e).__name__}: {msg})") from None
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError("image has zero width or height")
    return fit_image(to_channels(arr, channels), resolution)


def _report_bad(bad: list[tuple[str, str]], source: str, skip_bad: bool) -> None:
    if not bad:
        return
    listed = "\n".join(f"  {p}: {why}" for p, why in bad[:_MAX_LISTED])
    more = f"\n  … and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    if not skip_bad:
        raise DataError(
            f"{len(bad)} bad image file(s) in {source}:\n{listed}{more}\n"
            "Fix or remove them, or skip them with skip_bad=True (--skip-bad)."
        )
    warnings.warn(
        f"skipped {len(bad)} bad image file(s) in {source} (listed in dataset.skipped):\n"
        f"{listed}{more}",
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
) -> StylexDataset:
    """Read image files into a dataset (two passes: headers for the default size and
    channels, then threaded decoding). ``bad``: problems already found (e.g. missing rows)."""
    bad = list(bad or [])
    labels = np.asarray(labels, np.int64)
    ok = np.ones(len(paths), bool)
    sizes, modes = [], []
    for i, p in enumerate(paths):
        try:
            h, w, mode = _probe(p)
        except ValueError as e:
            bad.append((str(p), str(e)))
            ok[i] = False
            continue
        sizes.append((h, w))
        modes.append(mode)
    if not sizes:
        _report_bad(bad, source, skip_bad)
        raise DataError(f"{source}: no readable images")
    if resolution is None:
        resolution = max(native_resolution(h, w) for h, w in sizes)
    resolution = check_resolution(resolution)
    if channels is None:
        channels = 1 if all(m in GREY_MODES for m in modes) else 3
    channels = check_channels(channels)

    todo = np.flatnonzero(ok)
    out = np.empty((len(todo), resolution, resolution, channels), np.uint8)

    def work(j: int):
        try:
            out[j] = _decode(paths[todo[j]], resolution, channels)
            return None
        except ValueError as e:
            return str(e)

    workers = min(8, (os.cpu_count() or 1) + 1)
    with ThreadPoolExecutor(workers) as pool:
        errors = list(pool.map(work, range(len(todo))))
    good = np.asarray([e is None for e in errors], bool)
    for j in np.flatnonzero(~good):
        bad.append((str(paths[todo[j]]), errors[j]))
    bad.sort()
    _report_bad(bad, source, skip_bad)
    keep = todo[good]
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
    )


# --------------------------------------------------------------------------------------------
# class-per-folder


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
    csv_file = _find_csv(root)
    if csv_file is not None:
        return load_csv(
            csv_file,
            select,
            resolution=resolution,
            channels=channels,
            skip_bad=skip_bad,
            n=n,
            seed=seed,
            name=name,
        )
    entries = sorted(p for p in root.iterdir() if not _hidden(p))
    class_dirs = [p for p in entries if p.is_dir()]
    loose = [p.name for p in entries if not p.is_dir()]
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
    class_names = _sort_names(by_name)
    if select:
        class_names = [class_names[k] for k in resolve_selection(class_names, select, name)]
    paths, labels = [], []
    for k, cname in enumerate(class_names):
        files = sorted(
            p
            for p in by_name[cname].rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        if not files:
            raise DataError(f"class folder {by_name[cname]} is empty (no image files)")
        paths += files
        labels += [k] * len(files)
    if len(class_names) < 2:
        check_classes(np.asarray(labels), class_names, name)
    labels = np.asarray(labels, np.int64)
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


# --------------------------------------------------------------------------------------------
# CSV


def _find_csv(root: Path) -> Path | None:
    csvs = sorted(p for p in root.glob("*.csv") if p.is_file() and not _hidden(p))
    if not csvs:
        return None
    if len(csvs) == 1:
        return csvs[0]
    for p in csvs:
        if p.name == "labels.csv":
            return p
    raise DataError(
        f"{root}: several CSV files ({', '.join(p.name for p in csvs)}); name the one to use "
        "(e.g. --data {root}/train.csv) or call it labels.csv"
    )


def _column(header: list[str], options: tuple[str, ...]) -> int | None:
    norm = [h.strip().lower() for h in header]
    for o in options:
        if o in norm:
            return norm.index(o)
    return None


def load_csv(
    csv_path: Path,
    select: list[str] | None = None,
    *,
    resolution: int | None = None,
    channels: int | None = None,
    skip_bad: bool = False,
    n: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> StylexDataset:
    """A CSV of ``path,label`` rows (paths relative to the CSV's folder) → dataset."""
    csv_path = Path(csv_path)
    name = name or str(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{csv_path}: cannot read CSV ({e})") from e
    if not rows:
        raise DataError(
            f"{csv_path}: empty CSV; expected a header row `path,label` and one row per image"
        )
    header, body = rows[0], rows[1:]
    ip, il = _column(header, _PATH_COLUMNS), _column(header, _LABEL_COLUMNS)
    for idx, what, opts in ((ip, "path", _PATH_COLUMNS), (il, "label", _LABEL_COLUMNS)):
        if idx is None:
            raise DataError(
                f"{csv_path}: no {what!r} column (header: {', '.join(header)}); the first row "
                f"must name the columns, e.g. `path,label` ({what} may also be called "
                f"{' or '.join(opts[1:])})"
            )
    if not body:
        raise DataError(f"{csv_path}: no rows after the header")
    for line, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(
                f"{csv_path} line {line}: {len(r)} fields, the header has {len(header)}"
            )
        if not r[ip].strip():
            raise DataError(f"{csv_path} line {line}: empty path")
        if not r[il].strip():
            raise DataError(f"{csv_path} line {line}: empty label for {r[ip]}")
    raw_labels = [r[il].strip() for r in body]

    classes_txt = csv_path.parent / "classes.txt"
    if classes_txt.is_file():
        class_names = [s.strip() for s in classes_txt.read_text().splitlines() if s.strip()]
        known = set(class_names)
        for line, lab in enumerate(raw_labels, start=2):
            if lab not in known:
                raise DataError(
                    f"{csv_path} line {line}: label {lab!r} is not in the class list of "
                    f"{classes_txt} ({', '.join(class_names)})"
                )
    else:
        class_names = _sort_names(set(raw_labels))
    lut = {c: k for k, c in enumerate(class_names)}
    labels = np.asarray([lut[lab] for lab in raw_labels], np.int64)

    # extra all-numeric columns are factors
    factor_cols = [j for j in range(len(header)) if j not in (ip, il)]
    factor_names, factors = [], None
    numeric = []
    for j in factor_cols:
        try:
            numeric.append((header[j].strip(), [float(r[j]) for r in body]))
        except ValueError:
            continue
    if numeric:
        factor_names = [h for h, _ in numeric]
        factors = np.asarray([v for _, v in numeric], np.float64).T

    base = csv_path.parent
    paths = [Path(r[ip].strip()) for r in body]
    paths = [p if p.is_absolute() else base / p for p in paths]
    idx = np.arange(len(paths))
    if select:
        picked = resolve_selection(class_names, select, name)
        remap = np.full(len(class_names), -1, np.int64)
        remap[picked] = np.arange(len(picked))
        labels = remap[labels]
        idx = np.flatnonzero(labels >= 0)
        class_names = [class_names[k] for k in picked]
    if n is not None and n < len(idx):
        idx = idx[np.sort(np.random.default_rng(seed).permutation(len(idx))[:n])]
    check_classes(labels[idx], class_names, name)
    bad = []
    present = []
    for i in idx.tolist():
        if not paths[i].exists():
            bad.append((str(paths[i]), f"listed in {csv_path} line {i + 2} but not found"))
        else:
            present.append(i)
    present = np.asarray(present, np.int64)
    return load_image_files(
        [paths[i] for i in present],
        labels[present],
        class_names,
        resolution=resolution,
        channels=channels,
        skip_bad=skip_bad,
        source=name,
        factors=None if factors is None else factors[present],
        factor_names=factor_names,
        bad=bad,
    )


# --------------------------------------------------------------------------------------------
# npz


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


def _npz_to_uint8(images: np.ndarray, path: Path) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * 255
    if images.dtype.kind in "iu":
        lo, hi = (int(images.min()), int(images.max())) if images.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise DataError(
                f"{path}: integer images must lie in 0..255 (or 0..65535), got {lo}..{hi}"
            )
        if hi > 255:
            return np.rint(images / 257.0).astype(np.uint8)
        return images.astype(np.uint8)
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise DataError(f"{path}: 'images' contains NaN or infinite values")
        lo, hi = float(images.min()), float(images.max())
        if lo >= 0.0 and hi <= 1.0:
            scaled = images * 255.0
        elif lo >= -1.0 and hi <= 1.0:
            scaled = (images + 1.0) * 127.5
        elif lo >= 0.0 and hi <= 255.0:
            scaled = images
        else:
            raise DataError(
                f"{path}: float images must lie in [0, 1], [-1, 1] or [0, 255]; got {lo:g}..{hi:g}"
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
                        "an .npz dataset needs 'images' and 'labels'"
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

        images, raw_labels = get("images", True), get("labels", True)
        names_arr, ids_arr = get("class_names"), get("ids")
        factors, factor_names, label_factors = (
            get("factors"),
            get("factor_names"),
            get("label_factors"),
        )
    images = _npz_layout(np.asarray(images), path)
    raw_labels = np.asarray(raw_labels)
    if raw_labels.ndim == 2 and raw_labels.shape[1] == 1:
        raw_labels = raw_labels.reshape(-1)
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
            class_names = _sort_names(set(raw_labels.tolist()))
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

    idx = np.arange(len(images))
    if select:
        picked = resolve_selection(class_names, select, name)
        remap = np.full(len(class_names), -1, np.int64)
        remap[picked] = np.arange(len(picked))
        labels = remap[labels]
        idx = np.flatnonzero(labels >= 0)
        class_names = [class_names[k] for k in picked]
    if n is not None and n < len(idx):
        idx = idx[np.sort(np.random.default_rng(seed).permutation(len(idx))[:n])]
    check_classes(labels[idx], class_names, name)

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
    )
