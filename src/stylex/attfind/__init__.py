"""AttFind (Lang et al. 2021, Algorithm 1): the style coordinates that most move a classifier.

::

    from stylex.attfind import AttFind, AttFindResult
    result = AttFind(run).attribute(num_images=256, top_k=10)
    result.save(run.path / "attfind")
    result = AttFindResult.load(run.path / "attfind")
    result["sneaker"].attributes[0]  # layer, channel, index, direction, effect, flipped

Modules: :mod:`~stylex.attfind.delta` (Δ: reference loop and exact fast path, on an
:class:`~stylex.models.stylespace.EditContext`), :mod:`~stylex.attfind.effects` (the
``Effects`` record and its files), :mod:`~stylex.attfind.select` (unstable images, greedy
selection), :mod:`~stylex.attfind.screen` (screening, the default mode: a first-order ranking,
exact Δ of the candidates), :mod:`~stylex.attfind.resume` (chunks and resume files),
:mod:`~stylex.attfind.d_filter`, :mod:`~stylex.attfind.result` (``AttFindResult``),
:mod:`~stylex.attfind.api` (``AttFind``).
"""

from stylex.attfind.api import DEFAULT_CANDIDATES_PER_TOP_K, AttFind
from stylex.attfind.delta import fast_effects, reference_effects
from stylex.attfind.effects import DIRECTIONS, Effects
from stylex.attfind.result import AttFindResult, agreement
from stylex.attfind.screen import first_order_effects, screen_candidates
from stylex.attfind.select import (
    Attribute,
    ClassAttributes,
    select_attributes,
    select_class,
    unstable_images,
)
from stylex.attfind.tempered import TemperedClassifier
from stylex.models.stylespace import EditContext, style_bounds
from stylex.models.stylespace import edit as edit_styles

__all__ = [
    "DEFAULT_CANDIDATES_PER_TOP_K",
    "DIRECTIONS",
    "AttFind",
    "AttFindResult",
    "Attribute",
    "ClassAttributes",
    "EditContext",
    "Effects",
    "TemperedClassifier",
    "agreement",
    "edit_styles",
    "fast_effects",
    "first_order_effects",
    "reference_effects",
    "screen_candidates",
    "select_attributes",
    "select_class",
    "style_bounds",
    "unstable_images",
]
