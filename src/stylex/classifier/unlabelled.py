"""Data without labels: the classifier's predictions stand in for them.

StylEx explains what a classifier *predicts*; it needs no labels to train, to find attributes
or to measure them. A folder of images with no class sub-folders, or an ``.npz`` without
``labels``, loads as unlabelled data (``StylexDataset.label_source == "none"``);
``stylex train`` then labels it here:

* :func:`label_by_classifier` — every image's predicted class (one batched pass), the
  classifier's class names (``class 0``, ``class 1``, … when it has none); the classes it
  predicts for too few images are left out (contract ``outputs``), and data on which it
  predicts fewer than two classes is refused (nothing to explain);
* :func:`check_unlabelled` (:func:`unlabelled_check`) — the classifier check of such data:
  structure is checked as for labelled data, accuracy cannot be (verdict ``unlabelled``,
  accepted by ``stylex train`` with a note; the explanation is of the classifier's decisions,
  right or wrong);
* :func:`save_labels` / :func:`load_labels` — the predictions stored in the run folder
  (``labels.json``), so that every later stage reloads the same labels and the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from stylex.classifier.alternatives import failure_message
from stylex.classifier.verdict import ClassifierCheck
from stylex.data.dataset import StylexDataset
from stylex.errors import ClassifierError, RunError
from stylex.utils.fs import atomic_write_json, read_versioned_json

LABELS_FILE = "labels.json"
LABELS_FORMAT = 1
MIN_PER_CLASS = 10  # a class predicted for fewer images is not one of the run's classes


@torch.no_grad()
def predict_labels(
    clf, ds: StylexDataset, batch: int = 256, progress: bool = False
) -> torch.Tensor:
    """The classifier's predicted class of every image of ``ds``, int64 ``[N]``."""
    return _predict(clf, ds, batch, progress)[0]


@torch.no_grad()
def _predict(clf, ds: StylexDataset, batch: int, progress: bool) -> tuple[torch.Tensor, int]:
    """:func:`predict_labels` and the classifier's number of outputs (read off its logits)."""
    if len(ds) == 0:
        raise ValueError(f"{ds.name} has no images to label")
    bar = None
    if progress and len(ds) > batch:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ds), desc="labelling with the classifier", unit="img")
    out = []
    for s in range(0, len(ds), batch):
        x = ds.float_images(slice(s, s + batch)).to(clf.device)
        try:
            logits = clf(x)
        except ClassifierError:
            raise
        except Exception as e:
            raise ClassifierError(failure_message(clf, ds, x, None, e)) from e
        if logits.ndim != 2:
            raise ClassifierError(
                f"the classifier returned shape {list(logits.shape)} for a batch of {len(x)}; "
                "expected [B, K] (one score per class)"
            )
        if not torch.isfinite(logits).all():
            raise ClassifierError(
                f"the classifier returned NaN or infinite values on {ds.name} images; check its "
                "weights and its input range (--input-range)"
            )
        out.append(logits.argmax(1).cpu())
        width = int(logits.shape[1])
        if bar is not None:
            bar.update(len(x))
    if bar is not None:
        bar.close()
    return torch.cat(out), width


def min_class_images(n: int) -> int:
    """Images a predicted class needs to be one of the run's classes: 1 % of the data, at
    least 1 and at most :data:`MIN_PER_CLASS`."""
    return max(1, min(MIN_PER_CLASS, n // 100))


def label_by_classifier(
    clf,
    ds: StylexDataset,
    batch: int = 256,
    progress: bool = False,
    agree: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[StylexDataset, list[str]]:
    """Unlabelled ``ds`` with the classifier's predictions as labels, and notes for the user.

    The classes are the classifier's (``class 0``, ``class 1``, … set on ``clf`` when it has no
    names) that it predicts for at least :func:`min_class_images` images. When that is fewer
    than all its outputs (a 10-digit classifier on a folder of 3s and 8s) the contract keeps
    only those outputs (``outputs``, as for labelled data with some of a classifier's classes):
    the condition, AttFind and the metrics work with its probabilities among them, and an image
    predicted as a dropped class takes its most likely kept one. Raises
    :class:`ClassifierError` when fewer than two classes remain, or when the class names do not
    match the classifier's outputs.

    ``agree``: maps this process's predictions to the ones every process uses (training on
    several devices passes rank 0's, broadcast): predictions on different devices can differ at
    a near tie, and a class at the 1 % threshold would then be kept on one rank and not on
    another, giving the ranks networks of different shapes."""
    if ds.labelled:
        raise ValueError(f"{ds.name} is labelled; label_by_classifier is for unlabelled data")
    pred, width = _predict(clf, ds, batch, progress)
    if agree is not None:
        pred = agree(pred)
    names = list(clf.class_names)
    anonymous = not names
    if anonymous:
        names = [f"class {j}" for j in range(width)]
        clf.class_names = names
    elif len(names) != width:
        raise ClassifierError(
            f"the classifier returns {width} outputs but has {len(names)} class names "
            f"({', '.join(names)}): give one name per output, in output order (--class-names)"
        )
    counts = torch.bincount(pred, minlength=width).tolist()
    need = min_class_images(len(ds))
    kept = [j for j in range(width) if counts[j] >= need]
    if len(kept) < 2:
        seen = ", ".join(f"{names[j]} {counts[j]}" for j in range(width) if counts[j]) or "none"
        raise ClassifierError(
            f"{ds.name} has no labels and the classifier predicts fewer than two classes for "
            f"{need} or more of its {len(ds)} images ({seen}): there is no decision to explain. "
            "Check its input range (--input-range) and that the images are of the kind it was "
            "trained on"
        )
    notes = []
    if len(kept) < width:
        dropped = [(names[j], counts[j]) for j in range(width) if j not in kept and counts[j]]
        outputs = clf.contract.outputs
        clf.contract.outputs = [outputs[j] for j in kept] if outputs else kept
        pred = predict_labels(clf, ds, batch, progress)  # argmax among the kept outputs
        if agree is not None:
            pred = agree(pred)
        notes.append(
            f"the classifier has {width} classes and predicts {len(kept)} of them for {need} or "
            f"more images each ({', '.join(names[j] for j in kept)}): those are the run's "
            "classes, explained by its probabilities among them"
            + (
                f"; the {sum(c for _, c in dropped)} image(s) predicted as "
                f"{', '.join(f'{n} ({c})' for n, c in dropped)} take their most likely of those"
                if dropped
                else ""
            )
        )
        names = list(clf.class_names)
    counts = torch.bincount(pred, minlength=len(names)).tolist()
    notes.insert(
        0,
        f"{ds.name} has no labels: each image is labelled with the classifier's prediction "
        f"({', '.join(f'{c} {n}' for n, c in zip(names, counts, strict=True))}); the "
        "explanation is of its decisions, right or wrong, and its accuracy is not checked",
    )
    if anonymous:
        notes.append(
            f"the classifier has no class names: its outputs are called {', '.join(names)} "
            "(name them with --class-names)"
        )
    return ds.with_labels(pred, names, source="classifier"), notes


def unlabelled_check(check: ClassifierCheck) -> ClassifierCheck:
    """A :class:`ClassifierCheck` run on the classifier's own predictions, made honest: no
    accuracy (it would be 100 % by construction) and the verdict ``unlabelled``."""
    return replace(
        check,
        accuracy=None,
        per_class=[],
        verdict="unlabelled",
        message=(
            "the data has no labels, so the classifier's accuracy cannot be checked; its "
            "predictions are the labels (inputs, outputs and output kind were checked)"
        ),
        alternatives=[],
    )


def check_unlabelled(
    clf,
    ds: StylexDataset,
    num_images: int = 256,
    seed: int = 0,
    progress: bool = False,
    agree: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[StylexDataset, ClassifierCheck]:
    """Label unlabelled ``ds`` with ``clf`` (:func:`label_by_classifier`, ``agree`` as there)
    and check ``clf`` on it (:func:`~stylex.classifier.diagnose_classifier`'s structural
    checks; verdict ``unlabelled``, the labelling's notes first). Returns the labelled data and
    the check."""
    from stylex.classifier.diagnose import diagnose_classifier

    labelled, notes = label_by_classifier(clf, ds, progress=progress, agree=agree)
    check = diagnose_classifier(clf, labelled, num_images=num_images, seed=seed, alternatives=False)
    check = unlabelled_check(check)
    check.notes[:0] = notes
    return labelled, check


def _ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def save_labels(run_dir: str | Path, ds: StylexDataset) -> None:
    """Store ``ds``'s (predicted) labels in ``run_dir/labels.json``."""
    atomic_write_json(
        Path(run_dir) / LABELS_FILE,
        {
            "format_version": LABELS_FORMAT,
            "source": ds.label_source,
            "class_names": list(ds.class_names),
            "num_images": len(ds),
            "ids_sha256": _ids_digest(ds.ids),
            "labels": ds.labels.tolist(),
        },
    )


def load_labels(run_dir: str | Path, ds: StylexDataset) -> StylexDataset:
    """Unlabelled ``ds`` with the labels stored by :func:`save_labels`; raises
    :class:`RunError` when they were stored for other images."""
    path = Path(run_dir) / LABELS_FILE
    obj = read_versioned_json(path, LABELS_FORMAT, what="the run's predicted labels")
    labels = obj.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) != len(ds)
        or obj.get("ids_sha256") != _ids_digest(ds.ids)
    ):
        raise RunError(
            f"{path} holds labels for {obj.get('num_images')} other images than {ds.name}'s "
            f"{len(ds)}: the data changed since the run was trained"
        )
    return ds.with_labels(torch.tensor(labels), obj["class_names"], source=obj["source"])
