"""``compute_fitness``: the verdict of a run on held-out images."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from stylex.metrics.fitness.checks import (
    attribute_check,
    concentration_check,
    different_class_donors,
    factor_check,
    fitness_causes,
    fitness_warnings,
    retrieval_scores,
    trivial_references,
)
from stylex.metrics.fitness.ground_truth import ground_truth_check
from stylex.metrics.fitness.verdict import (
    FAILED,
    NOT_APPLICABLE,
    PASSED,
    Check,
    Fitness,
    FitnessThresholds,
)
from stylex.models.condition import condition_swap

MIN_CLASS_IMAGES = 5  # a class with fewer held-out images has no per-class consistency


def class_consistency(
    pred: torch.Tensor, rec_pred: torch.Tensor, class_names: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Per predicted class with at least :data:`MIN_CLASS_IMAGES` images: the share of its
    reconstructions that keep the class, and its image count. On imbalanced data the overall
    share is carried by the large classes: 90 % of one class reproduced and none of the other
    10 % still gives 0.9."""
    out = {}
    for k in pred.unique().tolist():
        mask = pred == k
        if int(mask.sum()) < MIN_CLASS_IMAGES:
            continue
        name = class_names[k] if class_names and k < len(class_names) else str(k)
        out[name] = {
            "consistency": float((rec_pred[mask] == k).double().mean()),
            "images": int(mask.sum()),
        }
    return out


def _batched(fn, n: int, batch: int) -> list:
    return [fn(a, min(n, a + batch)) for a in range(0, n, batch)]


def _held_out(run, num_images: int) -> torch.Tensor:
    data = run.dataset("val")
    if len(data) < 2:
        data = run.dataset("all")
    return data.float_images(torch.arange(min(num_images, len(data))))


@torch.no_grad()
def compute_fitness(
    run,
    images: torch.Tensor | None = None,
    *,
    num_images: int = 128,
    batch: int = 64,
    thresholds: FitnessThresholds | None = None,
    recon: torch.Tensor | None = None,
    real_probs: torch.Tensor | None = None,
    factor_errors: tuple[dict | None, dict | None] | None = None,
    sufficiency: tuple[dict, float | None] | None = None,
    attfind_dir: str | Path | None = None,
    ground_truth: dict | None = None,
) -> Fitness:
    """The verdict for ``run`` (a :class:`~stylex.run.Run`, or anything with its
    ``reconstruct``, ``probs``, ``encode``, ``generator``, ``classifier``, ``baseline``, ``path``)
    on ``images [N, C, R, R]`` in [-1, 1] (default: the first ``num_images`` held-out images).

    ``recon`` / ``real_probs``: already computed reconstructions ``[N, C, R, R]`` and real
    probabilities ``[N, K]`` (evaluate passes its own). ``factor_errors``: ``(on_real,
    on_recon)`` factor-probe errors when already measured; ``sufficiency``: ``(flip rate per
    k, rate at k=0)`` when already measured; ``ground_truth``: the ``ground_truth`` entry of
    ``metrics.json`` (data with known factors). ``attfind_dir``: the run folder whose
    ``attfind/attributes.json`` is read (default ``run.path``)."""
    from stylex.metrics.consistency import probs_all, reconstruct_all

    t0 = time.perf_counter()
    th = thresholds or FitnessThresholds()
    if images is None:
        images = _held_out(run, num_images)
    images = images.float().cpu()
    n = len(images)
    if n < 2:
        raise ValueError(f"the fitness verdict needs at least 2 images, got {n}")
    real_p = probs_all(run, images, batch) if real_probs is None else real_probs.float().cpu()
    recon = reconstruct_all(run, images, batch) if recon is None else recon.float().cpu()
    pred = real_p.argmax(1)
    k = int(pred.unique().numel())  # classes present
    maj = float(pred.bincount().max()) / n
    checks: dict[str, Check] = {}

    refs = trivial_references(images, pred)
    best = min(refs, key=lambda name: refs[name])
    l1 = float((images.double() - recon.double()).abs().mean())
    ok = l1 <= th.recon_ratio * refs[best]
    checks["reconstruction"] = Check(
        l1,
        refs[best],
        ok,
        PASSED if ok else FAILED,
        detail=f"L1(x, x') vs the best trivial reconstruction ({best})",
        extra={"references": refs, "best_reference": best, "ratio": th.recon_ratio},
    )
    ret, top1 = retrieval_scores(images, recon, pred)
    ok = ret >= th.min_retrieval
    checks["retrieval"] = Check(
        ret,
        0.5,
        ok,
        PASSED if ok else FAILED,
        detail="how often a reconstruction is closer to its own image "
        "than to another image of its class",
        extra={"top1": top1, "top1_chance": 1 / n},
    )
    rec_pred = probs_all(run, recon, batch).argmax(1)
    cons = float((rec_pred == pred).double().mean())
    per_class = class_consistency(pred, rec_pred, getattr(run, "class_names", None))
    balanced = (
        sum(v["consistency"] for v in per_class.values()) / len(per_class) if per_class else cons
    )
    ok = cons >= th.min_consistency and balanced >= th.min_consistency
    checks["consistency"] = Check(
        cons,
        maj,
        ok,
        PASSED if ok else FAILED,
        detail="share of reconstructions with the real image's class (and its mean over the "
        "classes)",
        extra={"balanced": balanced, "per_class": per_class, "min": th.min_consistency},
    )

    conditioned = not getattr(run, "baseline", False) and run.generator.config.cond_dim > 0
    if conditioned:
        wc = _batched(lambda a, b: run.encode(images[a:b]), n, batch)
        w, c = torch.cat([p[0] for p in wc]), torch.cat([p[1] for p in wc])
        c_bar = c.mean(0, keepdim=True)

        def neutral(a, b):
            x = run.generator.generate(w[a:b], c_bar.expand(b - a, -1), noise_mode="const")
            return run.probs(x.clamp(-1, 1)).argmax(1).cpu()

        nc = float((torch.cat(_batched(neutral, n, batch)) == pred).double().mean())
        if maj < 1:
            kappa = (nc - maj) / (1 - maj)
            ok = kappa >= th.min_neutral_kappa
            checks["neutral_consistency"] = Check(
                nc,
                maj,
                ok,
                PASSED if ok else FAILED,
                detail="class share kept under the mean condition",
                extra={"kappa": kappa},
            )
        else:  # one predicted class: a constant reconstruction scores 1, nothing to tell
            checks["neutral_consistency"] = Check(
                nc, maj, None, NOT_APPLICABLE, detail="all images have the same predicted class"
            )
        donors = different_class_donors(pred)
        valid = int((donors >= 0).sum())
        if valid:
            parts = _batched(
                lambda a, b: (
                    condition_swap(run.generator, run.classifier, w[a:b], c, pred, donors[a:b]),
                    int((donors[a:b] >= 0).sum()),
                ),
                n,
                batch,
            )
            follow = sum(s * m for s, m in parts if s is not None) / valid
            ok = follow >= th.min_swap_follow
            checks["swap_follow"] = Check(
                follow,
                1 / max(k, 1),
                ok,
                PASSED if ok else FAILED,
                required=False,
                detail="share following another class's condition",
                extra={"threshold": th.min_swap_follow},
            )
            checks["condition_concentration"] = concentration_check(run, w, c, donors, th)
        else:
            na = Check(
                None,
                None,
                None,
                NOT_APPLICABLE,
                required=False,
                detail="all images have the same predicted class",
            )
            checks["swap_follow"], checks["condition_concentration"] = na, na
    else:
        for name in ("neutral_consistency", "swap_follow", "condition_concentration"):
            checks[name] = Check(
                None,
                None,
                None,
                NOT_APPLICABLE,
                required=name.startswith("n"),
                detail="baseline run: the generator has no condition",
            )

    run_dir = Path(attfind_dir) if attfind_dir is not None else getattr(run, "path", None)
    wpath = Path(run_dir) / "generator.safetensors" if run_dir is not None else None
    mtime = wpath.stat().st_mtime if wpath is not None and wpath.is_file() else None
    checks["attributes"] = attribute_check(run_dir, th, mtime, sufficiency)
    checks["attributes"].extra.setdefault("threshold", th.min_attribute_effect)
    checks["factors"] = factor_check(*(factor_errors or (None, None)), th)
    checks["ground_truth"] = ground_truth_check(ground_truth, th)

    causes = fitness_causes(checks, n)
    fit = not any(c.required and c.passed is False for c in checks.values())
    config = getattr(run, "config", None)  # a RunConfig (absent on test doubles)
    sparsity = float(config.train.cond_sparsity) if config is not None else 0.0
    lambda_cf = float(config.train.lambda_cf) if config is not None else None
    warnings = fitness_warnings(checks, sparsity, lambda_cf)
    return Fitness(fit, causes, checks, warnings, n, time.perf_counter() - t0, th)
