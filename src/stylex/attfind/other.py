"""AttFind for *another* classifier in an existing run's StyleSpace (``stylex attfind --run RUN
--classifier OTHER``).

The run's encoder and generator stay as trained (the generator's condition still comes from the
run's own classifier, so the StyleSpace is the run's); only the classifier whose probabilities
AttFind measures changes. The other classifier must follow the same data contract (same
classes, in the same order; it is checked against the run's held-out images). The result goes
to ``RUN/attfind-<name>/`` (``name``: the classifier file's stem or the callable's name), never
over the run's own ``RUN/attfind/``, with a copy of the classifier (``classifier.pt``) so
``stylex evaluate`` can compare the two (:mod:`stylex.metrics.alignment`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from stylex.errors import ClassifierError


def other_name(spec: str) -> str:
    """A folder-safe name for a classifier spec: ``blur.pt`` → ``blur``, ``pkg.mod:make`` →
    ``make``."""
    p = Path(spec)
    raw = p.stem if p.suffix and p.exists() else spec.rsplit(":", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-.") or "other"


def load_other_classifier(
    run, spec: str, contract: dict | None = None, force: bool = False, verbose: bool = True
):
    """Load ``spec`` for ``run`` (on its device) with ``contract`` fields over its own, checked
    against the run's held-out data (:func:`stylex.classifier.load_checked_classifier`);
    returns ``(classifier, default output folder RUN/attfind-<name>)``."""
    from stylex.classifier import load_checked_classifier

    clf = load_checked_classifier(spec, run.dataset("val"), contract, run.device, force, verbose)
    if list(clf.class_names) != list(run.class_names):
        raise ClassifierError(
            f"{spec}: classes {clf.class_names} differ from the run's {run.class_names}"
        )
    return clf, Path(run.path) / f"attfind-{other_name(spec)}"


def save_other_classifier(spec: str, out: str | Path, clf=None) -> None:
    """Write the other classifier into ``out/classifier.pt``: re-saved as TorchScript with its
    resolved contract when ``clf`` (the loaded :class:`~stylex.classifier.Classifier`) is given
    and scriptable, else a copy of a TorchScript file (a ``module:callable`` spec that cannot be
    scripted is recorded in ``attributes.json`` instead)."""
    from stylex.classifier import save_torchscript
    from stylex.metrics.alignment import OTHER_CLASSIFIER_FILE

    Path(out).mkdir(parents=True, exist_ok=True)
    if clf is not None:
        try:
            save_torchscript(clf.module, clf.contract, Path(out) / OTHER_CLASSIFIER_FILE)
            return
        except Exception:  # noqa: BLE001 - not scriptable: fall back to the file itself
            pass
    if Path(spec).is_file():
        tmp = Path(out) / f".{OTHER_CLASSIFIER_FILE}.tmp"
        shutil.copyfile(spec, tmp)
        tmp.replace(Path(out) / OTHER_CLASSIFIER_FILE)


__all__ = ["load_other_classifier", "other_name", "save_other_classifier"]
