"""Moved to :mod:`stylex.classifier` (:mod:`~stylex.classifier.diagnose`,
:mod:`~stylex.classifier.classorder`); this path stays for the stages that import it."""

from stylex.classifier import (
    ClassifierCheck,
    class_order_spec,
    diagnose_classifier,
    load_checked_classifier,
    match_class_order,
    reorder_classes,
)

__all__ = [
    "ClassifierCheck",
    "class_order_spec",
    "diagnose_classifier",
    "load_checked_classifier",
    "match_class_order",
    "reorder_classes",
]
