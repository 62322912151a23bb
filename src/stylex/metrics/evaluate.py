"""``evaluate(run, baseline=None) -> dict``: every faithfulness metric, written to
``RUN/metrics.json``.

Images: the first ``num_images`` images of the run's held-out split (``run.dataset("val")``)
that AttFind did *not* analyse (by image id; with a baseline, neither run's AttFind), topped up
with AttFind's own images only when the split has too few others (``images.attfind_overlap``
counts them). With a baseline on the same data both runs are measured on the same images.

``metrics.json`` (format 1; schema, typed reader and the metric descriptions:
:mod:`stylex.metrics.result`), per run:

=========================  ==================================================================
``num_images``             held-out images used (N)
``consistency``            share of reconstructions with the real image's predicted class
``prob_diff``, ``prob_tv``  mean ``|p_ŷ(x) − p_ŷ(x')|`` (ŷ = class predicted on x), mean TV
``sufficiency``            ``{"1": …, "10": …}`` flip rate of the top-k attributes, mean over
                           classes; ``sufficiency_per_class``, ``sufficiency_details``;
                           ``sufficiency_k0``: the rate with no edit (recon. inconsistency);
                           ``sufficiency_display``: the same with each attribute at its
                           display strength (the strength the report shows it at)
``reconstruction_l1``      mean ``|x − x'|`` in [-1, 1] units
``perceptual``             mean LPIPS-like EfficientNet-Lite0 distance (not LPIPS)
``fd_samples``             FD real vs random samples — EfficientNet-Lite0 features, *not
``fd_reconstructions``     Inception FID* (``fd_note``); ``fd_real_reference``: real vs
                           N training images, the floor at this N
``ground_truth``           only for data with factors: ``precision_top5``, ``recall_top10``,
                           per-attribute factor changes, the same for each class's
                           top-k edits together (``joint_*``), probe quality
``fitness``                the verdict "can this run explain this classifier?":
                           ``{"fit", "causes", "warnings", "checks": {NAME: {"value",
                           "reference", "passed", "status", …}}}``, on the same images and
                           reconstructions, with this run's AttFind and (where the data has
                           factors) the probe's errors above; also written to
                           ``RUN/fitness.json``. Definitions: :mod:`stylex.metrics.fitness`
``counterfactual``         the field's metrics per explainer (flip rate, COUT, proximity,
                           split FD, minimality; gradient baseline with ``compare``):
                           :mod:`stylex.metrics.field`
=========================  ==================================================================

plus ``run``, ``class_names``, ``images``, ``attfind`` (its settings), ``definitions`` and
``seconds``. With a baseline: ``baseline`` (the same keys for the baseline run) and
``difference`` (run − baseline for every number above). Undefined values are ``null``.
Definitions: :mod:`~stylex.metrics.consistency`, :mod:`~stylex.metrics.sufficiency`,
:mod:`~stylex.metrics.realism`, :mod:`~stylex.metrics.ground_truth`.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch

from stylex.attfind.visibility import stored_visibility
from stylex.errors import RunError, StylexError
from stylex.metrics.consistency import classifier_consistency
from stylex.metrics.fitness import Fitness, compute_fitness, save_fitness
from stylex.metrics.ground_truth import (
    DEFAULT_CHANGE_THRESHOLD,
    DEFAULT_MIN_CHANGE,
    DEFAULT_PROBE_SEED,
    load_or_train_probe,
    run_ground_truth,
)
from stylex.metrics.realism import FD_NOTE, random_samples, realism_metrics
from stylex.metrics.result import (
    DEFINITIONS,
    METRICS_FILE,
    METRICS_FORMAT,
    MetricsResult,
    clean_json,
    difference,
)
from stylex.metrics.sufficiency import encode_styles_all, image_batch, run_sufficiency
from stylex.metrics.table import format_table
from stylex.perceptual import embed


# ------------------------------------------------------------------------------------ helpers
def select_images(dataset, num_images: int, exclude_ids=()) -> tuple[torch.Tensor, int]:
    """Indices ``[n]`` of the first ``num_images`` images of ``dataset`` whose id is not in
    ``exclude_ids``, topped up (in order) with excluded ones if too few; and how many excluded
    images were used."""
    exclude = set(exclude_ids)
    n = min(int(num_images), len(dataset))
    fresh = [i for i, s in enumerate(dataset.ids) if s not in exclude]
    used = [i for i, s in enumerate(dataset.ids) if s in exclude]
    idx = fresh[:n]
    overlap = n - len(idx)
    idx += used[:overlap]
    return torch.as_tensor(sorted(idx), dtype=torch.int64), overlap


def load_attfind(
    run, run_attfind: bool = False, num_images: int = 256, top_k: int = 10, progress: bool = True
):
    """``RUN/attfind``'s result; with ``run_attfind`` it is computed (and saved) when missing."""
    from stylex.attfind import AttFind, AttFindResult

    path = Path(run.path) / "attfind"
    if not (path / "attributes.json").is_file():
        if not run_attfind:
            raise RunError(
                f"{run.path} has no AttFind result ({path / 'attributes.json'} missing): run "
                f"`stylex attfind --run {run.path}` first, or pass --run-attfind"
            )
        AttFind(run, progress=progress).attribute(num_images=num_images, top_k=top_k).save(path)
    return AttFindResult.load(path)


# ------------------------------------------------------------------------------------ one run
@torch.no_grad()
def _evaluate_one(
    run,
    attfind,
    data,
    images: torch.Tensor,
    shared: dict[str, Any],
    *,
    batch: int,
    max_k: int,
    seed: int,
    perceptual: bool,
    probe,
    probe_info,
    gt_images: int | None,
    min_change: float,
    change_threshold: float,
    progress: bool,
) -> dict[str, Any]:
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    out: dict[str, Any] = {"run": str(run.path), "baseline_run": bool(run.baseline)}
    cons, recon, real_p = classifier_consistency(run, images, batch, perceptual=perceptual)
    out.update(cons)
    t["consistency"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    predicted = real_p.argmax(1)
    styles = encode_styles_all(run, images, batch)
    suff = run_sufficiency(
        run, attfind, images, predicted, max_k=max_k, batch=batch, styles=styles, progress=progress
    )
    out.update(suff.to_json())
    if any(stored_visibility(a) for c in attfind.classes for a in c.attributes):
        shown = run_sufficiency(
            run, attfind, images, predicted, max_k=max_k, batch=batch, styles=styles,
            display=True,
        )  # fmt: skip
        out["sufficiency_display"] = shown.to_json()["sufficiency"]
    t["sufficiency"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    samples = random_samples(run, images, seed=seed, batch=batch)
    out.update(
        realism_metrics(
            images,
            samples=samples,
            recon=recon,
            batch=batch,
            device=run.device,
            real_features=shared["real_features"],
        )
    )
    out["fd_real_reference"] = shared["fd_real_reference"]
    out["fd_note"] = FD_NOTE
    t["realism"] = time.perf_counter() - t0

    if data.factors is not None and probe is not None:
        t0 = time.perf_counter()
        out["ground_truth"] = run_ground_truth(
            run,
            attfind,
            data,
            predicted,
            probe,
            probe_info,
            styles,
            recon=recon,
            max_k=max_k,
            batch=batch,
            max_images=gt_images,
            min_change=min_change,
            change_threshold=change_threshold,
            progress=progress,
        )
        t["ground_truth"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    probe_errs = (out.get("ground_truth") or {}).get("probe") or {}
    out["fitness"] = compute_fitness(
        run,
        images,
        batch=batch,
        recon=recon,
        real_probs=real_p,
        factor_errors=(probe_errs.get("on_real"), probe_errs.get("on_reconstructions")),
        sufficiency=(out.get("sufficiency") or {}, out.get("sufficiency_k0")),
        ground_truth=out.get("ground_truth"),
    ).to_json()
    t["fitness"] = time.perf_counter() - t0
    out["attfind"] = {
        "num_images": attfind.effects.num_images,
        "shift_size": attfind.effects.shift_size,
        "include_rgb": attfind.effects.include_rgb,
        "top_k": {c.name: len(c.attributes) for c in attfind.classes},
    }
    out["seconds"] = t
    return out


def _shared_real(run, data, images, batch, train_data) -> dict[str, Any]:
    """Features of the real images and the real-vs-real reference FD (shared across runs)."""
    real_features = embed(images, batch=batch, device=run.device)
    n = len(images)
    ref = train_data.sample(n, seed=1) if train_data is not None and len(train_data) else None
    fd_ref = float("nan")
    if ref is not None and len(ref) >= 2:
        from stylex.metrics.realism import fd

        fd_ref = fd(real_features, embed(ref.float_images(), batch=batch, device=run.device))
    return {"real_features": real_features, "fd_real_reference": fd_ref}


# ------------------------------------------------------------------------------------ API
def evaluate(
    run,
    baseline=None,
    *,
    num_images: int = 256,
    batch: int | None = None,
    max_k: int = 10,
    seed: int = 0,
    device: str | torch.device | None = None,
    perceptual: bool = True,
    run_attfind: bool = False,
    attfind_images: int = 256,
    attfind_top_k: int = 10,
    probe_seed: int = DEFAULT_PROBE_SEED,
    probe_steps: int = 600,
    probe_images: int = 4096,
    gt_images: int | None = 64,
    min_change: float = DEFAULT_MIN_CHANGE,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    progress: bool = True,
    write: bool = True,
    out: str | Path | None = None,
    counterfactual: bool = True,
    compare: bool = False,
    cf_images: int = 64,
    cf_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compute every metric for ``run`` (and ``baseline``) and write ``RUN/metrics.json``.

    Args:
        run, baseline: :class:`~stylex.run.Run` objects or run folders. Each needs its own
            ``attfind/`` (``run_attfind=True`` computes a missing one with ``attfind_images``
            images and ``attfind_top_k`` attributes per class).
        num_images: held-out images (module docstring); all sets in FD have this many.
        batch: images per forward pass (None: 64 on CPU, from free memory on a GPU).
        max_k: sufficiency is reported for k = 1 … max_k.
        seed: random samples' z and condition shuffle.
        perceptual: compute the perceptual distance (needs EfficientNet-Lite0; FD always does).
        probe_seed, probe_steps, probe_images: the ground-truth factor probe's training.
        gt_images: at most this many images per class for the factor changes (None: all).
        min_change, change_threshold: see :mod:`stylex.metrics.ground_truth`.
        write: write ``metrics.json`` (to ``out``, default ``RUN/metrics.json``), atomically.
        counterfactual: the field metrics on the first ``cf_images`` images
            (:mod:`stylex.metrics.field`); ``compare`` adds the gradient baseline;
            ``cf_options``: more keywords of :func:`~stylex.metrics.field.counterfactual_metrics`.

    Returns:
        the ``metrics.json`` content (NaN as None).
    """
    from stylex.run import Run

    t_start = time.perf_counter()
    if not isinstance(run, Run):
        run = Run.load(run, device=device, discriminator=False)
    if baseline is not None and not isinstance(baseline, Run):
        baseline = Run.load(baseline, device=device, discriminator=False)
    runs = [run] + ([baseline] if baseline is not None else [])
    if batch is None:
        batch = image_batch(run.generator)
    attfinds = [load_attfind(r, run_attfind, attfind_images, attfind_top_k, progress) for r in runs]

    data = run.dataset("val")
    if len(data) < 2:
        raise StylexError(f"{run.path}: the held-out split has {len(data)} images; need ≥ 2")
    same_data = True
    if baseline is not None:
        bdata = baseline.dataset("val")
        same_data = list(bdata.ids) == list(data.ids)
        if not same_data:
            warnings.warn(
                f"{baseline.path} was trained on other data than {run.path} "
                f"({baseline.config.data.spec!r} vs {run.config.data.spec!r}): "
                "each is measured on its own held-out images",
                stacklevel=2,
            )
    exclude = {i for a in attfinds for i in a.effects.image_ids}
    idx, overlap = select_images(data, num_images, exclude)
    sub = data.subset(idx)
    images = sub.float_images()
    if len(images) < num_images:
        warnings.warn(
            f"only {len(images)} held-out images available (asked {num_images})", stacklevel=2
        )
    train_data = run.dataset("train")
    shared = _shared_real(run, sub, images, batch, train_data)

    def probe_for(r, d, train_source):
        return load_or_train_probe(
            d,
            r.path,
            train_source=train_source,
            seed=probe_seed,
            steps=probe_steps,
            num_train=probe_images,
            device=r.device,
            progress=progress,
        )

    probe = probe_info = None
    if sub.factors is not None:
        probe, probe_info = probe_for(run, data, train_data)

    kw: dict[str, Any] = dict(
        batch=batch,
        max_k=max_k,
        seed=seed,
        perceptual=perceptual,
        gt_images=gt_images,
        min_change=min_change,
        change_threshold=change_threshold,
        progress=progress,
    )
    result = _evaluate_one(
        run, attfinds[0], sub, images, shared, probe=probe, probe_info=probe_info, **kw
    )
    header = {
        "format_version": METRICS_FORMAT,
        "class_names": list(run.class_names),
        "num_images": len(images),
        "images": {
            "split": "val",
            "num_images": len(images),
            "attfind_overlap": overlap,
            "first_ids": list(sub.ids[:5]),
        },
    }
    result = {**header, **result}
    if baseline is not None:
        if same_data:
            b_sub, b_images, b_shared, b_overlap = sub, images, shared, overlap
        else:
            bidx, b_overlap = select_images(bdata, num_images, attfinds[1].effects.image_ids)
            b_sub = bdata.subset(bidx)
            b_images = b_sub.float_images()
            b_shared = _shared_real(baseline, b_sub, b_images, batch, baseline.dataset("train"))
        b_probe, b_info = probe, probe_info
        if b_sub.factors is not None and (
            probe is None or b_sub.resolution != sub.resolution or b_sub.channels != sub.channels
        ):
            b_probe, b_info = probe_for(baseline, bdata, baseline.dataset("train"))
        b = _evaluate_one(
            baseline, attfinds[1], b_sub, b_images, b_shared, probe=b_probe, probe_info=b_info, **kw
        )
        b = {
            "num_images": len(b_images),
            "same_images": same_data,
            "images": {"attfind_overlap": b_overlap},
            **b,
        }
        result["baseline"] = b
        result["difference"] = difference(result, b)
    if counterfactual:
        from stylex.metrics.field import run_field_metrics

        run_field_metrics(
            result,
            run,
            attfinds[0],
            sub,
            images,
            shared["real_features"],
            probe,
            baseline=baseline if same_data else None,
            baseline_attfind=attfinds[1] if baseline is not None else None,
            num_images=cf_images,
            compare=compare,
            max_k=max_k,
            perceptual=perceptual,
            batch=batch,
            seed=seed,
            progress=progress,
            **(cf_options or {}),
        )
    result["definitions"] = DEFINITIONS
    result["seconds"]["total"] = time.perf_counter() - t_start
    result = clean_json(result)
    if write:
        MetricsResult(result).save(Path(out) if out else Path(run.path) / METRICS_FILE)
        save_fitness(run.path, Fitness.from_json(result["fitness"]))
    return result


__all__ = ["METRICS_FILE", "evaluate", "format_table", "load_attfind", "select_images"]
