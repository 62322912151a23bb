"""The classifier StylEx explains: loading, its input contract, a frozen wrapper, a small CNN.

stylex's own image convention is float ``[B, C, R, R]`` in ``[-1, 1]`` at the run's resolution
and channels. A user's classifier may expect something else; it declares that in a
:class:`ClassifierContract` and :class:`Classifier` converts our images to it on the fly
(differentiably, so gradients reach the images):

1. channels: 1 → 3 repeats the grey value; 3 → 1 takes ITU-R 601 luminance;
2. size: ``F.interpolate(bilinear, antialias when shrinking)`` to ``contract.resolution``;
3. range: ``[-1, 1]`` mapped linearly to ``contract.input_range``;
4. normalisation: ``(x - mean) / std`` per channel when ``mean``/``std`` are given.

The classifier returns **logits** ``[B, K]`` (``output="logits"``, the default). A model that
returns probabilities declares ``output="probs"`` (stylex takes their log, which softmaxes back
to the same probabilities); ``"log_probs"`` is used as is. A binary classifier with one score
per image (``[B]`` or ``[B, 1]``: a sigmoid logit, or with ``output="probs"`` a sigmoid
probability) scores the data's second class; it is read as the two logits ``(0, z)``. A
tuple/list output uses its first element, a dict output its ``"logits"`` entry.

Contract defaults: ``input_range=(-1, 1)``, ``resolution=None`` (any size), ``channels=None``
(the data's), no normalisation, ``class_names=[]`` (taken from the data), ``output="logits"``.
Where it comes from, first found wins: the ``contract`` argument (a dict is merged over the
others), the ``stylex_contract.json`` extra file of a TorchScript archive, a
``stylex_contract`` attribute (dict) on the module, the defaults.

Loading never unpickles: a classifier is a TorchScript file (``torch.jit.load``) or

Layout: :mod:`~stylex.classifier.contract` (the contract), :mod:`~stylex.classifier.wrapper`
(:class:`Classifier`), :mod:`~stylex.classifier.loading` (files and ``module:callable``),
:mod:`~stylex.classifier.diagnose` (does it fit the data: accuracy, verdict; with
:mod:`~stylex.classifier.alternatives`, :mod:`~stylex.classifier.classorder`,
:mod:`~stylex.classifier.verdict`), :mod:`~stylex.classifier.cnn` and
:mod:`~stylex.classifier.training` (the built-in small CNN), :mod:`~stylex.classifier.options`
(the contract's command-line options) and the commands ``train_cli`` / ``check_cli``.
"""

from stylex.classifier.alternatives import COMMON_SIZES, IMAGENET_MEAN, IMAGENET_STD
from stylex.classifier.classorder import class_order_spec, match_class_order, reorder_classes
from stylex.classifier.cnn import SmallCNN, build_small_cnn
from stylex.classifier.contract import CONTRACT_FILE, OUTPUTS, ClassifierContract, contract_dict
from stylex.classifier.diagnose import (
    check_classifier,
    diagnose_classifier,
    load_checked_classifier,
)
from stylex.classifier.loading import load_classifier, save_torchscript
from stylex.classifier.training import train_classifier
from stylex.classifier.verdict import BETTER_BY, ClassifierCheck
from stylex.classifier.wrapper import Classifier

__all__ = [
    "BETTER_BY",
    "COMMON_SIZES",
    "CONTRACT_FILE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "OUTPUTS",
    "Classifier",
    "ClassifierCheck",
    "ClassifierContract",
    "SmallCNN",
    "build_small_cnn",
    "check_classifier",
    "class_order_spec",
    "contract_dict",
    "diagnose_classifier",
    "load_checked_classifier",
    "load_classifier",
    "match_class_order",
    "reorder_classes",
    "save_torchscript",
    "train_classifier",
]
