"""Two classifiers explained in one StyleSpace: do they rely on the same attributes?

``stylex attfind --run RUN --classifier OTHER`` writes ``RUN/attfind-<name>/``: AttFind's
result for another classifier of the same data, measured in the run's StyleSpace (the run's
encoder and generator, whose condition still comes from the run's own classifier), with a copy
of that classifier (``classifier.pt``). ``stylex evaluate`` then reports, per such folder, under
``metrics.json["counterfactual"]["alignment"][name]``:

* ``overlap_top5``, ``overlap_top10``: share of the run classifier's top-k attributes per class
  (layer, channel, direction) that are also among the other classifier's top-k, mean over
  classes (:func:`stylex.attfind.api.agreement`).
* ``flip_alignment``: counterfactual alignment (after Cohen et al., "Identifying spurious
  correlations using counterfactual alignment", 2023). For every held-out image and class
  ``y`` that *neither* classifier predicts on the reconstruction, classifier A's counterfactual
  is the shortest prefix of A's top-``k`` attributes of ``y`` (applied cumulatively, as in
  sufficiency) after which A predicts ``y``; ``a_to_b`` is the share of those counterfactuals
  that B also assigns to ``y`` (A = the run's classifier), ``b_to_a`` the same with B's
  attributes, ``mean`` the two's mean; the counts say on how many counterfactuals.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylex.models.stylespace import EditContext, class_probs

OTHER_PREFIX = "attfind-"
OTHER_CLASSIFIER_FILE = "classifier.pt"


def other_attfind_dirs(run_path: str | Path) -> list[tuple[str, Path]]:
    """``(name, folder)`` of every ``RUN/attfind-<name>/`` holding an ``attributes.json``."""
    root = Path(run_path)
    return [
        (d.name[len(OTHER_PREFIX) :], d)
        for d in sorted(root.glob(OTHER_PREFIX + "*"))
        if d.is_dir() and (d / "attributes.json").is_file()
    ]


def load_other(directory: str | Path, device=None):
    """The :class:`~stylex.attfind.AttFindResult` and the classifier of an ``attfind-<name>``
    folder (its ``classifier.pt``, else the spec recorded in ``attributes.json``)."""
    from stylex.attfind import AttFindResult
    from stylex.classifier import load_classifier
    from stylex.errors import RunError

    directory = Path(directory)
    result = AttFindResult.load(directory)
    copy = directory / OTHER_CLASSIFIER_FILE
    spec = str(copy) if copy.is_file() else result.config.get("classifier")
    if not spec:
        raise RunError(f"{directory}: no {OTHER_CLASSIFIER_FILE} and no classifier recorded")
    return result, load_classifier(str(spec), device=device)


@torch.no_grad()
def _flips(
    ctx_a: EditContext,
    edits: Sequence[Sequence[Any]],
    clf_b: nn.Module,
    styles: Sequence[torch.Tensor],
    k: int,
    batch: int,
) -> dict[str, int]:
    """Counts over (image, class y) pairs neither classifier predicts as y: ``pairs``,
    ``a_flips`` (A's top-k attributes of y, applied cumulatively, make A predict y) and
    ``both`` (B also predicts y on A's counterfactual, the first prefix that flipped A).
    ``ctx_a``: A's edits (its classifier, StyleSpace, shift size); ``edits``: A's per class."""
    generator, clf_a = ctx_a.generator, ctx_a.classifier
    counts = {"pairs": 0, "a_flips": 0, "both": 0}
    n = styles[0].shape[0]
    for a0 in range(0, n, batch):
        st = [s[a0 : a0 + batch] for s in styles]
        orig = generator.synthesize(st, noise_mode="const")
        pa, pb = class_probs(clf_a, orig).argmax(1), class_probs(clf_b, orig).argmax(1)
        for y, attrs in enumerate(edits):
            keep = (pa != y) & (pb != y)
            if not bool(keep.any()) or not attrs:
                continue
            cur = [s[keep] for s in st]
            done = torch.zeros(int(keep.sum()), dtype=torch.bool, device=keep.device)
            both = torch.zeros_like(done)
            for a in list(attrs)[:k]:
                cur = ctx_a.edit(cur, int(a.index), float(a.target))
                img = generator.synthesize(cur, noise_mode="const")
                new = (class_probs(clf_a, img).argmax(1) == y) & ~done
                both |= new & (class_probs(clf_b, img).argmax(1) == y)
                done |= new
            counts["pairs"] += int(keep.sum())
            counts["a_flips"] += int(done.sum())
            counts["both"] += int(both.sum())
    return counts


def _rate(num: int, den: int) -> float:
    return num / den if den else float("nan")


@torch.no_grad()
def classifier_alignment(
    run,
    attfind_a,
    attfind_b,
    classifier_b,
    styles: list[torch.Tensor],
    k: int = 10,
    batch: int = 64,
) -> dict[str, Any]:
    """The alignment entry (module docstring) of the run's classifier (A, ``attfind_a``) and
    another one (B, ``classifier_b`` with ``attfind_b``), on the images whose per-layer
    ``styles`` are given. Both AttFind results must be in the run's StyleSpace."""
    from stylex.attfind import agreement
    from stylex.metrics.sufficiency import attfind_context, attribute_edits

    ctx_a = attfind_context(run, attfind_a)
    ctx_b = attfind_context(run, attfind_b, classifier=classifier_b)
    ab = _flips(ctx_a, attribute_edits(attfind_a), classifier_b, styles, k, batch)
    ba = _flips(ctx_b, attribute_edits(attfind_b), run.classifier, styles, k, batch)
    a_to_b, b_to_a = _rate(ab["both"], ab["a_flips"]), _rate(ba["both"], ba["a_flips"])
    both = [v for v in (a_to_b, b_to_a) if v == v]
    return {
        "overlap_top5": agreement(attfind_a, attfind_b, 5),
        "overlap_top10": agreement(attfind_a, attfind_b, 10),
        "flip_alignment": {
            "a_to_b": a_to_b,
            "b_to_a": b_to_a,
            "mean": sum(both) / len(both) if both else float("nan"),
            "counts_a_edits": ab,
            "counts_b_edits": ba,
            "top_k": k,
        },
        "classifier_b": list(getattr(classifier_b, "class_names", []) or []),
    }


__all__ = [
    "OTHER_CLASSIFIER_FILE",
    "OTHER_PREFIX",
    "classifier_alignment",
    "load_other",
    "other_attfind_dirs",
]
