"""The checks of the fitness verdict (definitions: :mod:`stylex.metrics.fitness`) and the
causes their failures give."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from stylex.attfind.effects import DEFAULT_INCLUDE_RGB
from stylex.attfind.result import ATTRIBUTES_FORMAT
from stylex.errors import StylexError
from stylex.metrics.fitness.ground_truth import (
    joint_changes_text,
    main_changes_text,
)
from stylex.metrics.fitness.verdict import (
    FAILED,
    NOT_RUN,
    PASSED,
    Check,
    FitnessThresholds,
)
from stylex.metrics.probe_training import factor_excess
from stylex.training.recipes import DEFAULT_RECIPE, RECIPES
from stylex.utils.fs import read_versioned_json


def trivial_references(images: torch.Tensor, predicted: torch.Tensor) -> dict[str, float]:
    """Mean L1 to ``images [N, C, R, R]`` of the trivial reconstructions (module docstring):
    ``flat``, ``border``, ``dataset_mean``, ``class_mean`` (leave-one-out means; an image alone
    in its class uses the dataset mean)."""
    x = images.double()
    n = len(x)
    flat = x.flatten(2).median(dim=2).values[:, :, None, None]
    frame = torch.cat([x[:, :, 0], x[:, :, -1], x[:, :, 1:-1, 0], x[:, :, 1:-1, -1]], dim=2)
    border = frame.median(dim=2).values[:, :, None, None]
    total = x.sum(0, keepdim=True)
    loo = (total - x) / max(n - 1, 1)
    cls = loo.clone()
    for k in predicted.unique():
        m = predicted == k
        if int(m.sum()) > 1:
            cls[m] = (x[m].sum(0, keepdim=True) - x[m]) / (int(m.sum()) - 1)
    return {
        name: float((x - ref).abs().mean())
        for name, ref in (
            ("flat", flat),
            ("border", border),
            ("dataset_mean", loo),
            ("class_mean", cls),
        )
    }


def retrieval_scores(
    images: torch.Tensor, recon: torch.Tensor, predicted: torch.Tensor
) -> tuple[float, float]:
    """``(own_rank, top1)`` of ``recon`` against ``images`` (both ``[N, C, R, R]``), by mean L1:
    ``own_rank`` = mean over i of the share of the other images of ``x_i``'s predicted class
    (all other images if it is alone) that are farther from ``recon[i]`` than ``x_i`` is (ties
    count half): 1 when each reconstruction is nearest to its own image, about ½ for class
    templates or noise, whatever N. ``top1`` = share whose nearest image is their own."""
    d = torch.cdist(recon.flatten(1).double(), images.flatten(1).double(), p=1)
    n = len(images)
    own = d.diagonal()[:, None]
    others = ~torch.eye(n, dtype=torch.bool)
    same = (predicted[:, None] == predicted[None, :]) & others
    alone = same.sum(1) == 0
    same[alone] = others[alone]
    score = (d > own).double() + 0.5 * (d == own).double()
    own_rank = (score * same).sum(1) / same.sum(1)
    top1 = d.argmin(1) == torch.arange(n)
    return float(own_rank.mean()), float(top1.double().mean())


def different_class_donors(predicted: torch.Tensor) -> torch.Tensor:
    """For each image the next one (cyclically) with another predicted class; −1 if none."""
    n = len(predicted)
    donors = torch.full((n,), -1, dtype=torch.long)
    p = predicted.tolist()
    for i in range(n):
        for step in range(1, n):
            j = (i + step) % n
            if p[j] != p[i]:
                donors[i] = j
                break
    return donors


def concentration_check(run, w, c, donors, th: FitnessThresholds) -> Check:
    """``condition_concentration`` (module docstring)."""
    g = run.generator
    ok = (donors >= 0).to(w.device)
    space = g.style_space(include_rgb=DEFAULT_INCLUDE_RGB)  # the space AttFind searches
    s = space.flatten([s_.float() for s_ in g.styles(w, c)]).cpu()
    s_swap = space.flatten([s_.float() for s_ in g.styles(w[ok], c[donors.to(w.device)[ok]])])
    change = (s_swap.cpu() - s[ok.cpu()]).abs().mean(0) / (s.std(0) + 1e-8)
    k = max(10, math.ceil(0.01 * len(change)))
    total = float(change.sum())
    share = float(change.topk(min(k, len(change))).values.sum() / total) if total > 0 else 0.0
    usage = g.condition_usage() if hasattr(g, "condition_usage") else {}
    passed = share >= th.min_concentration
    return Check(
        share,
        k / len(change),
        passed,
        PASSED if passed else FAILED,
        required=False,
        detail=f"top-{k} of {len(change)} style coordinates carry {share:.0%} of the "
        "style change a condition swap makes",
        extra={"top_k": k, "num_coords": len(change), **usage},
    )


def attribute_check(
    run_dir: str | Path | None,
    th: FitnessThresholds,
    weights_mtime: float | None = None,
    sufficiency: tuple[dict, float | None] | None = None,
) -> Check:
    """``attributes`` (module docstring): from the measured flip rates ``sufficiency =
    ({"1": …, "10": …}, rate at k=0)`` when given (evaluate), else from
    ``RUN/attfind/attributes.json``'s effects."""
    if sufficiency is not None and sufficiency[0]:
        rates, k0 = sufficiency
        ks = sorted(int(k) for k, v in rates.items() if v is not None and int(k) <= 10)
        if ks and k0 is not None:
            gain = float(rates[str(ks[-1])]) - float(k0)
            ok = gain >= th.min_attribute_flip
            return Check(
                gain,
                0.0,
                ok,
                PASSED if ok else FAILED,
                detail=f"sufficiency top-{ks[-1]} minus the rate with no edit",
                extra={
                    "k": ks[-1],
                    "k0": float(k0),
                    "threshold": th.min_attribute_flip,
                    "measure": "flip rate",
                },
            )
    path = Path(run_dir) / "attfind" / "attributes.json" if run_dir is not None else None
    if path is None or not path.is_file():
        return Check(None, None, None, NOT_RUN, detail="AttFind has not run on this run")
    if weights_mtime is not None and path.stat().st_mtime < weights_mtime:
        return Check(
            None,
            None,
            None,
            NOT_RUN,
            detail="attfind/attributes.json is older than the weights: re-run AttFind",
        )
    try:
        classes = read_versioned_json(path, ATTRIBUTES_FORMAT)["classes"]
    except (OSError, ValueError, KeyError, TypeError, StylexError):
        return Check(None, None, None, NOT_RUN, detail=f"{path} is unreadable")
    per_class = {}
    for c in classes:
        attrs = c.get("attributes") or []
        top = attrs[0] if attrs else {}
        per_class[str(c.get("class"))] = {
            "effect": float(top.get("effect", 0.0)),
            "flipped": int(top.get("flipped", 0)),
        }
    if not per_class:
        return Check(None, None, None, NOT_RUN, detail=f"{path} lists no classes")
    effects = sorted(v["effect"] for v in per_class.values())
    median = (
        float(torch.tensor(effects).median())
        if len(effects) % 2
        else (0.5 * (effects[len(effects) // 2 - 1] + effects[len(effects) // 2]))
    )
    passed = median >= th.min_attribute_effect
    return Check(
        median,
        0.0,
        passed,
        PASSED if passed else FAILED,
        detail="median over classes of the top attribute's mean effect",
        extra={"per_class": per_class},
    )


def _excess_unit(real: dict) -> str:
    """What :func:`factor_excess` measured for a factor (its ``on_real`` entry): ``share`` of
    the above-chance accuracy, plain ``accuracy`` drop (no chance recorded), or factor ``std``."""
    if "accuracy" in real:
        return "share" if "chance" in real else "accuracy"
    return "std"


def factor_check(
    on_real: dict[str, dict] | None, on_recon: dict[str, dict] | None, th: FitnessThresholds
) -> Check:
    """``factors`` from factor-probe errors on real images and on reconstructions (the
    ``probe_errors`` dicts of :mod:`stylex.metrics.ground_truth`)."""
    if not on_real or not on_recon:
        return Check(
            None,
            None,
            None,
            NOT_RUN,
            detail="no factor probe measured (data without known factors, or not evaluated yet)",
        )
    excess = factor_excess(on_real, on_recon)
    if not excess:
        return Check(None, None, None, NOT_RUN, detail="no comparable factor errors")
    worst = max(excess, key=lambda name: excess[name])
    passed = excess[worst] <= th.max_factor_excess
    return Check(
        excess[worst],
        0.0,
        passed,
        PASSED if passed else FAILED,
        detail=f"worst factor: {worst}",
        extra={"per_factor": excess, "worst": worst, "unit": _excess_unit(on_real[worst])},
    )


# the default recipe's class-sparse options, named in the advice (read from the preset so the
# advice follows it)
_DEFAULT = RECIPES[DEFAULT_RECIPE]
_SPARSE_RECIPE = (
    f"the default `{DEFAULT_RECIPE}` recipe's --cond-sparsity {_DEFAULT['cond_sparsity']:g} "
    f"--lambda-cf {_DEFAULT['lambda_cf']:g}"
)


def fitness_causes(checks: dict[str, Check], n: int) -> list[str]:
    """One cause per failed required check: what is wrong and what to do next."""
    out = []
    rec, ret = checks["reconstruction"], checks["retrieval"]
    train_longer = "train longer (`stylex train --out RUN --resume --steps N`, a larger N)"
    train_longer_ = "T" + train_longer[1:]
    if rec.passed is False:
        best = rec.extra.get("best_reference", "?")
        out.append(
            f"reconstructions are no better than a trivial image (L1 {rec.value:.3f} vs "
            f"{rec.reference:.3f} for the {best} reference; needs ≤ {rec.extra['ratio']}×): "
            f"the encoder has not learned to reconstruct the images. {train_longer_}"
            ", or raise the reconstruction terms (--lambda-l1, --perceptual effnet with "
            "--lambda-perc)"
        )
    if ret.passed is False:
        out.append(
            f"reconstructions are collapsed towards class templates: a reconstruction is closer "
            f"to its own image than to another of its class only {ret.value:.0%} of the time "
            f"(templates or noise ≈ 50%; {ret.extra['top1']:.0%} are nearest to their own image "
            f"among {n}): the encoder ignores what tells images of a class apart. "
            f"{train_longer_} with stronger reconstruction (--lambda-l1, --lambda-w,"
            " --perceptual effnet); lower --lambda-cls / --lambda-cf if the classifier terms "
            "dominate"
        )
    con, neu = checks["consistency"], checks["neutral_consistency"]
    balanced, per_class = con.extra.get("balanced"), con.extra.get("per_class") or {}
    bar = con.extra.get("min")
    if con.passed is False and per_class and bar is not None and con.value >= bar:
        # the overall share passes; the mean over the classes does not
        worst = min(per_class, key=lambda name: per_class[name]["consistency"])
        w = per_class[worst]
        out.append(
            f"reconstructions lose the class of the smaller classes: {worst!r} keeps its class "
            f"in {w['consistency']:.0%} of {w['images']} reconstructions (mean over the classes "
            f"{balanced:.2f}, overall {con.value:.2f}, carried by the larger classes): the "
            f"explanations of {worst!r} would start from images of another class. The generator "
            f"sees a small class rarely: retrain with --balance-classes (every class drawn "
            f"equally often), or {train_longer}"
        )
    elif con.passed is False:
        out.append(
            f"reconstructions lose the class (consistency {con.value:.2f}, chance "
            f"{con.reference:.2f}): the generator does not reproduce what the classifier sees; "
            f"{train_longer}, or raise --lambda-cls"
        )
    if neu.passed is False:
        out.append(
            f"class carried only by the condition: with the condition neutralised (the mean "
            f"condition) {neu.value:.0%} of reconstructions keep their class (chance "
            f"{neu.reference:.0%}) against {con.value:.0%} with it: the image content does not "
            "carry the class, so attributes would explain the condition, not the image. Raise "
            "the reconstruction terms (--lambda-l1, --lambda-w) and train longer; lower "
            "--lambda-cf / --cond-sparsity; compare with a --baseline run"
        )
    att = checks["attributes"]
    if att.passed is False:
        what = (
            "top-10 flip rate over no edit"
            if att.extra.get("measure") == "flip rate"
            else "median top effect"
        )
        out.append(
            f"attributes barely move the classifier ({what} {att.value:.4f} < "
            f"{att.extra.get('threshold')}): there is nothing to show. Fix the checks "
            f"above first; with a sound run, class-sparse conditioning ({_SPARSE_RECIPE}) makes "
            "the condition enter StyleSpace through few coordinates"
        )
    fac = checks["factors"]
    if fac.passed is False:
        worst = fac.extra["worst"]
        how = {
            "share": f"{fac.value:.0%} of the probe's accuracy above chance lost",
            "accuracy": f"probe accuracy {fac.value:.2f} below the real images'",
        }.get(fac.extra.get("unit", ""), f"probe error +{fac.value:.2f} std over the real images")
        out.append(
            f"reconstructions lose the generating factor '{worst}' ({how}): {train_longer}, "
            "or raise --lambda-l1 / --lambda-env (the object's size and outline) / --lambda-perc"
        )
    gt = checks.get("ground_truth")
    if gt is not None and gt.required and gt.passed is False:
        lf = ", ".join(gt.extra.get("label_factors") or [])
        out.append(
            f"the attributes credit the wrong factors: only {gt.value:.0%} of the top-5 "
            f"attributes (all classes) change mainly a factor of the label rule ({lf}), though "
            f"the classifier follows the rule on {gt.extra['classifier_agreement']:.0%} of the "
            f"held-out images; their main changes are {main_changes_text(gt.extra)}. They flip the "
            "classifier through changes that also move other factors (look at their "
            "before/after images), so the report would name the wrong cause. "
            f"{train_longer_}; metrics.json `ground_truth.attributes` lists each attribute's "
            "factor changes." + joint_changes_text(gt.extra)
        )
    return out


def fitness_warnings(
    checks: dict[str, Check], cond_sparsity: float = 0.0, lambda_cf: float | None = None
) -> list[str]:
    """One warning per failed advisory check, and one per label factor that no top-10
    attribute changes mainly (data with known factors). ``cond_sparsity`` / ``lambda_cf``:
    the run's values, named in the fix."""
    out = []
    swap = checks.get("swap_follow")
    if swap is not None and swap.passed is False and swap.value is not None:
        now = f" (now {lambda_cf:g})" if lambda_cf is not None else ""
        out.append(
            f"the condition hardly controls the class: only {swap.value:.0%} of the "
            "reconstructions given another class's condition take that class, so the class is "
            "carried by w as in a baseline run and the attributes need not be the classifier's "
            "(measured: runs like this credit the label factors less often); raise "
            f"--lambda-cf{now}"
        )
    conc = checks["condition_concentration"]
    if conc.passed is False:
        fix = (
            f"raise --cond-sparsity (now {cond_sparsity:g})"
            if cond_sparsity > 0
            else f"class-sparse conditioning ({_SPARSE_RECIPE}) concentrates it"
        )
        out.append(
            f"the condition's influence is spread over StyleSpace (top-{conc.extra['top_k']} "
            f"of {conc.extra['num_coords']} coordinates carry {conc.value:.0%}): "
            f"single-coordinate attributes may be weak; {fix}"
        )
    gt = checks.get("ground_truth")
    if gt is not None and gt.passed is False and not gt.required:
        agreement = gt.extra.get("classifier_agreement")
        why = (
            "the classifier's agreement with the label rule is unknown"
            if agreement is None
            else f"the classifier follows the label rule on only {agreement:.0%} of the "
            "held-out images, so it may use these factors"
        )
        out.append(
            f"only {gt.value:.0%} of the top-5 attributes change mainly a factor of the label "
            f"rule (main changes: {main_changes_text(gt.extra)}); {why}."
            + joint_changes_text(gt.extra)
        )
    if gt is not None and gt.extra.get("missing"):
        missing = gt.extra["missing"]
        joint = [f for f in missing if f in (gt.extra.get("joint_found") or [])]
        out.append(
            f"no top-10 attribute changes mainly the label factor(s) {', '.join(missing)}: "
            "the explanation leaves that part of the rule out"
            + (
                f", attribute by attribute (applied together, a class's top-k attributes do "
                f"change mainly {', '.join(joint)})"
                if joint
                else ""
            )
        )
    return out
