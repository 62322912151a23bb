"""Does a classifier fit a dataset under its contract? Accuracy, confusion and a verdict.

:func:`diagnose_classifier` classifies a class-balanced sample of the data through
:class:`~stylex.classifier.Classifier` and returns a :class:`ClassifierCheck`: accuracy,
per-class accuracy, the confusion matrix and a verdict:

* ``fit`` — accuracy clearly above chance and no cheap change of the contract does much better;
* ``reversed`` / ``permuted`` — another assignment of outputs to classes is far more accurate
  (two classes: accuracy far below chance); the message gives the ``--class-names`` to use;
* ``at_chance`` — accuracy near chance (``≤ chance + (1 − chance)/4``); the message lists what
  each cheap alternative contract would give (input range 0,1 / 0,255 / -1,1, the other channel
  count, common input sizes, ImageNet normalisation), best first, so the field to check first
  is named with a number;
* ``contract`` — above chance, but one alternative is ≥ 25 points more accurate.

Structural problems (the forward pass fails, wrong number of outputs, NaN, probabilities
declared as logits or the reverse) raise :class:`~stylex.errors.ClassifierError` naming the
option to change. Class names: the same names as the data's in another order (compared after
:func:`~stylex.data.classes.normalise_class_name`) are handled by :func:`match_class_order` —
``stylex train`` and ``check-classifier`` then use the data in the classifier's order.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import torch

from stylex.classifier.alternatives import (
    advice,
    contract_alternatives,
    failure_message,
    ranked_alternatives,
    raw_outputs,
    try_contract,
)
from stylex.classifier.classorder import class_index_map, match_class_order, reorder_classes
from stylex.classifier.loading import load_classifier
from stylex.classifier.options import FLAGS
from stylex.classifier.verdict import BETTER_BY, ClassifierCheck
from stylex.classifier.wrapper import Classifier
from stylex.errors import ClassifierError


def check_classifier(clf: Classifier, dataset, batch: int = 64, seed: int = 0) -> float:
    """Check ``clf`` against ``dataset`` on up to ``batch`` images; return their accuracy.

    Raises :class:`ClassifierError` if the channels cannot be converted, the forward pass
    fails, the output is not ``[B, K]`` with K = ``dataset.num_classes``, the output is not
    finite, declared probabilities are not probabilities (or the reverse), or the contract's
    class names are the dataset's in another order. Warns when the accuracy is near chance or
    the names differ. A classifier without class names takes the dataset's. The full check,
    with a verdict and alternatives, is :func:`diagnose_classifier`.
    """
    report = diagnose_classifier(clf, dataset, num_images=batch, seed=seed, alternatives=False)
    for note in report.notes:
        warnings.warn(note, stacklevel=2)
    if report.verdict != "fit":
        warnings.warn(
            f"classifier accuracy on {report.num_images} images of {dataset.name} is "
            f"{report.accuracy:.0%}, near chance ({report.chance:.0%}) or below: "
            f"{report.message}",
            stacklevel=2,
        )
    assert report.accuracy is not None  # measured: only unlabelled data has none
    return report.accuracy


def load_checked_classifier(
    spec: str,
    dataset,
    contract: dict | None = None,
    device=None,
    force: bool = False,
    verbose: bool = True,
):
    """Load ``spec`` with ``contract`` fields over its own and check it on ``dataset`` (in the
    classifier's class order when the names match in another order, see
    :func:`match_class_order`); print the verdict when ``verbose``; raise
    :class:`ClassifierError` unless it is ``fit`` or ``force``. Returns the
    :class:`~stylex.classifier.Classifier` (class names filled in from the data if it had none).
    Used for a classifier that comes on top of a run (``stylex attfind --classifier``)."""
    clf = load_classifier(spec, contract=contract, device=device)
    order = match_class_order(clf.class_names, dataset.class_names)
    if order is not None:
        dataset = reorder_classes(dataset, order)
    check = diagnose_classifier(clf, dataset)
    if verbose:
        print(f"classifier {spec}: {check.message}")
        for note in check.notes:
            print(f"note: {note}")
    if not force:
        check.raise_unless_fit("(--force uses it anyway)")
    return clf


RANGE_HINT_BY = 0.05  # another input range this much more accurate is worth a note


def _output_width(clf, dataset) -> int | None:
    """How many logits the classifier returns (one image's forward), or None if it fails."""
    try:
        with torch.no_grad():
            out = clf(dataset.float_images(slice(0, 1)).to(clf.device))
    except Exception:  # the full check's forward reports the failure
        return None
    return int(out.shape[1]) if out.ndim == 2 else None


def _better_range(clf, dataset, images, labels, acc: float) -> tuple[float, str] | None:
    """The most accurate other input range, ``(accuracy, option)``, when it beats the declared
    range's ``acc`` by ``RANGE_HINT_BY`` or more; else None."""
    best: tuple[float, str] | None = None
    for option, fields in contract_alternatives(clf.contract, dataset):
        if set(fields) != {"input_range"}:
            continue
        alt_acc, _ = try_contract(clf, fields, images, labels)
        if alt_acc is not None and alt_acc >= acc + RANGE_HINT_BY:
            if best is None or alt_acc > best[0]:
                best = (alt_acc, option)
    return best


def _range_is_wrong(acc: float, alt_acc: float) -> bool:
    """An accurate classifier's declared range is wrong when another range at least halves its
    errors (and gains ``RANGE_HINT_BY``): 88 % → 100 % is a wrong range, 90 % → 95 % a note."""
    return 1.0 - alt_acc <= 0.5 * (1.0 - acc)


def _sample(dataset, num_images: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = dataset.labels.numpy()
    k = dataset.num_classes
    per_class = max(1, math.ceil(num_images / k))
    idx = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(k)]
    )
    return np.sort(rng.permutation(idx)[:num_images])


def _best_assignment(confusion: np.ndarray) -> tuple[list[int], float]:
    """``perm[j]`` = the true class that output j best stands for; and its accuracy."""
    k, n = len(confusion), max(1, int(confusion.sum()))
    if k <= 7:
        best = max(
            itertools.permutations(range(k)),
            key=lambda p: sum(confusion[p[j], j] for j in range(k)),
        )
        perm = list(best)
    else:  # greedy: the largest remaining cell first
        perm, used_t, used_p = [-1] * k, set(), set()
        for flat in np.argsort(-confusion, axis=None):
            t, p = divmod(int(flat), k)
            if t not in used_t and p not in used_p:
                perm[p] = t
                used_t.add(t)
                used_p.add(p)
    return perm, sum(int(confusion[perm[j], j]) for j in range(k)) / n


def diagnose_classifier(
    clf,
    dataset,
    num_images: int = 256,
    seed: int = 0,
    alternatives: bool | None = None,
) -> ClassifierCheck:
    """Check ``clf`` (a :class:`~stylex.classifier.Classifier`) against ``dataset``.

    Args:
        num_images: a class-balanced sample of at most this many images (chosen by ``seed``).
        alternatives: try the cheap alternative contracts (module docstring); None = only when
            the accuracy is below ``chance + 3/4·(1 − chance)``.

    The dataset is used in its own class order; map a classifier whose names are the data's in
    another order first (:func:`match_class_order`, :func:`reorder_classes`). A classifier
    without class names takes the data's (``clf.class_names`` is set).

    Raises:
        ClassifierError: a structural mismatch (module docstring), naming the option to change.
    """
    contract = clf.contract
    k = dataset.num_classes
    names = clf.class_names
    notes: list[str] = []
    if contract.channels is not None and dataset.channels != contract.channels:
        if {dataset.channels, contract.channels} != {1, 3}:
            raise ClassifierError(
                f"{dataset.name} has {dataset.channels} channels; the classifier expects "
                f"{contract.channels}, and stylex converts only between 1 and 3"
            )
    padded = getattr(dataset, "padded_from", None)
    if contract.crop is None and padded is not None and contract.resolution == padded:
        # the classifier was trained at the images' native size: take the padding off rather
        # than shrink the padded frame (which would show it every object smaller and blurred)
        contract.crop = padded
        notes.append(
            f"{dataset.name}'s images are {padded} px padded to {dataset.resolution}; the "
            f"classifier ({padded} px) gets them with the padding cropped off, not resized"
        )
    if names and len(names) > k and contract.outputs is None:
        keep = class_index_map(names, dataset.class_names)
        if keep is not None and _output_width(clf, dataset) == len(names):
            # the data's classes are some of the classifier's
            contract.outputs = keep
            notes.append(
                f"the classifier has {len(names)} classes; {dataset.name} has {k} of them "
                f"({', '.join(dataset.class_names)}): their outputs ({keep}) are kept, so the "
                "explained probabilities are the classifier's among those classes"
            )
            names = clf.class_names
    if names:
        if len(names) != k:
            raise ClassifierError(
                f"the classifier has {len(names)} classes ({', '.join(names)}) but "
                f"{dataset.name} has {k} ({', '.join(dataset.class_names)}): change "
                f"{FLAGS['class_names']} (or select {len(names)} classes of the data, "
                f"DATA:{','.join(names)})"
            )
        if names != dataset.class_names:
            order = match_class_order(names, dataset.class_names)
            if order is not None:
                raise ClassifierError(
                    f"the classifier's classes are {names} but {dataset.name}'s are "
                    f"{dataset.class_names}: same names in another order, so label k would "
                    "mean a different class; select the classes in the classifier's order "
                    f"(e.g. :{','.join(order)})"
                )
            notes.append(
                f"the classifier's class names {names} differ from {dataset.name}'s "
                f"{dataset.class_names}; they are taken to correspond in order"
            )
    idx = _sample(dataset, num_images, seed)
    t_idx = torch.from_numpy(idx)
    images = dataset.float_images(t_idx).to(clf.device)
    labels = dataset.labels[t_idx].to(clf.device)
    b = len(idx)
    try:
        raw, out = raw_outputs(clf, images)
    except ClassifierError:
        raise
    except Exception as e:
        raise ClassifierError(failure_message(clf, dataset, images, labels, e)) from e
    if out.ndim != 2 or out.shape[0] != b:
        raise ClassifierError(
            f"the classifier returned shape {list(out.shape)} for a batch of {b}; "
            f"expected [B, K] = [{b}, {k}] (one score per class)"
        )
    if out.shape[1] != k:
        single = raw.ndim == 1 or raw.shape[1] == 1
        what = "one score per image (a binary classifier)" if single else f"{out.shape[1]} classes"
        subset = (
            f"; or, if the data's classes are some of the classifier's, declare all "
            f"{out.shape[1]} of its class names in output order ({FLAGS['class_names']}): "
            "the outputs of the data's classes are then kept"
            if out.shape[1] > k and not single
            else ""
        )
        raise ClassifierError(
            f"the classifier outputs {what} but {dataset.name} has {k} classes "
            f"({', '.join(dataset.class_names)}); select {out.shape[1]} classes of the data "
            f"or retrain{subset}"
        )
    if not torch.isfinite(raw).all():
        raise ClassifierError(
            f"the classifier returned NaN or infinite values on {dataset.name} images; "
            f"check its weights and its input range ({FLAGS['input_range']})"
        )
    _check_output_kind(raw, contract.output)
    if not names:
        clf.class_names = list(dataset.class_names)
    pred = out.argmax(1)
    acc = float((pred == labels).float().mean())
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels.cpu().numpy(), pred.cpu().numpy()), 1)
    per_class = [float(confusion[i, i] / max(1, confusion[i].sum())) for i in range(k)]
    chance = 1.0 / k
    near = chance + 0.25 * (1 - chance)
    good = chance + 0.75 * (1 - chance)
    better_range = None
    if alternatives is None:
        alternatives = acc < good
        if not alternatives:
            # accurate as declared, but maybe more so in another input range: a classifier
            # fed the wrong range often stays above the bar, and is then explained off its
            # inputs
            better_range = _better_range(clf, dataset, images, labels, acc)
            # a wrong range: rank every alternative, as for a classifier near chance
            alternatives = better_range is not None and _range_is_wrong(acc, better_range[0])
    alts = ranked_alternatives(clf, dataset, images, labels) if alternatives else []
    perm, perm_acc = _best_assignment(confusion)
    data_names = list(dataset.class_names)
    best_alt = next((a for a in alts if a["accuracy"] is not None), None)
    alt_acc = -1.0 if best_alt is None else best_alt["accuracy"]
    lo, hi = contract.input_range
    if better_range is not None and _range_is_wrong(acc, better_range[0]):
        verdict = "contract"
        message = (
            f"the input range looks wrong: accuracy {acc:.0%} with {lo:g},{hi:g} as declared, "
            f"{better_range[0]:.0%} with {better_range[1]} (half the errors or fewer): a "
            "classifier fed another range than it was trained on is explained on inputs it "
            "never saw; " + advice(alts, acc)
        )
    elif best_alt is not None and alt_acc >= acc + BETTER_BY and alt_acc >= perm_acc:
        # a contract field, not the order
        verdict = "at_chance" if acc <= near else "contract"
        message = (
            f"the contract looks wrong: accuracy {acc:.0%} as declared (chance {chance:.0%}), "
            f"{alt_acc:.0%} with {best_alt['option']}; " + advice(alts, acc)
        )
    elif perm != list(range(k)) and perm_acc >= max(acc + BETTER_BY, near):
        actual = [data_names[perm[j]] for j in range(k)]
        what = "reversed" if k == 2 else "permuted"
        verdict = what
        message = (
            f"the class order looks {what}: accuracy {acc:.0%} (chance {chance:.0%}), but "
            f"{perm_acc:.0%} if the classifier's outputs are {','.join(actual)}; pass "
            f"{FLAGS['class_names']} {','.join(actual)} (the data is then used in that order)"
        )
    elif acc <= near:
        verdict = "at_chance"
        message = f"accuracy {acc:.0%} on {b} images is near chance ({chance:.0%}); " + advice(
            alts, acc
        )
    else:
        verdict = "fit"
        message = f"accuracy {acc:.0%} (chance {chance:.0%}): the classifier fits the data"
        if better_range is not None:
            notes.append(
                f"accuracy {acc:.0%} with the input range {lo:g},{hi:g} but "
                f"{better_range[0]:.0%} with {better_range[1]}: check the range the "
                f"classifier was trained on ({FLAGS['input_range']})"
            )
    return ClassifierCheck(
        data=dataset.name,
        contract=contract.to_dict(),
        class_names=data_names,
        num_images=b,
        accuracy=acc,
        chance=chance,
        per_class=per_class,
        confusion=confusion.tolist(),
        verdict=verdict,
        message=message,
        alternatives=alts,
        notes=notes,
    )


def _check_output_kind(raw: torch.Tensor, output: str) -> None:
    if raw.ndim == 1 or raw.shape[1] == 1:  # one sigmoid score per image
        _check_binary_score_kind(raw.flatten(), output)
        return
    ones = torch.ones_like(raw[:, 0])
    looks_probs = bool((raw >= -1e-4).all() and (raw <= 1 + 1e-4).all()) and torch.allclose(
        raw.sum(1), ones, atol=1e-3
    )
    if output == "probs" and not looks_probs:
        lse = torch.logsumexp(raw, 1)
        other = "log_probs" if torch.allclose(lse, torch.zeros_like(lse), atol=1e-3) else "logits"
        raise ClassifierError(
            "the contract declares output='probs' but the classifier's rows are not "
            f"probabilities (in [0, 1], summing to 1); declare output='{other}' "
            f"({FLAGS['output']} {other})"
        )
    if output in ("logits", "log_probs") and looks_probs and raw.shape[1] > 1:
        raise ClassifierError(
            "the classifier's outputs look like probabilities (rows in [0, 1] summing to 1) "
            f"but the contract says output='{output}': declare output='probs' "
            f"({FLAGS['output']} probs)"
        )


def _check_binary_score_kind(score: torch.Tensor, output: str) -> None:
    """A binary classifier's single score: a probability must lie in [0, 1], a log-probability
    be <= 0; a "logit" that always lies in [0, 1] is a sigmoid output declared as logits."""
    in_unit = bool((score >= -1e-4).all() and (score <= 1 + 1e-4).all())
    if output == "probs" and not in_unit:
        raise ClassifierError(
            "the contract declares output='probs' but the classifier's single score is not a "
            f"probability (values outside [0, 1]); declare output='logits' ({FLAGS['output']} "
            "logits) if it is a sigmoid logit"
        )
    if output == "log_probs" and bool((score > 1e-4).any()):
        raise ClassifierError(
            "the contract declares output='log_probs' but the classifier's single score is "
            f"positive on some images; declare output='logits' ({FLAGS['output']} logits)"
        )
    if output == "logits" and in_unit and score.numel() > 1:
        raise ClassifierError(
            "the classifier returns one score per image, always in [0, 1]: a sigmoid "
            f"probability, not a logit; declare output='probs' ({FLAGS['output']} probs)"
        )
