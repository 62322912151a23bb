"""CSV data: a ``.csv`` file, or a folder holding one.

``labels.csv`` is preferred when a folder holds several; a CSV takes precedence over class
sub-folders. A header row names the columns: ``path`` (also ``file``, ``filename``,
``image``) and ``label`` (also ``class``). A CSV of paths alone (and number columns) is
unlabelled data (``label_source == "none"``). Paths are relative to the CSV's folder (or
absolute). A ``classes.txt`` next to the CSV (one name per line) fixes the class list and its
order, and every label must be in it; without it the classes are the sorted distinct labels.
Extra columns whose values are all numbers become generating factors (``dataset.factors``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stylex.data.classes import select_rows
from stylex.data.dataset import UNLABELLED, StylexDataset
from stylex.data.files import is_hidden, load_image_files, sort_names
from stylex.errors import DataError

PATH_COLUMNS = ("path", "file", "filename", "image")
LABEL_COLUMNS = ("label", "class")


def find_csv(root: Path) -> Path | None:
    csvs = sorted(p for p in root.glob("*.csv") if p.is_file() and not is_hidden(p))
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


def _numeric(body: list[list[str]], j: int) -> bool:
    try:
        [float(r[j]) for r in body if j < len(r)]
    except ValueError:
        return False
    return True


def _require_column(header: list[str], options: tuple[str, ...], what: str, csv_path: Path) -> int:
    j = _column(header, options)
    if j is None:
        raise DataError(
            f"{csv_path}: no {what!r} column (header: {', '.join(header)}); the first row "
            f"must name the columns, e.g. `path,label` ({what} may also be called "
            f"{' or '.join(options[1:])}; a CSV of paths alone is unlabelled data)"
        )
    return j


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
    ip = _require_column(header, PATH_COLUMNS, "path", csv_path)
    il = _column(header, LABEL_COLUMNS)  # None: unlabelled data (paths and numbers only)
    labelled = il is not None
    if not body:
        raise DataError(f"{csv_path}: no rows after the header")
    if not labelled and any(not _numeric(body, j) for j in range(len(header)) if j != ip):
        # a text column that is not called label: most likely the labels under another name
        _require_column(header, LABEL_COLUMNS, "label", csv_path)
    for line, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(
                f"{csv_path} line {line}: {len(r)} fields, the header has {len(header)}"
            )
        if not r[ip].strip():
            raise DataError(f"{csv_path} line {line}: empty path")
        if il is not None and not r[il].strip():
            raise DataError(f"{csv_path} line {line}: empty label for {r[ip]}")
    raw_labels = [r[il].strip() for r in body] if il is not None else [UNLABELLED] * len(body)

    classes_txt = csv_path.parent / "classes.txt"
    if not labelled:
        class_names = [UNLABELLED]
    elif classes_txt.is_file():
        class_names = [s.strip() for s in classes_txt.read_text().splitlines() if s.strip()]
        known = set(class_names)
        for line, lab in enumerate(raw_labels, start=2):
            if lab not in known:
                raise DataError(
                    f"{csv_path} line {line}: label {lab!r} is not in the class list of "
                    f"{classes_txt} ({', '.join(class_names)})"
                )
    else:
        class_names = sort_names(set(raw_labels))
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
    idx, labels, class_names = select_rows(
        labels, class_names, select, n, seed, name, labelled=labelled
    )
    bad = []
    found = []
    for i in idx.tolist():
        if not paths[i].exists():
            bad.append((str(paths[i]), f"listed in {csv_path} line {i + 2} but not found"))
        else:
            found.append(i)
    present = np.asarray(found, np.int64)
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
        labelled=labelled,
    )
