"""Ground truth: do the top attributes change the factors the classifier's label rule uses?

Only for data with known generating factors (``dataset.factors``; the built-in ``shapes``).

The factor probe (how factors are read from an image): :mod:`stylex.metrics.probe`; its
training and cache: :mod:`stylex.metrics.probe_training`.

**Factor change of an attribute.** For attribute ``a`` of class ``y`` and the held-out images
whose real image is not predicted ``y`` (as in sufficiency), the probe reads the un-edited
reconstruction ``G(s)`` and the edited one ``G(edit_a(s))`` (one attribute alone, AttFind's
target and shift size). Per image and factor the change is, in units of the factor's spread on
the data:

* continuous: ``(f̂(edited) − f̂(orig)) / std(f)``;
* circular (hue): the circular difference in ``[-½, ½)`` cycles ``/ std(f)``;
* categorical (shape): the total-variation distance of the probe's class probabilities
  ``½ Σ|q(edited) − q(orig)|`` divided by the mean indicator std ``mean_k √(π_k (1 − π_k))``
  of the class frequencies ``π`` (a full change of a 3-way uniform factor ≈ 2.1, comparable to
  ≈ 1.7 for a full hue flip or 3.5 for a full sweep of a uniform [0, 1] factor).

``change[f]`` = mean over the images of ``|change|``; the attribute's **dominant factor** is
``argmax_f change[f]``, or none when ``max_f change[f] < min_change`` (default 0.1: the
attribute changes no factor measurably). The argmax skips the factors the generator does not
reproduce (``unreproduced_factors``: the probe reads them on reconstructions much worse than on
real images, :func:`~stylex.metrics.probe_training.unreproduced_factors`, e.g. shapes'
outline when every object comes back as a rounded blob): a reading near chance is no
measurement of a change. Their changes stay in ``change``; the fitness verdict's ``factors``
check fails on them, so such a run is not fit whatever the ground truth.

**Scores.** ``precision_top5`` = share of the top-5 attributes of all classes together whose
dominant factor is one of the label rule's factors (an attribute with no dominant factor
counts as a miss). ``recall_top10`` = share of the rule's factors that are the dominant factor
of at least one top-10 attribute (of any class). ``recall_top10_changed`` (secondary, looser) =
share of the rule's factors that some top-10 attribute changes by at least
``change_threshold`` (default 0.25), dominant or not.

**The joint edit.** Sufficiency applies a class's top-k attributes together, and a class can be
carried by a few coordinates that each move several factors while together they move the label
factor. ``joint_attributes`` holds, per class and ``k``, the factor changes of the top-``k``
edits applied together, in order (same images and units as above; its dominant factor as
above). ``joint_precision_top3`` = share of classes whose top-3 joint edit (top-k for a class
with k < 3 attributes) has a label factor as its dominant factor; ``joint_recall_top10`` = share
of the rule's factors that are the dominant factor of some class's top-k joint edit, k ≤ 10.
These describe the explanation as a whole; the verdict's check stays on single attributes, the
unit the report shows one by one.

**Does the classifier follow the rule?** ``classifier_agreement`` = share of the evaluated
images whose predicted class is their label (the rule's class, matched by class name). When it
is high, the classifier computes the rule, so an attribute that flips it should change a
factor of the rule: the fitness verdict's ``ground_truth`` check then requires
``precision_top5`` (:mod:`stylex.metrics.fitness`). When it is low, the classifier reads other
factors too, and an explanation is right to show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from stylex.metrics.gt_scores import (
    DEFAULT_CHANGE_THRESHOLD,
    ground_truth_scores,
    joint_at,
    joint_scores,
)
from stylex.metrics.probe import (
    DEFAULT_PROBE_SEED,
    PROBE_FILE,
    PROBE_FORMAT,
    FactorProbe,
    FactorSpec,
    circular_difference,
    factor_specs,
    synthetic_source,
)
from stylex.metrics.probe_training import (
    gaussian_blur,
    generator_artefacts,
    load_or_train_probe,
    probe_errors,
    train_probe,
    unreproduced_factors,
)
from stylex.metrics.sufficiency import edit_shift
from stylex.models.stylespace import edit as edit_styles

DEFAULT_MIN_CHANGE = 0.1


# ------------------------------------------------------------------------------ changes
def factor_changes(
    probe: FactorProbe, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Per-image normalised signed change ``[B]`` of every factor (module docstring; the
    categorical change is the scaled total-variation distance, ≥ 0)."""
    out = {}
    for j, spec in enumerate(probe.specs):
        a, b = before[spec.name].double(), after[spec.name].double()
        if spec.kind == "categorical":
            d = 0.5 * (b - a).abs().sum(1)
        elif spec.kind == "circular":
            d = circular_difference(a, b)
        else:
            d = b - a
        out[spec.name] = (d / float(probe.scale[j])).cpu()
    return out


def dominant_factor(
    change: dict[str, float], min_change: float = DEFAULT_MIN_CHANGE, skip: Sequence[str] = ()
) -> str | None:
    """The factor with the largest mean |change| (factors in ``skip`` left out: not
    reproduced), or None if it is below ``min_change``."""
    change = {f: v for f, v in change.items() if f not in skip}
    if not change:
        return None
    name = max(change, key=lambda k: change[k])
    return name if change[name] >= min_change else None


@torch.no_grad()
def attribute_factor_changes(
    generator,
    probe: FactorProbe,
    styles: Sequence[torch.Tensor],
    predicted: torch.Tensor,
    class_attributes: Sequence[Sequence[Any]],
    space,
    shift_size: float = 1.0,
    max_k: int = 10,
    batch: int = 64,
    max_images: int | None = None,
    progress: bool = False,
    cumulative: bool = False,
) -> list[list[dict[str, Any]]]:
    """Per class and top-``max_k`` attribute (objects with ``index`` and ``target``), the mean
    normalised factor changes of that single edit on the images whose real image is not
    predicted as the class (at most ``max_images`` of them; all images when none qualifies).
    With ``cumulative`` the ``j``-th entry is instead the change of the class's top-``j``
    edits applied together, in order (the joint edit that sufficiency applies). Each edit moves
    by its own ``shift`` when it has one, else by ``shift_size`` (as in sufficiency).

    Returns per class a list of ``{"change": {f: mean |Δ|}, "signed_change": {f: mean Δ}
    (non-categorical), "changed_fraction": {f: share of images whose argmax changed}
    (categorical), "num_images": m}``.
    """
    predicted = predicted.to(styles[0].device)
    names = probe.names
    kinds = {s.name: s.kind for s in probe.specs}
    jobs: list[tuple[int, list[Any], torch.Tensor | None]] = []
    for y, class_attrs in enumerate(class_attributes):
        attrs = list(class_attrs)[:max_k]
        if not attrs:
            jobs.append((y, attrs, None))
            continue
        idx = (predicted != y).nonzero().flatten()
        if idx.numel() == 0:
            idx = torch.arange(len(predicted), device=predicted.device)
        if max_images is not None:
            idx = idx[:max_images]
        jobs.append((y, attrs, idx))
    total = sum(len(a) for _, a, i in jobs if i is not None)
    bar = None
    if progress and total:
        from tqdm.auto import tqdm

        desc = "joint factor changes" if cumulative else "factor changes"
        bar = tqdm(total=total, desc=desc, unit="attr")
    result: list[list[dict[str, Any]]] = []
    for _y, attrs, todo in jobs:
        if todo is None:
            result.append([])
            continue
        idx = todo
        sums = [{n: [0.0, 0.0, 0.0] for n in names} for _ in attrs]  # |Δ|, Δ, argmax changed
        for a0 in range(0, idx.numel(), max(1, batch)):
            sel = idx[a0 : a0 + batch]
            s_b = [s.index_select(0, sel) for s in styles]
            before = probe.predict(generator.synthesize(s_b, noise_mode="const").clamp(-1, 1))
            # as in sufficiency: resume from the input of the earliest edited layer (with
            # ``cumulative`` every earlier edit stays applied, so the earliest of them all)
            states: dict[int, Any] = {}
            joint, start = s_b, 0
            for j, a in enumerate(attrs):
                layer = space.locate(int(a.index))[0]
                start = min(start, layer) if cumulative and j else layer
                if start not in states:
                    states[start] = generator.run_until(s_b, start, noise_mode="const")
                t = edit_shift(a, shift_size)
                edited = edit_styles(joint, space, int(a.index), float(a.target), t)
                joint = edited if cumulative else s_b
                img = generator.run_from(states[start], edited, start, noise_mode="const")
                after = probe.predict(img.clamp(-1, 1))
                ch = factor_changes(probe, before, after)
                for n in names:
                    sums[j][n][0] += float(ch[n].abs().sum())
                    sums[j][n][1] += float(ch[n].sum())
                    if kinds[n] == "categorical":
                        moved = before[n].argmax(1) != after[n].argmax(1)
                        sums[j][n][2] += float(moved.sum())
        m = idx.numel()
        rows = []
        for j in range(len(attrs)):
            rows.append(
                {
                    "change": {n: sums[j][n][0] / m for n in names},
                    "signed_change": {
                        n: sums[j][n][1] / m for n in names if kinds[n] != "categorical"
                    },
                    "changed_fraction": {
                        n: sums[j][n][2] / m for n in names if kinds[n] == "categorical"
                    },
                    "num_images": m,
                }
            )
            if bar is not None:
                bar.update(1)
        result.append(rows)
    if bar is not None:
        bar.close()
    return result


# ------------------------------------------------------------------------------ scores
def classifier_agreement(
    predicted: torch.Tensor, labels: torch.Tensor, classifier_names, data_names
) -> float | None:
    """Share of images whose predicted class (classifier order ``classifier_names``) is their
    label (data order ``data_names``), classes matched by normalised name; None when the names
    do not match one to one (:func:`~stylex.classifier.classorder.class_index_map`) or there
    are no images."""
    from stylex.classifier.classorder import class_index_map

    lut = class_index_map(list(classifier_names), list(data_names))
    if len(predicted) == 0 or lut is None:
        return None
    mapped = torch.tensor(lut, dtype=torch.long)[labels.long().cpu()]
    return float((mapped == predicted.long().cpu()).double().mean())


@torch.no_grad()
def run_ground_truth(
    run,
    attfind,
    dataset,
    predicted: torch.Tensor,
    probe: FactorProbe,
    probe_info: dict[str, Any],
    styles: list[torch.Tensor],
    recon: torch.Tensor | None = None,
    max_k: int = 10,
    batch: int = 64,
    max_images: int | None = 64,
    min_change: float = DEFAULT_MIN_CHANGE,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    progress: bool = False,
) -> dict[str, Any]:
    """The ``ground_truth`` entry of ``metrics.json`` for ``run`` and its AttFind result on the
    held-out ``dataset`` (with factors), given the encoded ``styles`` of its images, the
    classifier's ``predicted`` class on them and optionally their reconstructions."""
    from stylex.metrics.sufficiency import attfind_space, attribute_edits

    space = attfind_space(run, attfind)
    edits = attribute_edits(attfind)
    shift = float(attfind.effects.shift_size)

    def measure(cumulative: bool) -> list[list[dict[str, Any]]]:
        return attribute_factor_changes(
            *(run.generator, probe, styles, predicted, edits, space, shift),
            max_k=max_k,
            batch=batch,
            max_images=max_images,
            progress=progress,
            cumulative=cumulative,
        )

    changes, joint = measure(False), measure(True)  # each attribute alone; top-k together
    lf = list(dataset.label_factors)
    on_real = probe_errors(probe, dataset.images, dataset.factors)
    on_recon = probe_errors(probe, recon, dataset.factors) if recon is not None else None
    unread = unreproduced_factors(on_real, on_recon)

    def row(ch: dict[str, Any], **lead: Any) -> dict[str, Any]:
        dom = dominant_factor(ch["change"], min_change, skip=unread)
        readable = [v for f, v in ch["change"].items() if f not in unread]
        return {
            **lead,
            "dominant": dom,
            "dominant_change": ch["change"][dom] if dom else max(readable, default=0.0),
            "in_label_factors": dom in lf,
            **ch,
        }

    joint_rows = [
        row(ch, **{"class": c.name, "k": k})
        for c in attfind.classes
        for k, ch in enumerate(joint[c.class_index], 1)
    ]
    rows = [
        row(
            ch,
            **{"class": c.name, "rank": r},
            layer=a.layer,
            channel=a.channel,
            index=a.index,
            direction=a.direction,
        )
        for c in attfind.classes
        for r, (a, ch) in enumerate(zip(c.attributes, changes[c.class_index], strict=False), 1)
    ]
    scores = ground_truth_scores(rows, lf, change_threshold=change_threshold)
    scores.update(joint_scores(joint_rows, lf))
    probe_summary = {
        k: probe_info.get(k)
        for k in (
            "source",
            "seed",
            "steps",
            "num_train",
            "augment",
            "resolution",
            "channels",
            "cached",
        )
    }
    probe_summary["clean_test"] = probe_info.get("clean_test", {})
    probe_summary["degraded_test"] = probe_info.get("degraded_test", {})
    probe_summary["on_real"] = on_real
    if on_recon is not None:
        probe_summary["on_reconstructions"] = on_recon
    agreement = classifier_agreement(
        predicted, dataset.labels, run.class_names, dataset.class_names
    )
    return {
        **scores,
        "classifier_agreement": agreement,
        "label_factors": lf,
        "factor_names": list(dataset.factor_names),
        "min_change": min_change,
        "unreproduced_factors": unread,
        "change_threshold": change_threshold,
        "attributes": rows,
        "joint_attributes": joint_rows,
        "probe": probe_summary,
    }


__all__ = [
    "DEFAULT_CHANGE_THRESHOLD",
    "DEFAULT_MIN_CHANGE",
    "DEFAULT_PROBE_SEED",
    "PROBE_FILE",
    "PROBE_FORMAT",
    "FactorProbe",
    "FactorSpec",
    "attribute_factor_changes",
    "circular_difference",
    "classifier_agreement",
    "dominant_factor",
    "factor_changes",
    "factor_specs",
    "gaussian_blur",
    "generator_artefacts",
    "ground_truth_scores",
    "joint_at",
    "joint_scores",
    "load_or_train_probe",
    "probe_errors",
    "run_ground_truth",
    "synthetic_source",
    "train_probe",
]
