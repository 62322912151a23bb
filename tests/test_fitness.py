"""The fitness verdict: bad runs get "not fit" with the right cause, checks can pass, the verdict
round-trips through JSON and later commands warn about it."""

from __future__ import annotations

import io
import json
import os

import pytest
import torch

from stylex.metrics.fitness import (
    Fitness,
    FitnessThresholds,
    compute_fitness,
    fitness_notice,
    load_fitness,
    save_fitness,
    warn_if_unfit,
)
from stylex.metrics.fitness.checks import (
    different_class_donors,
    retrieval_scores,
    trivial_references,
)
from stylex.metrics.fitness.verdict import Check
from stylex.models.generator import StyleSpace

N = 64


class _RedMinusBlue(torch.nn.Module):
    """A deterministic 2-class classifier reading the image: logits ``±8·(mean(R − B) − t)``,
    ``t`` the median over the data (balanced classes). The tiny fixture's own classifier
    predicts one class for everything, which leaves nothing to check."""

    def __init__(self, images, class_names):
        super().__init__()
        self.t = float(self.feature(images).median())
        self.class_names = list(class_names)

    @staticmethod
    def feature(x):
        return (x[:, 0] - x[:, -1]).mean((1, 2))

    def forward(self, x):
        m = self.feature(x) - self.t
        return 8 * torch.stack([m, -m], 1)


def _load(path, proxy=True):
    from stylex.run import Run

    run = Run.load(path, device="cpu", discriminator=False)
    if proxy:
        run.classifier = _RedMinusBlue(_images(run, 128), run.class_names)
    return run


def _images(run, n=N):
    return run.dataset("all").float_images(torch.arange(n))


class _Stand_in:
    """Wraps a generator: ``generate`` replaced, everything else delegated."""

    def __init__(self, g, generate, styles=None, space=None):
        self._g, self.generate = g, generate
        if styles is not None:
            self.styles, self.style_space = styles, lambda include_rgb=False: space

    def __getattr__(self, name):
        return getattr(self._g, name)


# ------------------------------------------------------------------------------ the three bad runs
def test_under_trained_run_is_not_fit(tiny_run):
    run = _load(tiny_run)  # 4 training steps
    f = compute_fitness(run, _images(run))
    assert not f.fit
    assert "reconstruction" in f.failed
    rec = f.checks["reconstruction"]
    assert rec.value > 0.8 * rec.reference
    assert rec.extra["best_reference"] in rec.extra["references"]
    cause = next(c for c in f.causes if c.startswith("reconstructions are no better"))
    assert "--steps" in cause and "--resume" in cause and f"{rec.value:.3f}" in cause
    # the condition's concentration is measured over the StyleSpace AttFind searches (toRGB too)
    conc = f.checks["condition_concentration"]
    assert conc.extra["num_coords"] == run.generator.style_space(include_rgb=True).total
    assert conc.extra["num_coords"] > run.generator.style_space(include_rgb=False).total


def test_collapsed_encoder_class_templates_is_not_fit(tiny_run):
    run = _load(tiny_run)
    x = _images(run, 128)
    pred = run.probs(x).argmax(1)
    templates = torch.stack([x[pred == k].mean(0) for k in range(len(run.class_names))])
    # reconstructions are the class-mean image of the predicted class
    run.reconstruct = lambda images: templates[run.probs(images).argmax(1)]
    f = compute_fitness(run, x[:N])
    assert not f.fit
    assert {"reconstruction", "retrieval"} <= set(f.failed)
    assert 0.3 < f.checks["retrieval"].value < 0.7  # templates: about ½
    assert f.checks["consistency"].passed in (True, False)  # measured, whatever it is
    assert any("collapsed towards class templates" in c for c in f.causes)


def test_condition_only_run_is_not_fit(tiny_run):
    run = _load(tiny_run)
    x = _images(run, 128)
    p = run.probs(x)
    # the image the classifier is most sure of, per class: output depends on c only (E ignored)
    templates = torch.stack([x[p[:, k].argmax()] for k in range(p.shape[1])])
    run.generator = _Stand_in(
        run.generator, lambda w, c, noise_mode="const": templates[c.argmax(1).cpu()]
    )
    f = compute_fitness(run, x[:N])
    assert not f.fit
    assert f.checks["consistency"].passed is True  # c carries the class perfectly ...
    neutral = f.checks["neutral_consistency"]
    assert neutral.passed is False and neutral.value <= neutral.reference + 1e-9  # ... E nothing
    assert f.checks["swap_follow"].value == pytest.approx(1.0)
    assert f.checks["swap_follow"].passed is True
    assert not any("hardly controls the class" in w for w in f.warnings)
    assert any(c.startswith("class carried only by the condition") for c in f.causes)
    assert any("--lambda-cf" in c for c in f.causes)


# ------------------------------------------------------------------------------ positive controls
def test_perfect_reconstruction_passes_the_image_checks(tiny_run):
    run = _load(tiny_run)
    run.reconstruct = lambda images: images.clone()
    f = compute_fitness(run, _images(run))
    for name in ("reconstruction", "retrieval", "consistency"):
        assert f.checks[name].passed is True, name
    assert f.checks["reconstruction"].value == 0 and f.checks["retrieval"].value == 1
    assert not any(c.startswith("reconstructions") for c in f.causes)


def test_a_lost_small_class_fails_consistency_that_the_overall_share_passes(tiny_run):
    run = _load(tiny_run)
    x = run.dataset("all").float_images(torch.arange(256))
    y = run.classifier(x).argmax(1)
    big, small = x[y == 0][:58], x[y == 1][:6]
    assert len(big) == 58 and len(small) == 6
    images = torch.cat([big, small])  # 91 % / 9 %
    run.reconstruct = lambda im: im.clone()
    f = compute_fitness(run, images)
    con = f.checks["consistency"]
    assert con.passed is True and con.extra["balanced"] == 1.0
    assert con.extra["per_class"][run.class_names[1]]["images"] == 6
    # the small class's reconstructions all become the big class: 0.91 overall, 0.5 per class
    run.reconstruct = lambda im: torch.where(
        (run.classifier(im).argmax(1) == 1)[:, None, None, None], big[:1], im
    )
    f = compute_fitness(run, images)
    con = f.checks["consistency"]
    assert con.value == pytest.approx(58 / 64) and con.extra["balanced"] == pytest.approx(0.5)
    assert con.passed is False and not f.fit
    cause = next(c for c in f.causes if "smaller classes" in c)
    assert f"{run.class_names[1]!r} keeps its class in 0% of 6" in cause


def test_image_carried_class_passes_the_condition_check(tiny_run):
    run = _load(tiny_run)
    shape = _images(run, 2).shape[1:]
    dim = int(torch.tensor(shape).prod())
    # w is the image itself, and the generator returns it: c has no influence at all
    run.encoder = lambda images: images.flatten(1)
    space = StyleSpace([0], [dim + len(run.class_names)])
    run.generator = _Stand_in(
        run.generator,
        lambda w, c, noise_mode="const": w.view(-1, *shape),
        styles=lambda w, c: [torch.cat([w, c], 1)],
        space=space,
    )
    f = compute_fitness(run, _images(run))
    assert f.checks["neutral_consistency"].passed is True
    assert f.checks["neutral_consistency"].value == 1.0
    swap = f.checks["swap_follow"]
    assert swap.value == 0.0  # the condition controls nothing: an advisory failure, a warning
    assert swap.passed is False and not swap.required and swap.status == "failed"
    warning = next(w for w in f.warnings if "hardly controls the class" in w)
    assert "only 0% of the reconstructions" in warning and "--lambda-cf" in warning
    assert "swap_follow" in f.format() and "swap_follow" not in f.failed
    assert f.checks["reconstruction"].passed and f.checks["retrieval"].passed


def test_attribute_check_reads_attfind(tiny_run):
    run = _load(tiny_run)
    f = compute_fitness(run, _images(run, 16))
    att = f.checks["attributes"]
    assert att.status in ("passed", "failed")
    per_class = att.extra["per_class"]
    assert set(per_class) == set(run.class_names)
    effects = sorted(v["effect"] for v in per_class.values())
    assert att.value == pytest.approx(sum(effects) / 2)  # median of two classes
    # strong enough with a lenient threshold, too weak with a strict one
    x = _images(run, 16)
    lo = compute_fitness(run, x, thresholds=FitnessThresholds(min_attribute_effect=0))
    hi = compute_fitness(run, x, thresholds=FitnessThresholds(min_attribute_effect=2))
    assert lo.checks["attributes"].passed is True and hi.checks["attributes"].passed is False
    assert any("attributes barely move the classifier" in c for c in hi.causes)
    # measured flip rates (evaluate) take precedence over AttFind's effects
    suff = ({"1": 0.1, "10": 0.6}, 0.05)
    f = compute_fitness(run, x, sufficiency=suff)
    assert f.checks["attributes"].value == pytest.approx(0.55) and f.checks["attributes"].passed
    f = compute_fitness(run, x, sufficiency=({"1": 0.06, "10": 0.1}, 0.05))
    assert f.checks["attributes"].passed is False
    assert any("top-10 flip rate over no edit" in c for c in f.causes)
    # AttFind older than the weights: not run (not failed)
    (tiny_run / "generator.safetensors").touch()
    old = tiny_run / "attfind" / "attributes.json"
    os.utime(old, (old.stat().st_mtime - 100, old.stat().st_mtime - 100))
    assert compute_fitness(run, _images(run, 16)).checks["attributes"].status == "not run"


def test_factor_check():
    from stylex.metrics.fitness.checks import factor_check

    th = FitnessThresholds()
    real = {"hue": {"abs_error": 0.02, "normalised": 0.1}, "shape": {"accuracy": 0.99}}
    good = {"hue": {"abs_error": 0.04, "normalised": 0.3}, "shape": {"accuracy": 0.95}}
    bad = {"hue": {"abs_error": 0.2, "normalised": 0.95}, "shape": {"accuracy": 0.97}}
    assert factor_check(real, good, th).passed is True
    c = factor_check(real, bad, th)
    assert c.passed is False and c.extra["worst"] == "hue" and c.value == pytest.approx(0.85)
    assert factor_check(None, None, th).status == "not run"


def test_factor_check_reads_a_categorical_factor_against_chance():
    """Shape read at 0.78 on real images and 0.39 on reconstructions (chance 0.33): an accuracy
    drop of only 0.38, but 86% of what the probe reads above chance is lost: not reproduced."""
    from stylex.metrics.fitness.checks import factor_check, fitness_causes
    from stylex.metrics.probe_training import factor_excess, unreproduced_factors

    th = FitnessThresholds()
    real = {"shape": {"accuracy": 0.78, "chance": 0.33}, "hue": {"normalised": 0.03}}
    recon = {"shape": {"accuracy": 0.39}, "hue": {"normalised": 0.04}}
    ex = factor_excess(real, recon)
    assert ex["shape"] == pytest.approx(0.39 / 0.45) and ex["hue"] == pytest.approx(0.01)
    c = factor_check(real, recon, th)
    assert c.passed is False and c.extra["worst"] == "shape"
    from stylex.metrics.fitness.verdict import Check

    ok = Check(1.0, 0.0, True, "passed")
    names = ("reconstruction", "retrieval", "consistency", "neutral_consistency", "attributes")
    ok_checks = dict.fromkeys(names, ok)
    causes = fitness_causes({**ok_checks, "factors": c}, 64)
    assert len(causes) == 1 and "87% of the probe's accuracy above chance lost" in causes[0]
    assert unreproduced_factors(real, recon) == ["shape"]
    kept = {"shape": {"accuracy": 0.70}, "hue": {"normalised": 0.04}}
    assert factor_check(real, kept, th).passed is True and unreproduced_factors(real, kept) == []
    # without a recorded chance (older metrics.json): the plain accuracy drop, as before
    old = {"shape": {"accuracy": 0.78}, "hue": {"normalised": 0.03}}
    assert factor_excess(old, recon)["shape"] == pytest.approx(0.39)
    worse = {"shape": {"accuracy": 0.18}, "hue": {"normalised": 0.04}}
    c_old = factor_check(old, worse, th)  # its cause names the unit it measured: accuracy
    assert "probe accuracy 0.60 below" in fitness_causes({**ok_checks, "factors": c_old}, 64)[0]
    assert unreproduced_factors(None, recon) == []


def _gt(dominants_by_class, agreement, label_factors=("hue",)):
    rows = [
        {"class": c, "rank": r, "dominant": d}
        for c, ds in enumerate(dominants_by_class)
        for r, d in enumerate(ds, 1)
    ]
    top5 = [r for r in rows if r["rank"] <= 5]
    return {
        "precision_top5": sum(r["dominant"] in label_factors for r in top5) / len(top5),
        "recall_top10": 0.0,
        "label_factors": list(label_factors),
        "factor_names": ["shape", "hue", "size", "x", "y", "bg"],
        "classifier_agreement": agreement,
        "attributes": rows,
    }


def test_ground_truth_check(tiny_run):
    from stylex.metrics.fitness.checks import fitness_causes, fitness_warnings
    from stylex.metrics.fitness.ground_truth import ground_truth_check

    th = FitnessThresholds()
    # the measured failure: top attributes that mostly move size / position / shape
    wrong = _gt([["y", "shape", "shape", None, "y"], ["size", "size", "size", "y", "shape"]], 0.99)
    c = ground_truth_check(wrong, th)
    assert c.passed is False and c.required and c.value == 0.0
    assert c.reference == pytest.approx(1 / 6)
    assert c.extra["main_changes"] == {"size": 3, "y": 3, "shape": 3, "none": 1}
    assert c.extra["missing"] == ["hue"]
    # a required failure makes the run unfit, with a cause naming what the attributes change
    run = _load(tiny_run)
    f = compute_fitness(run, _images(run), ground_truth=wrong)
    assert not f.fit and "ground_truth" in f.failed
    assert any("credit the wrong factors" in x and "size ×3" in x for x in f.causes)
    assert any("no measurable factor ×1" in x for x in f.causes)
    assert any("leaves that part of the rule out" in w for w in f.warnings)
    # the joint edits, when measured, are named in the cause and the missing-factor warning
    joint = [
        {"class": "a", "k": 1, "dominant": "y"},
        {"class": "a", "k": 3, "dominant": "hue"},
        {"class": "b", "k": 2, "dominant": "size"},
    ]
    c = ground_truth_check({**wrong, "joint_attributes": joint}, th)
    assert c.extra["joint_main_changes"] == {
        "a": {"k": 3, "dominant": "hue"},
        "b": {"k": 2, "dominant": "size"},
    }
    assert c.extra["joint_found"] == ["hue"] and c.passed is False  # the verdict is unchanged
    causes = fitness_causes({**f.checks, "ground_truth": c}, 8)
    assert any("a's top 3: hue (a rule factor); b's top 2: size" in x for x in causes)
    warns = fitness_warnings({"condition_concentration": Check(None, None, None, "n/a"),
                              "ground_truth": c})  # fmt: skip
    assert any("together, a class's top-k attributes do change mainly hue" in w for w in warns)
    assert not any("together" in x for x in f.causes + f.warnings)  # not measured: not named
    # a classifier that does not follow the rule: the same attributes only warn
    loose = _gt([["size"] * 5, ["y"] * 5], 0.7)
    c = ground_truth_check(loose, th)
    assert c.passed is False and not c.required
    na = Check(None, None, None, "not applicable")
    checks = {"condition_concentration": na, "ground_truth": c}
    warns = fitness_warnings(checks)
    assert any("follows the label rule on only 70%" in w for w in warns)
    causes = fitness_causes({**f.checks, "ground_truth": c}, 8)
    assert not any("credit the wrong factors" in x for x in causes)
    # unknown agreement is advisory too; half the top-5 on the rule's factors passes
    half = _gt([["hue", "hue", "size", "hue", "x"], ["hue", "size", "y", "hue", "x"]], None)
    c = ground_truth_check(half, th)
    assert c.passed is True and not c.required and c.value == 0.5 and c.extra["missing"] == []
    # no ground truth: not run, and not required
    for missing in (None, {}, {**half, "label_factors": []}, {**half, "attributes": []}):
        c = ground_truth_check(missing, th)
        assert c.status == "not run" and c.passed is None and not c.required


def test_classifier_agreement():
    from stylex.metrics.ground_truth import classifier_agreement

    labels = torch.tensor([0, 1, 1, 0])
    # data order ["hue>=0.5", "hue<0.5"]; classifier order swapped and spelt differently
    pred = torch.tensor([1, 0, 0, 0])  # classifier indices
    got = classifier_agreement(pred, labels, ["Hue<0.5", "hue>=0.5"], ["hue>=0.5", "hue<0.5"])
    assert got == pytest.approx(0.75)
    assert classifier_agreement(pred, labels, ["a", "b"], ["hue>=0.5", "hue<0.5"]) is None
    assert classifier_agreement(pred[:0], labels[:0], ["a", "b"], ["a", "b"]) is None


def test_baseline_condition_checks_not_applicable(tiny_baseline_run):
    run = _load(tiny_baseline_run)
    f = compute_fitness(run, _images(run))
    for name in ("neutral_consistency", "swap_follow", "condition_concentration"):
        assert f.checks[name].status == "not applicable" and f.checks[name].passed is None
    assert "neutral_consistency" not in f.failed


# ------------------------------------------------------------------------------ pieces
def test_trivial_references_and_retrieval():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 8, 8, generator=g) * 2 - 1
    x[:, :, :, :] += torch.linspace(-0.5, 0.5, 40)[:, None, None, None]
    pred = torch.arange(40) % 2
    refs = trivial_references(x, pred)
    assert set(refs) == {"flat", "border", "dataset_mean", "class_mean"}
    # the median is the best constant under L1: no other constant does better
    mean_const = (x - x.mean((2, 3), keepdim=True)).abs().mean()
    assert refs["flat"] <= float(mean_const) + 1e-9 and refs["flat"] <= refs["border"] + 1e-9
    own_rank, top1 = retrieval_scores(x, x, pred)
    assert own_rank == 1 and top1 == 1
    templ = torch.stack([x[pred == k].mean(0) for k in (0, 1)])[pred]
    own_rank, top1 = retrieval_scores(x, templ, pred)
    assert 0.3 < own_rank < 0.7 and top1 <= 0.1
    d = different_class_donors(torch.tensor([0, 0, 1, 1, 0]))
    assert d.tolist() == [2, 2, 4, 4, 2]
    assert different_class_donors(torch.zeros(3, dtype=torch.long)).tolist() == [-1, -1, -1]


# ------------------------------------------------------------------------------ storage, warnings
def test_json_round_trip(tiny_run):
    f = compute_fitness(_load(tiny_run, proxy=False), num_images=16)
    j = json.loads(json.dumps(f.to_json()))
    assert {"fit", "causes", "checks"} <= set(j)
    for c in j["checks"].values():
        assert {"value", "reference", "passed"} <= set(c)
    back = Fitness.from_json(j)
    assert back.to_json() == j and back.failed == f.failed and back.fit == f.fit
    with pytest.raises(ValueError):
        Fitness.from_json({"causes": []})


def test_warning_helper(tiny_run):
    buf = io.StringIO()
    assert warn_if_unfit(tiny_run, stream=buf) is None
    assert "no fitness verdict" in buf.getvalue() and "stylex evaluate --run" in buf.getvalue()
    run = _load(tiny_run)
    bad = compute_fitness(run, _images(run))
    assert not bad.fit
    save_fitness(tiny_run, bad)
    buf = io.StringIO()
    got = warn_if_unfit(tiny_run, stream=buf)
    assert got is not None and not got.fit
    text = buf.getvalue()
    assert "NOT FIT" in text and bad.causes[0] in text and "stale" not in text
    # a fit verdict says nothing; once the weights are newer, it is stale
    good = Fitness(True, [], bad.checks)
    save_fitness(tiny_run, good)
    assert fitness_notice(tiny_run) is None
    t = (tiny_run / "fitness.json").stat().st_mtime
    os.utime(tiny_run / "generator.safetensors", (t + 10, t + 10))
    assert load_fitness(tiny_run).stale and "stale" in fitness_notice(tiny_run)


def test_cli_attfind_warns_and_goes_on(tiny_run, capsys):
    from stylex.cli import main

    run = _load(tiny_run)
    save_fitness(tiny_run, compute_fitness(run, _images(run)))
    code = main(
        [
            "attfind",
            "--run",
            str(tiny_run),
            "--num-images",
            "4",
            "--top-k",
            "1",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "NOT FIT" in err and "reconstructions are no better" in err


def test_train_cli_prints_and_writes_verdict(_tiny_runs, tmp_path, capsys):
    from stylex.cli import main

    clf = _tiny_runs[0].parent / "clf.pt"
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            "shapes?n=256",
            "--classifier",
            str(clf),
            "--out",
            str(out),
            "--resolution",
            "16",
            "--steps",
            "2",
            "--batch",
            "4",
            "--width",
            "16",
            "--w-dim",
            "16",
            "--mapping-layers",
            "2",
            "--perceptual",
            "none",
            "--eval-images",
            "8",
            "--no-progress",
            "--device",
            "cpu",
            "--force",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "fitness: NOT FIT" in printed and "cause:" in printed
    stored = load_fitness(out)
    assert stored is not None and not stored.fitness.fit and not stored.stale
    assert stored.fitness.checks["attributes"].status == "not run"


def test_report_banner(tiny_run):
    from stylex.report.fitness_banner import fitness_banner

    run = _load(tiny_run)
    f = compute_fitness(run, _images(run))
    page = fitness_banner(f, tiny_run)
    assert 'class="fitness unfit"' in page and "Not fit to explain" in page
    assert "reconstruction" in page and "failed" in page
    assert 'class="fitness fit"' in fitness_banner(Fitness(True, [], f.checks), tiny_run)
    assert "No fitness verdict" in fitness_banner(None, tiny_run)


def test_evaluate_writes_the_verdict(tiny_run, tiny_baseline_run):
    from stylex.metrics.evaluate import evaluate, format_table

    m = evaluate(
        tiny_run,
        tiny_baseline_run,
        num_images=8,
        perceptual=False,
        probe_steps=5,
        probe_images=64,
        gt_images=4,
        max_k=2,
        progress=False,
    )
    f = Fitness.from_json(m["fitness"])
    assert f.num_images == 8 and f.checks["reconstruction"].value == pytest.approx(
        m["reconstruction_l1"], abs=1e-6
    )  # the same reconstructions as the table
    # shapes has factors: the factor check uses the probe evaluate already trained
    assert f.checks["factors"].status in ("passed", "failed")
    assert set(f.checks["factors"].extra["per_factor"]) == set(m["ground_truth"]["factor_names"])
    # the ground-truth check reads the same measurement
    agreement = m["ground_truth"]["classifier_agreement"]
    assert agreement is not None and 0.0 <= agreement <= 1.0
    gt = f.checks["ground_truth"]
    assert gt.value == pytest.approx(m["ground_truth"]["precision_top5"])
    assert gt.required == (agreement >= 0.9)
    assert f.checks["attributes"].status in ("passed", "failed")
    b = Fitness.from_json(m["baseline"]["fitness"])
    assert b.checks["neutral_consistency"].status == "not applicable"
    table = format_table(m)
    assert f.summary() in table and "baseline " + b.summary() in table
    assert all(f"warning: {w}" in table for w in f.warnings + b.warnings)
    assert load_fitness(tiny_run).fitness.to_json() == m["fitness"]
