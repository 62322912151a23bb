"""Cheap alternative contracts (input range, channels, size, normalisation) and the advice
that names the field to check first, for :func:`~stylex.classifier.diagnose_classifier`."""

from __future__ import annotations

from typing import Any

import torch

from stylex.classifier.wrapper import Classifier

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
COMMON_SIZES = (28, 32, 64, 224)


def raw_outputs(clf, images: torch.Tensor, batch: int = 64) -> tuple[Any, torch.Tensor]:
    """The wrapped module's raw outputs (concatenated when tensors) and the logits."""
    raws, logits = [], []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            raw = clf.module(clf.prepare(images[s : s + batch]))
            logits.append(clf.to_logits(raw))
            raws.append(raw)
    out = torch.cat(logits)
    raw0 = raws[0]
    if isinstance(raw0, torch.Tensor):
        raw = torch.cat(raws)
    else:  # a dict/tuple output: judge the extracted tensor
        raw = out if clf.contract.output != "probs" else out.exp()
    return raw, out


def first_line(e: BaseException) -> str:
    """The informative line of an exception (a TorchScript error's cause is its last line)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if len(lines) > 1 and "TorchScript interpreter" in lines[0]:
        return lines[-1].rstrip(".")[:200]
    return f"{type(e).__name__}: {lines[0] if lines else ''}".rstrip(".")[:200]


def contract_alternatives(contract, dataset) -> list[tuple[str, dict[str, Any]]]:
    """Single-field changes worth trying: ``(option text, contract fields)``."""
    alts: list[tuple[str, dict[str, Any]]] = []
    for r in ((-1.0, 1.0), (0.0, 1.0), (0.0, 255.0)):
        if r != tuple(contract.input_range):
            alts.append((f"--input-range {r[0]:g},{r[1]:g}", {"input_range": list(r)}))
    chans = contract.channels or dataset.channels
    other = 3 if chans == 1 else 1
    if contract.mean is None or len(contract.mean) == 1:
        alts.append((f"--input-channels {other}", {"channels": other}))
    size = contract.resolution or dataset.resolution
    sizes = [s for s in dict.fromkeys((dataset.resolution, *COMMON_SIZES)) if s != size]
    for s in sizes:
        value = None if s == dataset.resolution and contract.resolution is not None else s
        label = "any" if value is None else str(s)
        alts.append((f"--input-size {label}", {"resolution": value}))
    if contract.mean is not None:
        alts.append(("no --mean/--std", {"mean": None, "std": None}))
    elif chans == 3:
        alts.append(
            (
                "--input-range 0,1 --mean/--std ImageNet's",
                {"input_range": [0.0, 1.0], "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
            )
        )
    return alts


def try_contract(
    clf, fields: dict, images: torch.Tensor, labels: torch.Tensor
) -> tuple[float | None, str]:
    try:
        alt = Classifier(clf.module, clf.contract.merged(fields))
        _, out = raw_outputs(alt, images)
    except Exception as e:  # a failing alternative is an answer too
        return None, first_line(e)
    if out.ndim != 2 or out.shape[0] != len(labels):
        return None, f"output shape {list(out.shape)}"
    return float((out.argmax(1) == labels).float().mean()), ""


def ranked_alternatives(clf, dataset, images, labels) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for option, fields in contract_alternatives(clf.contract, dataset):
        acc, err = try_contract(clf, fields, images, labels)
        rows.append({"option": option, "fields": fields, "accuracy": acc, "error": err})
    rows.sort(key=lambda r: -1.0 if r["accuracy"] is None else r["accuracy"], reverse=True)
    return rows


def advice(alts: list[dict[str, Any]], acc: float) -> str:
    """Which field to check first: the alternatives that beat ``acc`` by 10 points, best first."""
    helpful = [a for a in alts if a["accuracy"] is not None and a["accuracy"] >= acc + 0.1]
    if not helpful:
        tried = "; ".join(
            f"{a['option']} → {'fails' if a['accuracy'] is None else format(a['accuracy'], '.0%')}"
            for a in alts[:4]
        )
        return (
            "no single contract change helps"
            + (f" ({tried})" if tried else "")
            + "; check that the classifier was trained on these classes, its --mean/--std, "
            "and the data's labels"
        )
    tried = ", ".join(f"{a['option']} → {a['accuracy']:.0%}" for a in helpful[:3])
    first = helpful[0]["option"]
    first = first.split()[0] if first.startswith("--") else first
    return f"check {first} first (one change at a time: {tried})"


def failure_message(clf, dataset, images, labels, e: Exception) -> str:
    """Why the forward pass failed, and the first cheap contract change it runs with (with its
    accuracy; ``labels`` None, unlabelled data: judged only by whether it runs)."""
    prepared_shape = "?"
    try:
        prepared_shape = str(list(clf.prepare(images[:1]).shape))
    except Exception:
        pass
    head = (
        f"the classifier failed on {dataset.name} images of shape {list(images.shape[1:])} "
        f"(converted to its contract: {prepared_shape}, range {clf.contract.input_range}): "
        f"{first_line(e)}."
    )
    some = images[:64]
    truth = labels[:64] if labels is not None else torch.zeros(len(some), dtype=torch.int64)
    runs = [
        a
        for a in ranked_alternatives(clf, dataset, some, truth.to(some.device))
        if a["accuracy"] is not None
    ]
    if runs:
        a = runs[0]
        acc = f" (accuracy {a['accuracy']:.0%})" if labels is not None else ""
        return f"{head} It runs with {a['option']}{acc}: set {a['option']}."
    return (
        f"{head} Check the contract's channels, resolution and input_range "
        "(--input-channels, --input-size, --input-range)."
    )
