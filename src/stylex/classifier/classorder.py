"""Class order: a classifier whose class names are the data's in another order."""

from __future__ import annotations

import torch

from stylex.data import parse_spec
from stylex.data.classes import normalise_class_name


def class_index_map(classifier_names: list[str], data_names: list[str]) -> list[int] | None:
    """For each data class (in ``data_names``' order) the index of the classifier class with the
    same name (up to :func:`~stylex.data.classes.normalise_class_name`); None unless every data
    class matches a different classifier class and the classifier's names are distinct."""
    by_name = {normalise_class_name(n): k for k, n in enumerate(classifier_names)}
    lut = [by_name.get(normalise_class_name(n), -1) for n in data_names]
    if len(by_name) != len(classifier_names) or -1 in lut or len(set(lut)) != len(lut):
        return None
    return lut


def match_class_order(classifier_names: list[str], data_names: list[str]) -> list[str] | None:
    """The data's class names in the classifier's order, when the two lists hold the same names
    (up to :func:`~stylex.data.classes.normalise_class_name`) in another order; else None."""
    if not classifier_names or len(classifier_names) != len(data_names):
        return None
    lut = class_index_map(classifier_names, data_names)
    if lut is None:
        return None
    order = list(data_names)
    for k, j in enumerate(lut):
        order[j] = data_names[k]
    return None if order == list(data_names) else order


def reorder_classes(dataset, order: list[str]):
    """``dataset`` with its labels renumbered so that class k is ``order[k]``."""
    lut = torch.tensor([order.index(n) for n in dataset.class_names], dtype=torch.int64)
    return dataset.with_labels(lut[dataset.labels], list(order), source=dataset.label_source)


def class_order_spec(spec: str, order: list[str]) -> str | None:
    """A dataset spec selecting the classes of ``spec`` in ``order`` (None if not expressible,
    e.g. a ``shapes`` rule)."""
    p = parse_spec(spec)
    if p["source"] == "shapes" or any("," in n or ":" in n or "?" in n for n in order):
        return None
    head = str(p["path"]) if p["source"] == "path" else p["source"]
    if p["split"]:
        head += f"@{p['split']}"
    opts = "&".join(f"{k}={v}" for k, v in p["options"].items())
    return f"{head}:{','.join(order)}" + (f"?{opts}" if opts else "")
