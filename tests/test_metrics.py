"""Metrics on cases with known answers, and `stylex evaluate` on the tiny runs."""

from __future__ import annotations

import json
import math
import shutil
from types import SimpleNamespace

import pytest
import torch

from stylex.metrics import (
    classifier_consistency,
    consistency_metrics,
    dominant_factor,
    ground_truth_scores,
    reference_sufficiency,
    sufficiency,
)
from stylex.metrics.ground_truth import (
    FactorSpec,
    attribute_factor_changes,
    circular_difference,
    factor_changes,
)
from stylex.metrics.realism import fd
from stylex.metrics.result import MetricsResult
from stylex.models.generator import StyleSpace


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests run many small ops, for which one thread is faster (and far faster on a
    shared, loaded machine) than several."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ------------------------------------------------------------------------------ consistency
class _IdentityRun:
    """A fake run whose 'generator' reconstructs every image exactly."""

    device = torch.device("cpu")

    def reconstruct(self, images):
        return images.clone()

    def probs(self, images):
        m = images.mean(dim=(1, 2, 3))
        return torch.softmax(torch.stack([m, -m], 1) * 5, 1)


def test_identity_generator_is_perfectly_consistent():
    images = torch.rand(6, 3, 16, 16) * 2 - 1
    metrics, recon, probs = classifier_consistency(_IdentityRun(), images, batch=4)
    assert metrics["consistency"] == 1.0
    assert metrics["prob_diff"] == 0.0 and metrics["prob_tv"] == 0.0
    assert metrics["reconstruction_l1"] == 0.0
    assert metrics["perceptual"] == pytest.approx(0.0, abs=1e-5)
    assert torch.equal(recon, images) and probs.shape == (6, 2)


def test_consistency_known_values():
    real = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    recon = torch.tensor([[0.7, 0.3], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    m = consistency_metrics(real, recon)
    assert m["consistency"] == pytest.approx(0.75)
    assert m["prob_diff"] == pytest.approx((0.2 + 0.7 + 0 + 0) / 4)
    assert m["prob_tv"] == pytest.approx(m["prob_diff"])  # two classes
    three = consistency_metrics(torch.tensor([[0.5, 0.3, 0.2]]), torch.tensor([[0.3, 0.3, 0.4]]))
    assert three["prob_diff"] == pytest.approx(0.2) and three["prob_tv"] == pytest.approx(0.2)


def test_identity_reconstruction_on_a_real_run(tiny_run, monkeypatch):
    from stylex.run import Run

    run = Run.load(tiny_run, device="cpu")
    images = run.dataset("val").float_images(slice(0, 8))
    monkeypatch.setattr(run, "reconstruct", lambda x: x.clone())
    metrics, _, _ = classifier_consistency(run, images, perceptual=False)
    assert metrics["consistency"] == 1.0 and metrics["reconstruction_l1"] == 0.0


# ------------------------------------------------------------------------------ sufficiency
class _ToyGenerator:
    """Two style layers; the 'image' is the concatenated styles [B, 3, 1, 1]."""

    num_layers = 2

    def synthesize(self, styles, noise_mode="const"):
        return torch.cat(list(styles), 1)[:, :, None, None]

    def run_until(self, styles, layer, noise_mode="const"):
        return [s.clone() for s in styles[:layer]]

    def run_from(self, state, styles, layer, noise_mode="const"):
        return self.synthesize(list(state) + list(styles[layer:]))


def _toy_classifier(img):
    """logit_0 = s0[0]; logit_1 = s0[1] + s1[0]."""
    x = img[:, :, 0, 0]
    return torch.stack([x[:, 0], x[:, 1] + x[:, 2]], 1)


def _edit(index, target):
    return SimpleNamespace(index=index, target=target)


def _toy_problem():
    s0 = torch.tensor([[0.6, 0.0], [0.6, 0.0], [0.3, 0.0], [0.9, 0.0], [0.0, 0.5], [0.0, 0.5]])
    s1 = torch.zeros(6, 1)
    predicted = _toy_classifier(_ToyGenerator().synthesize([s0, s1])).argmax(1)
    space = StyleSpace([0, 1], [2, 1])  # flat 0, 1 = layer 0; flat 2 = layer 1
    attrs = [
        [_edit(1, 1.0)],  # class 0: raises logit 1 — never makes class 0
        [_edit(2, 0.4), _edit(1, 0.3)],  # class 1: +0.4, then +0.3 on logit 1
    ]
    return [s0, s1], predicted, space, attrs


def test_sufficiency_known_flip_rates():
    styles, predicted, space, attrs = _toy_problem()
    assert predicted.tolist() == [0, 0, 0, 0, 1, 1]
    res = sufficiency(
        _ToyGenerator(),
        _toy_classifier,
        styles,
        predicted,
        attrs,
        space,
        1.0,
        max_k=4,
        batch=3,
        class_names=["a", "b"],
    )
    # class 1 considers the 4 images predicted 0: k=1 flips only logit_0 = 0.3 < 0.4;
    # k=2 (logit_1 = 0.7) flips all but logit_0 = 0.9; k=3, 4 carry the k=2 value
    assert res.rates[1] == pytest.approx([0.25, 0.75, 0.75, 0.75])
    assert res.rates[0] == [0.0] * 4  # no attribute of class 0 flips anything
    assert res.considered == [2, 4] and res.k0 == [0.0, 0.0]
    assert res.mean() == pytest.approx([0.125, 0.375, 0.375, 0.375])
    j = res.to_json()
    assert list(j["sufficiency"]) == ["1", "2", "3", "4"]
    assert j["sufficiency_per_class"]["b"]["2"] == pytest.approx(0.75)
    ref = reference_sufficiency(
        _ToyGenerator(), _toy_classifier, styles, predicted, attrs, space, 1.0, max_k=4
    )
    assert ref.rates == res.rates


def test_sufficiency_shift_size_and_no_attributes():
    styles, predicted, space, attrs = _toy_problem()
    # half shifts: class 1 gains +0.2 and then +0.15 → only the 0.3 image flips, at k=2
    res = sufficiency(
        _ToyGenerator(), _toy_classifier, styles, predicted, attrs, space, 0.5, max_k=2
    )
    assert res.rates[1] == pytest.approx([0.0, 0.25])
    empty = sufficiency(
        _ToyGenerator(), _toy_classifier, styles, predicted, [[], []], space, max_k=3
    )
    assert empty.rates == [[0.0] * 3, [0.0] * 3] and empty.num_attributes == [0, 0]


def test_sufficiency_per_edit_strength():
    """An edit's own ``shift`` (the display strength) overrides the call's shift size."""
    from types import SimpleNamespace

    styles, predicted, space, attrs = _toy_problem()
    # class 1's edits at half strength each, given per edit instead of by the call
    halves = [
        [SimpleNamespace(index=a.index, target=a.target, shift=0.5) for a in c] for c in attrs
    ]
    res = sufficiency(
        _ToyGenerator(), _toy_classifier, styles, predicted, halves, space, 1.0, max_k=2
    )
    assert res.rates[1] == pytest.approx([0.0, 0.25])  # as with shift_size 0.5 for all
    ref = reference_sufficiency(
        _ToyGenerator(), _toy_classifier, styles, predicted, halves, space, 1.0, max_k=2
    )
    assert ref.rates == res.rates
    # None falls back to the call's shift size
    unset = [
        [SimpleNamespace(index=a.index, target=a.target, shift=None) for a in c] for c in attrs
    ]
    full = sufficiency(_ToyGenerator(), _toy_classifier, styles, predicted, unset, space, 1.0, 2)
    assert full.rates[1] == pytest.approx([0.25, 0.75])


def test_sufficiency_fast_path_equals_reference_on_a_generator():
    from stylex.models import Generator, GeneratorConfig

    torch.manual_seed(0)
    g = Generator(
        GeneratorConfig(
            resolution=16,
            img_channels=3,
            cond_dim=0,
            z_dim=8,
            w_dim=8,
            mapping_layers=1,
            channel_base=64,
            channel_max=8,
        )
    ).eval()
    clf = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 3))
    with torch.no_grad():
        styles = g.styles(g.map(torch.randn(7, 8)))
        predicted = clf(g.synthesize(styles).clamp(-1, 1)).argmax(1)
    space = g.style_space(include_rgb=True)
    gen = torch.Generator().manual_seed(1)
    attrs = [
        [
            _edit(int(i), float(torch.randn(1, generator=gen)) * 3)
            for i in torch.randperm(space.total, generator=gen)[:4]
        ]
        for _ in range(3)
    ]
    fast = sufficiency(g, clf, styles, predicted, attrs, space, 1.0, max_k=5, batch=3)
    ref = reference_sufficiency(g, clf, styles, predicted, attrs, space, 1.0, max_k=5)
    assert fast.rates == ref.rates and fast.k0 == ref.k0
    # with per-edit strengths (the display strengths) the two paths still agree
    for c in attrs:
        for j, a in enumerate(c):
            a.shift = (1.0, 2.0, 3.0, None)[j]
    fast = sufficiency(g, clf, styles, predicted, attrs, space, 1.0, max_k=5, batch=3)
    ref = reference_sufficiency(g, clf, styles, predicted, attrs, space, 1.0, max_k=5)
    assert fast.rates == ref.rates


# ------------------------------------------------------------------------------ realism
def test_frechet_distance_identical_and_shifted():
    from stylex.perceptual import frechet_distance_from_features

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(40, 64, generator=gen)
    assert fd(a, a) == pytest.approx(0.0, abs=1e-8)
    b = torch.randn(40, 64, generator=gen)
    shifted = fd(a, b + 1.0)
    assert shifted > fd(a, b) + 50  # mean shift of 1 in 64 dims adds ≈ 64
    assert fd(a, b + 1.0) == pytest.approx(frechet_distance_from_features(a, b + 1.0), rel=1e-8)
    c = torch.randn(30, 100, generator=gen)  # fewer samples than dimensions
    d = torch.randn(25, 100, generator=gen) * 2
    assert fd(c, d) == pytest.approx(frechet_distance_from_features(c, d), rel=1e-6)


def test_realism_on_images():
    from stylex.metrics.realism import realism_metrics

    gen = torch.Generator().manual_seed(0)
    real = torch.rand(12, 3, 16, 16, generator=gen) * 1.6 - 0.8
    m = realism_metrics(real, samples=(real + 0.5).clamp(-1, 1), recon=real.clone())
    assert m["fd_reconstructions"] == pytest.approx(0.0, abs=1e-4)
    assert m["fd_samples"] > 1.0


# ------------------------------------------------------------------------------ ground truth
def test_factor_probe_is_accurate_on_clean_shapes():
    from stylex.data.shapes import make_shapes
    from stylex.metrics import factor_specs, probe_errors, train_probe

    torch.manual_seed(0)
    train = make_shapes(n=1024, resolution=16, seed=11)
    test = make_shapes(n=256, resolution=16, seed=12)
    probe = train_probe(
        train.images, train.factors, factor_specs(train.factor_names), steps=400, seed=0
    )
    err = probe_errors(probe, test.images, test.factors)
    assert err["hue"]["abs_error"] < 0.03  # cycles; chance ≈ 0.25
    for f in ("size", "x", "y", "bg"):
        assert err[f]["normalised"] < 0.3, (f, err[f])  # in stds; chance ≈ 1.1
    assert err["shape"]["accuracy"] > 0.5  # chance 1/3; 16-px shapes are a few pixels wide
    counts = test.factors[:, 0].round().long().bincount()
    assert err["shape"]["chance"] == pytest.approx(float(counts.max()) / 256)


def _rgb_hue(x: torch.Tensor) -> torch.Tensor:
    """HSV hue in cycles of RGB pixels ``[..., 3]`` (any offset and positive scale)."""
    r, g, b = x.unbind(-1)
    mx, mn = x.max(-1).values, x.min(-1).values
    d = (mx - mn).clamp_min(1e-12)
    h = torch.where(mx == r, (g - b) / d, torch.where(mx == g, 2 + (b - r) / d, 4 + (r - g) / d))
    return torch.remainder(h / 6, 1)


def test_generator_artefacts_keep_the_shapes_factors():
    from stylex.data.shapes import make_shapes
    from stylex.metrics.ground_truth import gaussian_blur, generator_artefacts

    ds = make_shapes(n=64, resolution=32, seed=3)
    x = ds.images.double() / 127.5 - 1
    bg = x[:, :, :1, :1]  # the corner pixel is background in every image
    y = generator_artefacts(x, torch.Generator().manual_seed(0), max_blur=0)
    assert (y - x).abs().amax() > 0.1  # it does desaturate
    # background (grey) pixels are unchanged; the object's hue is exactly kept
    assert torch.allclose(y[:, :, :1, :1], bg)
    chroma = x.amax(1) - x.amin(1)  # [B, R, R]
    at = chroma.flatten(1).argmax(1)  # the most saturated pixel of each image
    px = lambda im: im.flatten(2)[torch.arange(len(im)), :, at]  # noqa: E731
    dh = circular_difference(_rgb_hue(px(x)), _rgb_hue(px(y)))
    assert dh.abs().max() < 1e-6
    assert torch.allclose(_rgb_hue(px(x)).float(), torch.as_tensor(ds.factors[:, 1]), atol=0.02)
    # blur keeps the object's colour mass and centroid (uniform border, kernel sums to 1)
    z = gaussian_blur(x, torch.full((len(x),), 1.2, dtype=x.dtype))
    assert (z - x).abs().amax() > 0.1
    v = (px(x) - bg.flatten(1))[:, :, None, None]  # the object's colour offset

    def mass(im):  # linear in the image, so a normalised symmetric blur keeps its sum/centroid
        return ((im - bg) * v).sum(1)

    # (objects touching the border lose a little to the replicate padding)
    assert torch.allclose(mass(z).sum((1, 2)), mass(x).sum((1, 2)), rtol=0.03)
    grid = torch.arange(32, dtype=x.dtype)

    def centroid(im):
        m = mass(im)
        return (
            torch.stack([(m.sum(1) * grid).sum(1), (m.sum(2) * grid).sum(1)], 1)
            / m.sum((1, 2))[:, None]
        )

    assert (centroid(z) - centroid(x)).abs().max() < 0.1  # pixels
    assert torch.equal(gaussian_blur(x, torch.zeros(len(x), dtype=x.dtype)), x)


def test_augmented_probe_reads_degraded_renders():
    """A probe trained on clean renders reads a desaturated, soft object as a smaller one; the
    probe trained with ``generator_artefacts`` reads the same size."""
    from stylex.data.shapes import make_shapes
    from stylex.metrics import factor_specs, train_probe
    from stylex.metrics.ground_truth import generator_artefacts

    train = make_shapes(n=1024, resolution=16, seed=11)
    test = make_shapes(n=256, resolution=16, seed=12)
    specs = factor_specs(train.factor_names)
    clean = test.images.float() / 127.5 - 1
    degraded = generator_artefacts(clean, torch.Generator().manual_seed(1), max_blur=0)
    shift = {}
    for augment in (False, True):
        probe = train_probe(train.images, train.factors, specs, steps=400, seed=0, augment=augment)
        a, b = probe.predict(clean), probe.predict(degraded)
        j = probe.names.index("size")
        shift[augment] = float((b["size"] - a["size"]).mean() / probe.scale[j])
        hue_err = circular_difference(torch.as_tensor(test.factors[:, 1]), b["hue"]).abs().mean()
        assert hue_err < 0.03  # desaturation keeps the hue, and both probes read it
    assert shift[False] < -0.1, shift  # clean-only: "smaller" (in stds of size)
    assert abs(shift[True]) < 0.05, shift
    assert abs(shift[True]) < abs(shift[False]) / 3, shift


def test_circular_and_categorical_changes():
    assert circular_difference(torch.tensor(0.95), torch.tensor(0.05)).item() == pytest.approx(0.1)
    assert circular_difference(torch.tensor(0.1), torch.tensor(0.8)).item() == pytest.approx(-0.3)
    probe = SimpleNamespace(
        specs=[FactorSpec("shape", "categorical", 2), FactorSpec("hue", "circular")],
        scale=torch.tensor([0.5, 0.25]),
    )
    before = {"shape": torch.tensor([[1.0, 0.0]]), "hue": torch.tensor([0.9])}
    after = {"shape": torch.tensor([[0.0, 1.0]]), "hue": torch.tensor([0.1])}
    ch = factor_changes(probe, before, after)
    assert ch["shape"].item() == pytest.approx(2.0)  # TV 1 / scale 0.5
    assert ch["hue"].item() == pytest.approx(0.8)  # +0.2 cycles / 0.25
    assert dominant_factor({"a": 0.05, "b": 0.08}) is None
    assert dominant_factor({"a": 0.05, "b": 0.3}) == "b"
    # a factor the generator does not reproduce is skipped; its reading is no measurement
    assert dominant_factor({"a": 0.2, "b": 0.3}, skip=["b"]) == "a"
    assert dominant_factor({"a": 0.05, "b": 0.3}, skip=("b",)) is None


class _KnownProbe:
    """Reads the toy image's first value as the hue and its second as the size."""

    specs = [FactorSpec("hue", "circular"), FactorSpec("size")]
    names = ["hue", "size"]
    scale = torch.tensor([0.25, 0.5])

    def predict(self, img):
        x = img[:, :, 0, 0]
        return {"hue": torch.remainder(x[:, 0], 1.0), "size": x[:, 1]}


def _known_probe_problem():
    """Three images' styles (style coordinate 0 = hue, 1 = size), their predicted classes and
    the StyleSpace (flat 0, 1 = layer 0; flat 2 = layer 1)."""
    s0 = torch.tensor([[0.2, 0.5], [0.3, 0.5], [0.6, 0.4]])
    return [s0, torch.zeros(3, 1)], torch.tensor([0, 0, 1]), StyleSpace([0, 1], [2, 1])


def test_attribute_factor_changes_with_a_known_probe():
    """Style coordinate 0 is the hue, 1 the size: the edits' dominant factors are known."""

    styles, predicted, space = _known_probe_problem()
    attrs = [[], [_edit(0, 0.45), _edit(1, 1.0), _edit(2, 5.0)]]
    rows = attribute_factor_changes(_ToyGenerator(), _KnownProbe(), styles, predicted, attrs, space)
    assert rows[0] == []
    hue, size, nothing = rows[1]
    assert hue["num_images"] == 2  # the images not predicted as class 1
    assert hue["change"]["hue"] == pytest.approx((0.25 + 0.15) / 2 / 0.25)
    assert hue["signed_change"]["hue"] == pytest.approx(0.8) and hue["change"]["size"] == 0
    assert dominant_factor(hue["change"]) == "hue" and dominant_factor(size["change"]) == "size"
    assert size["change"]["size"] == pytest.approx(1.0)
    assert dominant_factor(nothing["change"]) is None


def test_joint_factor_changes_apply_the_top_k_together():
    """Cumulative mode: row k is the change of the top-k edits applied together (row 1 = the
    single edit); the hand-computed changes of the toy's hue/size coordinates."""

    styles, predicted, space = _known_probe_problem()
    attrs = [[], [_edit(0, 0.45), _edit(1, 1.0), _edit(0, 0.2)]]
    args = (_ToyGenerator(), _KnownProbe(), styles, predicted, attrs, space)
    single = attribute_factor_changes(*args)
    joint = attribute_factor_changes(*args, cumulative=True)
    assert joint[0] == [] and len(joint[1]) == 3
    assert joint[1][0] == single[1][0]  # one edit alone is the same either way
    # top-2 together: the hue edit and the size edit both stay applied
    assert joint[1][1]["change"]["hue"] == pytest.approx(single[1][0]["change"]["hue"])
    assert joint[1][1]["change"]["size"] == pytest.approx(single[1][1]["change"]["size"])
    # the third edit sets the hue back to 0.2: hue changes (0, 0.1) / 0.25 only
    assert single[1][2]["change"]["hue"] == pytest.approx((0.0 + 0.1) / 2 / 0.25)
    assert joint[1][2]["change"]["hue"] == pytest.approx(single[1][2]["change"]["hue"])
    assert joint[1][2]["change"]["size"] == pytest.approx(1.0)
    # an edit of a later layer after one of layer 0: the joint edit resumes from layer 0's
    # input, so the hue edit stays applied (resuming from layer 1 would drop it)
    later = [[], [_edit(0, 0.45), _edit(2, 5.0)]]
    joint = attribute_factor_changes(*args[:4], later, space, cumulative=True)
    assert joint[1][1]["change"]["hue"] == pytest.approx(single[1][0]["change"]["hue"])


def test_joint_scores_on_a_hand_made_table():
    from stylex.metrics.ground_truth import joint_at, joint_scores

    rows = [
        # class A: size, size, hue, hue — its top-3 together changes mainly hue
        {"class": "A", "k": 1, "dominant": "size"},
        {"class": "A", "k": 2, "dominant": "size"},
        {"class": "A", "k": 3, "dominant": "hue"},
        {"class": "A", "k": 4, "dominant": "size"},
        # class B: two attributes only; scored at k = 2
        {"class": "B", "k": 1, "dominant": "x"},
        {"class": "B", "k": 2, "dominant": None},
    ]
    assert {c: r["k"] for c, r in joint_at(rows, 3).items()} == {"A": 3, "B": 2}
    s = joint_scores(rows, ["hue", "shape"])
    assert s["joint_precision_top3"] == pytest.approx(0.5)  # A's top-3 on hue, B's on none
    assert s["joint_recall_top10"] == pytest.approx(0.5)  # hue found, shape never
    assert joint_scores(rows, ["size"], precision_k=1)["joint_precision_top1"] == 0.5
    empty = joint_scores([], ["hue"])
    assert math.isnan(empty["joint_precision_top3"]) and math.isnan(empty["joint_recall_top10"])


def test_precision_and_recall_on_a_hand_made_table():
    rows = [
        # class A: ranks 1-6
        {"rank": 1, "dominant": "hue"},
        {"rank": 2, "dominant": "size"},
        {"rank": 3, "dominant": "hue"},
        {"rank": 4, "dominant": None},
        {"rank": 5, "dominant": "hue"},
        {"rank": 6, "dominant": "x", "change": {"shape": 0.3}},
        # class B: ranks 1-3
        {"rank": 1, "dominant": "hue"},
        {"rank": 2, "dominant": "bg"},
        {"rank": 3, "dominant": "hue", "change": {"hue": 1.0, "shape": 0.2}},
    ]
    s = ground_truth_scores(rows, ["hue", "shape"])
    assert s["precision_top5"] == pytest.approx(5 / 8)  # 8 attributes of rank ≤ 5, 5 on hue
    assert s["recall_top10"] == pytest.approx(0.5)  # hue found, shape never dominant
    assert s["recall_top10_changed"] == pytest.approx(1.0)  # rank 6 changes shape by 0.3 ≥ 0.25
    assert ground_truth_scores(rows, ["hue"])["recall_top10"] == 1.0
    empty = ground_truth_scores([], ["hue"])
    assert math.isnan(empty["precision_top5"]) and math.isnan(empty["recall_top10"])


# ------------------------------------------------------------------------------ evaluate / CLI
def test_select_images_avoids_attfind_images():
    from stylex.metrics import select_images

    class Data:
        ids = [f"i{k}" for k in range(10)]

        def __len__(self):
            return 10

    ds = Data()
    idx, overlap = select_images(ds, 4, {"i0", "i1", "i2"})
    assert idx.tolist() == [3, 4, 5, 6] and overlap == 0
    idx, overlap = select_images(ds, 9, {"i0", "i1", "i2"})
    assert idx.tolist() == [0, 1, 3, 4, 5, 6, 7, 8, 9] and overlap == 2


def test_cli_evaluate_with_baseline(tiny_run, tiny_baseline_run, capsys):
    from stylex.cli import main

    args = [
        "evaluate",
        "--run",
        str(tiny_run),
        "--baseline",
        str(tiny_baseline_run),
        "--num-images",
        "16",
        "--top-k",
        "4",
        "--probe-steps",
        "30",
        "--probe-images",
        "256",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    for label in (
        "classifier consistency",
        "sufficiency top-1",
        "FD real vs samples",
        "GT precision top-5",
        "baseline",
        "not Inception FID",
    ):
        assert label in out
    m = json.loads((tiny_run / "metrics.json").read_text())
    keys = [
        "consistency",
        "prob_diff",
        "sufficiency",
        "sufficiency_per_class",
        "reconstruction_l1",
        "perceptual",
        "fd_samples",
        "fd_reconstructions",
        "ground_truth",
        "num_images",
    ]
    for k in keys:
        assert k in m and k in m["baseline"], k
    assert m["num_images"] == 16 and list(m["sufficiency"]) == ["1", "2", "3", "4"]
    # AttFind recorded display strengths: sufficiency at those strengths is reported beside
    assert list(m["sufficiency_display"]) == ["1", "2", "3", "4"]
    assert all(0 <= v <= 1 for v in m["sufficiency_display"].values())
    assert "sufficiency_display" in m["difference"] and "sufficiency shown top-1" in out
    assert 0 <= m["consistency"] <= 1 and m["baseline"]["baseline_run"] is True
    assert m["images"]["attfind_overlap"] == 6  # 26 held-out images, AttFind used 16
    gt = m["ground_truth"]
    assert {"precision_top5", "recall_top10", "attributes", "probe"} <= set(gt)
    # the joint edits: per class, k = 1 … its number of attributes; k = 1 is the top attribute
    assert {"joint_precision_top3", "joint_recall_top10", "joint_attributes"} <= set(gt)
    for name in {r["class"] for r in gt["attributes"]}:
        single = [r for r in gt["attributes"] if r["class"] == name]
        joint = [r for r in gt["joint_attributes"] if r["class"] == name]
        assert [r["k"] for r in joint] == [r["rank"] for r in single]
        assert joint[0]["change"] == pytest.approx(single[0]["change"], abs=1e-6)
    assert gt["label_factors"] == ["hue"]
    # the factors the reconstructions lose (the fitness `factors` check) are never dominant
    from stylex.metrics.probe_training import unreproduced_factors

    probe = gt["probe"]
    assert gt["unreproduced_factors"] == unreproduced_factors(
        probe["on_real"], probe["on_reconstructions"]
    )
    assert not {r["dominant"] for r in gt["attributes"]} & set(gt["unreproduced_factors"])
    assert set(m["difference"]) >= {"consistency", "sufficiency", "fd_samples"}
    assert (tiny_run / "metrics_probe.safetensors").is_file()
    typed = MetricsResult.load(tiny_run)
    assert typed.data == m and typed.value("consistency") == m["consistency"]
    assert typed.baseline is not None and typed.baseline.is_baseline_run
    # re-evaluation reuses the cached probe
    assert main(args[:3] + args[5:]) == 0
    m2 = json.loads((tiny_run / "metrics.json").read_text())
    assert m2["ground_truth"]["probe"]["cached"] is True and "baseline" not in m2


def test_cli_evaluate_needs_attfind(tiny_baseline_run, capsys):
    from stylex.cli import main

    shutil.rmtree(tiny_baseline_run / "attfind")
    args = [
        "evaluate",
        "--run",
        str(tiny_baseline_run),
        "--num-images",
        "8",
        "--top-k",
        "2",
        "--probe-steps",
        "5",
        "--probe-images",
        "64",
        "--no-progress",
        "--no-perceptual",
    ]
    assert main(args) == 1
    assert "stylex attfind --run" in capsys.readouterr().err
    assert main([*args, "--run-attfind"]) == 0
    assert (tiny_baseline_run / "attfind" / "attributes.json").is_file()
    m = json.loads((tiny_baseline_run / "metrics.json").read_text())
    assert m["perceptual"] is None and m["num_images"] == 8
