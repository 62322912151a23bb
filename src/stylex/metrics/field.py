"""Field metrics of a run: each explainer's counterfactuals, scored the community's way.

``metrics.json["counterfactual"]`` (written by :func:`stylex.metrics.evaluate`) holds, per
explainer, the numbers of :func:`score_counterfactuals` (definitions and sources in
:mod:`stylex.metrics.counterfactual`):

* ``attributes``: StylEx's global attributes. Image ``x`` with target ``t`` gets class ``t``'s
  AttFind attributes applied cumulatively in AttFind's order, stopping at the first ``k`` whose
  image is predicted ``t`` (at most ``max_k``); ``attributes_needed`` is that ``k``.
* ``per_image``: StylEx's per-image explanation (:meth:`stylex.explain.Explainer.explain` with
  ``top_k = max_k`` toward ``t``): its subset counterfactual and ``subset_size``.
* ``baselines.gradient``: the gradient baseline (:mod:`stylex.metrics.gradient_baseline`) in
  the same generator (``stylex evaluate --compare``).
* the ``--baseline`` run's attributes: ``metrics.json["baseline"]["counterfactual"]``.

Images: the first ``num_images`` (default 64) of evaluate's held-out images. Per image the
source ``s`` is the class the classifier predicts on the real image and the target ``t`` its
runner-up (for two classes: the other class), the same for every explainer and run. The
*original* of a counterfactual is the run's reconstruction ``G(E(x))`` (constant noise), as in
AttFind. A reconstruction already predicted ``t`` needs no counterfactual: ``already_target``
is that share, and every other number is over the remaining ``num_images`` images (of
``num_images_total``), except the split FD, which compares all N real images with all N
counterfactuals (a reconstruction already of class ``t`` standing for its own).
COUT uses the correctly classified images (``s`` = the label); minimality the flipped ones.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from stylex.metrics.counterfactual import (
    SPARSITY_TOL,
    cout,
    flip_rate,
    mean,
    minimality,
    proximity_l1,
    proximity_perceptual,
    split_fd,
    style_sparsity,
)
from stylex.metrics.field_explainers import (
    Counterfactuals,
    attribute_counterfactuals,
    gradient_counterfactuals_of_run,
    per_image_counterfactuals,
    source_target,
)
from stylex.metrics.gradient_baseline import DEFAULT_MAX_STEPS, DEFAULT_STEP
from stylex.metrics.ground_truth import DEFAULT_CHANGE_THRESHOLD, factor_changes
from stylex.metrics.sufficiency import encode_styles_all
from stylex.models.stylespace import class_probs, synthesize_batched

DEFAULT_CF_IMAGES = 64
FIELD_NOTE = (
    "split FD: Fréchet distance in EfficientNet-Lite0 feature space (not Inception), real "
    "images of one half vs counterfactuals of the other, at N/2 per set; read it against "
    "split_fd_floor (the two real halves)"
)


# ------------------------------------------------------------------------------ scoring
@torch.no_grad()
def score_counterfactuals(
    cf: Counterfactuals,
    classifier,
    originals: torch.Tensor,
    orig_styles: torch.Tensor,
    style_scale: torch.Tensor,
    real_features: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    correct: torch.Tensor,
    *,
    probe=None,
    label_factors=(),
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    perceptual: bool = True,
    batch: int = 64,
    device=None,
    seed: int = 0,
) -> dict[str, Any]:
    """Every field metric of one explainer's counterfactuals (all tensors over the same N
    images; ``originals`` the reconstructions, ``orig_styles [N, S]`` their flat styles,
    ``style_scale [S]`` the coordinates' spread, ``correct [N]`` bool: real image predicted as
    its label). Images whose reconstruction is already the target are left out of all but
    ``already_target`` and the split FD (module docstring). Returns the entry of
    ``metrics.json["counterfactual"]``."""
    from stylex.perceptual import embed

    t0 = time.perf_counter()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    orig_p = torch.cat(
        [
            class_probs(classifier, originals[a : a + batch].to(dev)).cpu()
            for a in range(0, len(originals), batch)
        ]
    )
    need = orig_p.argmax(1) != target  # images whose reconstruction is not already the target
    rows = need.nonzero().flatten()
    x, x_cf, t = originals[rows], cf.images[rows], target[rows]
    flipped = cf.probs[rows].argmax(1) == t
    needed = cf.needed[rows][flipped] if cf.needed is not None else torch.zeros(0)
    ok = (correct[rows]).nonzero().flatten()
    c = (
        cout(classifier, x[ok].to(dev), x_cf[ok].to(dev), source[rows][ok], t[ok], batch=batch * 4)
        if ok.numel()
        else torch.zeros(0)
    )
    out: dict[str, Any] = {
        "flip_rate": flip_rate(cf.probs[rows], t),
        "already_target": 1.0 - float(need.double().mean()),
        "attributes_needed": mean(needed) if cf.needed is not None else None,
        "cout": mean(c),
        "cout_images": int(ok.numel()),
        "proximity_l1": mean(proximity_l1(x, x_cf)),
        "proximity_perceptual": (
            mean(proximity_perceptual(x, x_cf, batch, dev)) if perceptual else None
        ),
        "style_coords_changed": mean(
            style_sparsity(orig_styles[rows], cf.styles[rows], style_scale).double()
        ),
        **split_fd(real_features, embed(cf.images, batch=batch, device=dev), seed=seed),
        "num_images": int(len(rows)),
        "num_images_total": int(len(target)),
    }
    if probe is not None and label_factors:
        f = flipped.nonzero().flatten()
        if f.numel():
            before = probe.predict(x[f].to(dev))
            after = probe.predict(x_cf[f].to(dev))
            ch = factor_changes(probe, before, after)
        else:
            ch = {}
        out["minimality"] = {
            **minimality(ch, label_factors, change_threshold),
            "threshold": change_threshold,
        }
    out["seconds"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------ run level
@torch.no_grad()
def _originals(run, images, batch):
    styles = encode_styles_all(run, images, batch)
    recon = synthesize_batched(run.generator, styles, batch)
    full = run.generator.style_space(include_rgb=True).flatten(styles)
    return styles, recon.cpu(), full.cpu()


def counterfactual_metrics(
    run,
    attfind,
    images: torch.Tensor,
    labels: torch.Tensor,
    real_features: torch.Tensor,
    *,
    baseline=None,
    baseline_attfind=None,
    compare: bool = False,
    probe=None,
    label_factors=(),
    max_k: int = 10,
    gradient_space: str = "w",
    gradient_step: float = DEFAULT_STEP,
    gradient_max_steps: int = DEFAULT_MAX_STEPS,
    perceptual: bool = True,
    batch: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Field metrics of ``run`` (and of ``baseline``'s attributes) on ``images [N, C, R, R]``
    in [-1, 1] with ``labels [N]`` and their ``real_features [N, D]`` (:func:`embed`).

    Returns ``(run's "counterfactual" entry, baseline's or None)`` (module docstring);
    ``compare`` adds the gradient baseline.
    """
    t_start = time.perf_counter()
    dev = run.device
    real_p = torch.cat(
        [
            class_probs(run.classifier, images[a : a + batch].to(dev)).cpu()
            for a in range(0, len(images), batch)
        ]
    )
    source, target = source_target(real_p)
    correct = source == labels.cpu()
    common = dict(
        real_features=real_features,
        source=source,
        target=target,
        correct=correct,
        probe=probe,
        label_factors=list(label_factors),
        perceptual=perceptual,
        batch=batch,
        device=dev,
        seed=seed,
    )
    methods: list[tuple[str, Any]] = [
        (
            "attributes",
            lambda st: attribute_counterfactuals(run, attfind, st, target.to(dev), max_k, batch),
        ),
        (
            "per_image",
            lambda st: per_image_counterfactuals(run, attfind, images, target, max_k, batch),
        ),
    ]
    if compare:
        methods.append(
            (
                "gradient",
                lambda st: gradient_counterfactuals_of_run(
                    run,
                    images,
                    target,
                    batch=batch,
                    space=gradient_space,
                    step=gradient_step,
                    max_steps=gradient_max_steps,
                ),
            )
        )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(methods) + (baseline is not None),
            desc="counterfactual metrics",
            unit="explainer",
        )
    styles, recon, flat = _originals(run, images, batch)
    scale = flat.std(0) if len(flat) > 1 else torch.ones(flat.shape[1])
    own: dict[str, Any] = {"baselines": {}}
    for name, make in methods:
        t0 = time.perf_counter()
        cf = make(styles)
        entry = score_counterfactuals(cf, run.classifier, recon, flat, scale, **common)
        entry["seconds"] = time.perf_counter() - t0
        if cf.info:
            entry["settings"] = cf.info
        (own["baselines"] if name == "gradient" else own)[name] = entry
        if bar is not None:
            bar.update(1)
    base = None
    if baseline is not None and baseline_attfind is not None:
        t0 = time.perf_counter()
        b_styles, b_recon, b_flat = _originals(baseline, images, batch)
        b_scale = b_flat.std(0) if len(b_flat) > 1 else torch.ones(b_flat.shape[1])
        cf = attribute_counterfactuals(
            baseline, baseline_attfind, b_styles, target.to(dev), max_k, batch
        )
        entry = score_counterfactuals(cf, baseline.classifier, b_recon, b_flat, b_scale, **common)
        entry["seconds"] = time.perf_counter() - t0
        base = {"attributes": entry}
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    own["settings"] = {
        "num_images": int(len(images)),
        "max_k": max_k,
        "cout_steps": 50,
        "sparsity_tol": SPARSITY_TOL,
        "source": "classifier's class on the real image",
        "target": "runner-up class on the real image",
        "original": "the run's reconstruction G(E(x))",
    }
    own["note"] = FIELD_NOTE
    own["seconds"] = time.perf_counter() - t_start
    return own, base


def run_field_metrics(
    result: dict[str, Any],
    run,
    attfind,
    dataset,
    images: torch.Tensor,
    real_features: torch.Tensor,
    probe=None,
    *,
    baseline=None,
    baseline_attfind=None,
    num_images: int = DEFAULT_CF_IMAGES,
    alignment_k: int = 10,
    **kw,
) -> dict[str, Any]:
    """Add the field metrics to ``result`` (evaluate's ``metrics.json`` content): the run's
    under ``result["counterfactual"]`` (with ``alignment`` for every ``RUN/attfind-<name>/``,
    :mod:`stylex.metrics.alignment`), the baseline run's under
    ``result["baseline"]["counterfactual"]``. Uses the first ``num_images`` of ``images``
    (``dataset``'s float images, with its labels and factors)."""
    from stylex.metrics.alignment import classifier_alignment, load_other, other_attfind_dirs

    n = max(2, min(int(num_images), len(images)))
    own, base = counterfactual_metrics(
        run,
        attfind,
        images[:n],
        dataset.labels[:n],
        real_features[:n],
        baseline=baseline,
        baseline_attfind=baseline_attfind,
        probe=probe,
        label_factors=list(getattr(dataset, "label_factors", ()) or ()) if probe else (),
        **kw,
    )
    others = other_attfind_dirs(run.path) if getattr(run, "path", None) else []
    if others:
        t0 = time.perf_counter()
        styles = encode_styles_all(run, images[:n], kw.get("batch", 64))
        own["alignment"] = {}
        for name, folder in others:
            other, clf = load_other(folder, device=run.device)
            own["alignment"][name] = {
                "folder": str(folder),
                **classifier_alignment(
                    run, attfind, other, clf, styles, k=alignment_k, batch=kw.get("batch", 64)
                ),
            }
        own["seconds_alignment"] = time.perf_counter() - t0
    result["counterfactual"] = own
    if base is not None and isinstance(result.get("baseline"), dict):
        result["baseline"]["counterfactual"] = base
    return result


__all__ = [
    "DEFAULT_CF_IMAGES",
    "Counterfactuals",
    "attribute_counterfactuals",
    "counterfactual_metrics",
    "gradient_counterfactuals_of_run",
    "per_image_counterfactuals",
    "run_field_metrics",
    "score_counterfactuals",
    "source_target",
]
