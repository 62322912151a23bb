"""Explanations people look at: attribute views, coordinate sweeps, per-image counterfactuals.

::

    from stylex.explain import Explainer
    ex = Explainer(run)                          # reads RUN/attfind (AttFind's result)
    view = ex.attribute_view("sneaker", 0)       # class's top attribute on the images it moves most
    frames = ex.sweep(ex.encode(x[:1]), view.attribute)   # [T, C, R, R], coordinate min → max
    [e] = ex.explain(x[:1], top_k=5)             # this image's own top attributes, counterfactuals

Conventions (those of AttFind, :mod:`stylex.attfind.effects`):

* The *original* of a counterfactual is the reconstruction ``G(E(x))`` (constant noise), not the
  real photo, so a probability change measures the style edit alone.
* An edit moves coordinate ``i`` toward its target (the min or the max of that coordinate over
  AttFind's images): ``s_i ← s_i + shift·(target − s_i)``. ``shift_size`` (the attribute
  strength) defaults to the one AttFind used.
* Probabilities are ``softmax(classifier(image.clamp(-1, 1)))``.

Per-image explanation (:meth:`Explainer.explain`): the image is encoded; for every candidate
``(coordinate, direction)`` — the attributes AttFind selected for *any* class (default), or
every coordinate (``candidates="all"``) — the image's own effect ``Δ = p_t(edited) − p_t(G(E(x)))``
toward a target class ``t`` is computed (``t`` = the most probable class other than the predicted
one unless given; for two classes: the other class). Candidates are ranked by that Δ (one
direction per coordinate). The *independent* counterfactuals apply each of the top ``k`` alone;
the *subset* counterfactual applies them cumulatively (1, 1+2, …) and stops at the first step
where the predicted class changes; ``subset_size`` says how many were needed (None: no flip).

Layout: :mod:`~stylex.explain.explainer` (:class:`Explainer`), :mod:`~stylex.explain.results`
(the typed outputs :class:`AttributeView`, :class:`Counterfactual`, :class:`ImageExplanation`),
:mod:`~stylex.explain.ranking` (the per-image ranking), :mod:`~stylex.explain.files` (image
files in), :mod:`~stylex.explain.viz` (PIL drawing, shared with the report and the viewer) and
:mod:`~stylex.explain.cli` (``stylex explain``).
"""

from stylex.explain.explainer import Explainer
from stylex.explain.files import read_images
from stylex.explain.ranking import CANDIDATES
from stylex.explain.results import AttributeView, Counterfactual, ImageExplanation, first_flip
from stylex.explain.viz import (
    FLIP_COLOUR,
    Tile,
    attribute_label,
    captioned,
    display_scale,
    explanation_panel,
    explanation_tiles,
    font,
    hstack,
    short,
)

__all__ = [
    "CANDIDATES",
    "FLIP_COLOUR",
    "AttributeView",
    "Counterfactual",
    "Explainer",
    "ImageExplanation",
    "Tile",
    "attribute_label",
    "captioned",
    "display_scale",
    "explanation_panel",
    "explanation_tiles",
    "first_flip",
    "font",
    "hstack",
    "read_images",
    "short",
]
