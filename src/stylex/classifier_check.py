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
:func:`~stylex.data.dataset.normalise_class_name`) are handled by :func:`match_class_order` —
``stylex train`` and ``check-classifier`` then use the data in the classifier's order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from stylex.classifier_contract_cli import FLAGS
from stylex.errors import ClassifierError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
COMMON_SIZES = (28, 32, 64, 224)
BETTER_BY = 0.25  # an alternative (or class assignment) this much more accurate is a verdict


@dataclass
class ClassifierCheck:
    """The result of :func:`diagnose_classifier` (JSON-able with :meth:`to_dict`)."""

    data: str
    contract: dict[str, Any]
    class_names: list[str]
    num_images: int
    accuracy: float
    chance: float
    per_class: list[float]
    confusion: list[list[int]]  # [true class][predicted class]
    verdict: str
    message: str
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fit(self) -> bool:
        return self.verdict == "fit"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def raise_unless_fit(self, hint: str = "") -> None:
        """Raise :class:`ClassifierError` with the verdict's message unless it is ``fit``."""
        if not self.fit:
            raise ClassifierError(self.message + (f" {hint}" if hint else ""))

    def format(self) -> str:
        """A readable report: contract, accuracy, per class, confusion, alternatives, verdict."""
        from stylex.classifier import ClassifierContract
        from stylex.classifier_contract_cli import describe_contract

        lines = ["classifier contract (field, value, option):"]
        lines.append(describe_contract(ClassifierContract.from_dict(self.contract)))
        lines += [f"note: {n}" for n in self.notes]
        lines.append(
            f"accuracy on {self.num_images} images of {self.data}: {self.accuracy:.1%} "
            f"(chance {self.chance:.1%})"
        )
        w = max(8, *(len(n) for n in self.class_names))
        lines.append("per class (rows: true class, columns: predicted):")
        lines.append(
            f"  {'class':<{w}} {'acc':>6}  "
            + " ".join(f"{i:>5}" for i in range(len(self.class_names)))
        )
        for i, (name, acc) in enumerate(zip(self.class_names, self.per_class, strict=True)):
            row = " ".join(f"{v:>5}" for v in self.confusion[i])
            lines.append(f"  {name:<{w}} {acc:>6.1%}  {row}   [{i}]")
        if self.alternatives:
            lines.append("accuracy with one contract change (best first):")
            for a in self.alternatives:
                acc = "fails" if a["accuracy"] is None else f"{a['accuracy']:.1%}"
                extra = f" ({a['error']})" if a.get("error") else ""
                lines.append(f"  {a['option']:<40} {acc}{extra}")
        lines.append(f"verdict: {self.verdict}: {self.message}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# class order


def match_class_order(classifier_names: list[str], data_names: list[str]) -> list[str] | None:
    """The data's class names in the classifier's order, when the two lists hold the same names
    (up to :func:`~stylex.data.dataset.normalise_class_name`) in another order; else None."""
    from stylex.data.dataset import normalise_class_name as norm

    if not classifier_names or len(classifier_names) != len(data_names):
        return None
    by_norm = {norm(n): n for n in data_names}
    wanted = [norm(n) for n in classifier_names]
    if sorted(wanted) != sorted(by_norm) or len(set(wanted)) != len(wanted):
        return None
    order = [by_norm[n] for n in wanted]
    return None if order == list(data_names) else order


def reorder_classes(dataset, order: list[str]):
    """``dataset`` with its labels renumbered so that class k is ``order[k]``."""
    from stylex.data import StylexDataset

    lut = torch.tensor([order.index(n) for n in dataset.class_names], dtype=torch.int64)
    return StylexDataset(
        dataset.images,
        lut[dataset.labels],
        list(order),
        factors=dataset.factors,
        factor_names=dataset.factor_names,
        label_factors=dataset.label_factors,
        ids=dataset.ids,
        name=dataset.name,
    )


def class_order_spec(spec: str, order: list[str]) -> str | None:
    """A dataset spec selecting the classes of ``spec`` in ``order`` (None if not expressible,
    e.g. a ``shapes`` rule)."""
    from stylex.data import parse_spec

    p = parse_spec(spec)
    if p["source"] == "shapes" or any("," in n or ":" in n or "?" in n for n in order):
        return None
    head = str(p["path"]) if p["source"] == "path" else p["source"]
    if p["split"]:
        head += f"@{p['split']}"
    opts = "&".join(f"{k}={v}" for k, v in p["options"].items())
    return f"{head}:{','.join(order)}" + (f"?{opts}" if opts else "")


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
    from stylex.classifier import load_classifier

    clf = load_classifier(spec, contract=contract, device=device)
    order = match_class_order(clf.class_names, dataset.class_names)
    if order is not None:
        dataset = reorder_classes(dataset, order)
    check = diagnose_classifier(clf, dataset)
    if verbose:
        print(f"classifier {spec}: {check.message}")
    if not force:
        check.raise_unless_fit("(--force uses it anyway)")
    return clf


# --------------------------------------------------------------------------------------------
# the check


def _sample(dataset, num_images: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = dataset.labels.numpy()
    k = dataset.num_classes
    per_class = max(1, math.ceil(num_images / k))
    idx = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(k)]
    )
    return np.sort(rng.permutation(idx)[:num_images])


def _raw_outputs(clf, images: torch.Tensor, batch: int = 64) -> tuple[Any, torch.Tensor]:
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


def _first_line(e: BaseException) -> str:
    """The informative line of an exception (a TorchScript error's cause is its last line)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if len(lines) > 1 and "TorchScript interpreter" in lines[0]:
        return lines[-1].rstrip(".")[:200]
    return f"{type(e).__name__}: {lines[0] if lines else ''}".rstrip(".")[:200]


def _alternatives(contract, dataset) -> list[tuple[str, dict[str, Any]]]:
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


def _try(clf, fields: dict, images: torch.Tensor, labels: torch.Tensor) -> tuple[float | None, str]:
    from stylex.classifier import Classifier

    try:
        alt = Classifier(clf.module, clf.contract.merged(fields))
        _, out = _raw_outputs(alt, images)
    except Exception as e:  # a failing alternative is an answer too
        return None, _first_line(e)
    if out.ndim != 2 or out.shape[0] != len(labels):
        return None, f"output shape {list(out.shape)}"
    return float((out.argmax(1) == labels).float().mean()), ""


def _ranked_alternatives(clf, dataset, images, labels) -> list[dict[str, Any]]:
    rows = []
    for option, fields in _alternatives(clf.contract, dataset):
        acc, err = _try(clf, fields, images, labels)
        rows.append({"option": option, "fields": fields, "accuracy": acc, "error": err})
    rows.sort(key=lambda r: -1.0 if r["accuracy"] is None else r["accuracy"], reverse=True)
    return rows


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
    names = contract.class_names
    notes: list[str] = []
    if contract.channels is not None and dataset.channels != contract.channels:
        if {dataset.channels, contract.channels} != {1, 3}:
            raise ClassifierError(
                f"{dataset.name} has {dataset.channels} channels; the classifier expects "
                f"{contract.channels}, and stylex converts only between 1 and 3"
            )
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
        raw, out = _raw_outputs(clf, images)
    except ClassifierError:
        raise
    except Exception as e:
        raise ClassifierError(_failure_message(clf, dataset, images, labels, e)) from e
    if out.ndim != 2 or out.shape[0] != b:
        raise ClassifierError(
            f"the classifier returned shape {list(out.shape)} for a batch of {b}; "
            f"expected [B, K] = [{b}, {k}] (one score per class)"
        )
    if out.shape[1] != k:
        raise ClassifierError(
            f"the classifier outputs {out.shape[1]} classes but {dataset.name} has {k} "
            f"({', '.join(dataset.class_names)}); select {out.shape[1]} classes or retrain"
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
    if alternatives is None:
        alternatives = acc < good
    alts = _ranked_alternatives(clf, dataset, images, labels) if alternatives else []
    perm, perm_acc = _best_assignment(confusion)
    data_names = list(dataset.class_names)
    best_alt = next((a for a in alts if a["accuracy"] is not None), None)
    alt_acc = -1.0 if best_alt is None else best_alt["accuracy"]
    if alt_acc >= acc + BETTER_BY and alt_acc >= perm_acc:  # a contract field, not the order
        verdict = "at_chance" if acc <= near else "contract"
        message = (
            f"the contract looks wrong: accuracy {acc:.0%} as declared (chance {chance:.0%}), "
            f"{alt_acc:.0%} with {best_alt['option']}; " + _advice(alts, acc)
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
        message = f"accuracy {acc:.0%} on {b} images is near chance ({chance:.0%}); " + _advice(
            alts, acc
        )
    else:
        verdict = "fit"
        message = f"accuracy {acc:.0%} (chance {chance:.0%}): the classifier fits the data"
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


def _advice(alts: list[dict[str, Any]], acc: float) -> str:
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


def _failure_message(clf, dataset, images, labels, e: Exception) -> str:
    prepared_shape = "?"
    try:
        prepared_shape = str(list(clf.prepare(images[:1]).shape))
    except Exception:
        pass
    head = (
        f"the classifier failed on {dataset.name} images of shape {list(images.shape[1:])} "
        f"(converted to its contract: {prepared_shape}, range {clf.contract.input_range}): "
        f"{_first_line(e)}."
    )
    runs = [
        a
        for a in _ranked_alternatives(clf, dataset, images[:64], labels[:64])
        if a["accuracy"] is not None
    ]
    if runs:
        a = runs[0]
        return (
            f"{head} It runs with {a['option']} (accuracy {a['accuracy']:.0%}): set {a['option']}."
        )
    return (
        f"{head} Check the contract's channels, resolution and input_range "
        "(--input-channels, --input-size, --input-range)."
    )


def _check_output_kind(raw: torch.Tensor, output: str) -> None:
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
