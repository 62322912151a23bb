"""Field metrics (COUT, proximity, split FD, minimality), the gradient baseline, and the
comparison of two classifiers in one StyleSpace: known answers, fast == reference, CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from stylex.metrics.counterfactual import (
    cout,
    cout_curves,
    flip_rate,
    minimality,
    paste_counts,
    proximity_l1,
    reference_cout,
    split_fd,
    style_sparsity,
)
from stylex.metrics.gradient_baseline import gradient_counterfactuals, latent_spread


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class RegionClassifier(nn.Module):
    """Two classes read from one 4×4 region: logit_1 − logit_0 = gain · mean(region)."""

    def __init__(self, gain: float = 40.0, bias: float = 0.0):
        super().__init__()
        self.gain, self.bias = gain, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x[:, :, 2:6, 2:6].mean(dim=(1, 2, 3)) * self.gain + self.bias
        return torch.stack([-m / 2, m / 2], 1)


def _pair(n: int = 3, seed: int = 0):
    """Originals with the region at -1 (class 0) and counterfactuals equal except the region
    at +0.5 (class 1): a perfect swap. The bottom half is -1 (room for larger changes)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 16, 16, generator=g) * 1.6 - 0.8
    x[:, :, 2:6, 2:6] = -1.0
    x[:, :, 8:, :] = -1.0
    x_cf = x.clone()
    x_cf[:, :, 2:6, 2:6] = 0.5
    return x, x_cf


# ------------------------------------------------------------------------------ COUT
def test_cout_of_an_identical_pair_is_the_flat_curve():
    x, _ = _pair()
    s, t = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    # an undecided classifier (p = ½ everywhere): 0 exactly
    undecided = RegionClassifier(gain=0.0)
    assert torch.allclose(cout(undecided, x, x.clone(), s, t), torch.zeros(3), atol=1e-7)
    # a confident one: nothing moves, so COUT = p_t(x) − p_s(x) ≈ −1 (the worst score)
    clf = RegionClassifier()
    p = torch.softmax(clf(x), 1)
    got = cout(clf, x, x.clone(), s, t)
    assert torch.allclose(got, p[:, 1] - p[:, 0], atol=1e-6)
    assert (got < -0.99).all()


def test_cout_of_a_perfect_swap_is_near_one_and_fast_equals_reference():
    x, x_cf = _pair()
    s, t = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    clf = RegionClassifier()
    got = cout(clf, x, x_cf, s, t)
    # the 16 region pixels are pasted first (steps of 256/50 ≈ 5 px): the class flips within
    # the first 2 of 50 steps, so COUT ≥ 1 − 2·2/50
    assert (got > 0.9).all() and (got <= 1.0).all()
    assert torch.allclose(got, reference_cout(clf, x, x_cf, s, t), atol=1e-5)
    # source and target swapped: the exact negative
    assert torch.allclose(cout(clf, x, x_cf, t, s), -got, atol=1e-6)
    # the curves start at the original and end at the counterfactual
    ps, pt = cout_curves(clf, x, x_cf, s, t)
    p0, p1 = torch.softmax(clf(x), 1), torch.softmax(clf(x_cf), 1)
    assert torch.allclose(ps[:, 0], p0[:, 0]) and torch.allclose(pt[:, -1], p1[:, 1])
    # a counterfactual that also changes the bottom half (128 px) by more than the region
    # (pasted first: 25 of 50 steps) flips only after half the pixels: p_t ≈ 1 on about the
    # last half, p_s on the first, so COUT ≈ 0
    noisy = x_cf.clone()
    noisy[:, :, 8:, :] = 1.0
    late = cout(clf, x, noisy, s, t)
    assert (late.abs() < 0.15).all()
    assert torch.allclose(late, reference_cout(clf, x, noisy, s, t), atol=1e-5)


def test_paste_counts():
    assert paste_counts(256, 50)[:3] == [0, 5, 10] and paste_counts(256, 50)[-1] == 256
    assert paste_counts(10, 4) == [0, 2, 5, 8, 10]


# ------------------------------------------------------------------------------ proximity
def test_flip_rate_proximity_and_sparsity_known_values():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    assert flip_rate(probs, torch.tensor([1, 1, 1, 1])) == 0.5
    assert math.isnan(flip_rate(probs[:0], torch.zeros(0, dtype=torch.long)))
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[0, 0, 0, :2] = 1.0  # 2 of 16 pixels by 1
    assert proximity_l1(x, y).tolist() == [2 / 16, 0.0]
    s = torch.zeros(2, 5)
    s2 = s.clone()
    s2[0, 1] = 0.5
    s2[0, 3] = 0.001  # below 1% of its spread (1.0)
    s2[1, 4] = -2.0
    scale = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0])  # a 0-spread coordinate counts with unit 1
    assert style_sparsity(s, s2, scale).tolist() == [1, 1]


# ------------------------------------------------------------------------------ split FD
def test_split_fd_of_the_same_set_is_the_real_floor():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 6, generator=g)
    # the counterfactuals *are* the real images (pixel-aligned copies): exactly the floor
    same = split_fd(real, real.clone())
    assert same["split_fd"] == pytest.approx(same["split_fd_floor"], rel=1e-9)
    assert same["split_fd_n"] == 100
    # fresh draws of the same distribution: near the floor; a shifted set: far above it
    other = split_fd(real, torch.randn(200, 6, generator=g))
    shifted = split_fd(real, torch.randn(200, 6, generator=g) + 1.0)
    assert other["split_fd"] < 2.5 * same["split_fd_floor"] + 0.1
    assert shifted["split_fd"] > 6 * 0.8 and shifted["split_fd"] > 5 * other["split_fd"]


def test_split_fd_gives_no_credit_for_pixel_alignment():
    """Counterfactuals equal to their own sources except for a shift: the ordinary FD of
    aligned pairs and the split FD agree on the shift, and the split one never drops below
    the floor."""
    g = torch.Generator().manual_seed(1)
    real = torch.randn(120, 4, generator=g)
    r = split_fd(real, real + 0.5)
    assert r["split_fd"] > r["split_fd_floor"] + 4 * 0.25 * 0.8


# ------------------------------------------------------------------------------ minimality
def test_minimality_known_values():
    changes = {
        "hue": torch.tensor([0.5, 0.0, 0.4, 0.1]),
        "size": torch.tensor([0.0, 0.6, -0.3, 0.0]),
        "shape": torch.tensor([0.0, 0.0, 0.0, 0.0]),
    }
    m = minimality(changes, ["hue"], threshold=0.25)
    # changed sets: {hue}, {size}, {hue, size}, {}
    assert m["factors_changed"] == pytest.approx((1 + 1 + 2 + 0) / 4)
    assert m["only_label_factors"] == pytest.approx(1 / 4)
    assert m["label_factor_changed"] == pytest.approx(2 / 4)
    assert m["num_images"] == 4
    assert math.isnan(minimality({}, ["hue"], 0.25)["factors_changed"])


# ------------------------------------------------------------------------------ gradient
def test_gradient_baseline_flips_a_linear_classifier_on_a_toy_generator():
    torch.manual_seed(0)
    d, pixels = 6, 16
    a = torch.randn(pixels, d) * 0.05
    weight = torch.randn(2, pixels)

    offset = torch.randn(8, pixels) * 0.05  # per-image context (like a fixed condition)

    def decode(w, rows):  # rows: which images are decoded (those still moving)
        return (w @ a.T + offset[rows]).view(-1, 1, 4, 4)  # well inside [-1, 1]

    def classifier(img):
        return img.flatten(1) @ weight.T

    w0 = torch.randn(8, d)
    margin0 = classifier(decode(w0, torch.arange(8)))  # [8, 2]
    target = margin0.argmin(1)  # the class each image is *not*
    step = 0.1
    res = gradient_counterfactuals(decode, classifier, w0, target, step, max_steps=500)
    assert res.flipped.all()
    # known answer: the logit margin is linear in w, u = ∇(l_t − l_s) is constant and each
    # normalised step raises it by step·‖u‖, so it flips after ⌊−m0 / (step·‖u‖)⌋ + 1 steps
    for i in range(8):
        t = int(target[i])
        u = a.T @ (weight[t] - weight[1 - t])
        m0 = float(margin0[i, t] - margin0[i, 1 - t])
        assert int(res.steps[i]) == math.floor(-m0 / (step * float(u.norm()))) + 1
        assert torch.allclose(res.latents[i], w0[i] + res.steps[i] * step * u / u.norm(), atol=1e-4)
    assert (res.probs.argmax(1) == target).all()
    # bounded: with too few steps nothing far away flips, and it stops at the bound
    short = gradient_counterfactuals(decode, classifier, w0, target, 1e-4, max_steps=3)
    assert (short.steps <= 3).all() and not short.flipped.any()
    assert latent_spread(w0) > 0


# ------------------------------------------------------------------------------ run level
def test_attribute_counterfactuals_equal_a_plain_loop(tiny_run):
    from stylex.attfind import AttFindResult
    from stylex.metrics.field import attribute_counterfactuals
    from stylex.metrics.sufficiency import attfind_space, attribute_edits, encode_styles_all
    from stylex.models.stylespace import class_probs
    from stylex.models.stylespace import edit as edit_styles
    from stylex.run import Run

    run = Run.load(tiny_run, device="cpu")
    af = AttFindResult.load(tiny_run / "attfind")
    images = run.dataset("val").float_images(slice(0, 12))
    styles = encode_styles_all(run, images)
    target = 1 - run.probs(images).argmax(1)
    got = attribute_counterfactuals(run, af, styles, target, max_k=3, batch=5)
    space, edits = attfind_space(run, af), attribute_edits(af)
    g = run.generator
    for i in range(12):
        y = int(target[i])
        cur = [s[i : i + 1] for s in styles]
        img = g.synthesize(cur, noise_mode="const").clamp(-1, 1)
        k_needed = 0 if int(class_probs(run.classifier, img).argmax()) == y else None
        for k, a in enumerate(edits[y][:3], 1):
            if k_needed is not None:
                break
            cur = edit_styles(cur, space, a.index, a.target, af.effects.shift_size)
            img = g.synthesize(cur, noise_mode="const").clamp(-1, 1)
            if int(class_probs(run.classifier, img).argmax()) == y:
                k_needed = k
        assert torch.allclose(got.images[i], img[0], atol=1e-5)
        if k_needed is None:
            assert math.isnan(float(got.needed[i]))
        else:
            assert float(got.needed[i]) == k_needed


def test_evaluate_compare_writes_field_metrics(tiny_run, tiny_baseline_run, capsys):
    from stylex.cli import main

    rc = main(
        [
            "evaluate",
            "--run",
            str(tiny_run),
            "--baseline",
            str(tiny_baseline_run),
            "--num-images",
            "16",
            "--cf-images",
            "12",
            "--compare",
            "--no-progress",
            "--probe-steps",
            "30",
            "--probe-images",
            "256",
            "--gt-images",
            "4",
            "--gradient-max-steps",
            "5",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "counterfactual metrics on 12 held-out images" in out
    for col in ("StylEx attr.", "StylEx per-img", "gradient", "baseline attr."):
        assert col in out
    m = json.loads((tiny_run / "metrics.json").read_text())
    cf = m["counterfactual"]
    entries = [
        cf["attributes"],
        cf["per_image"],
        cf["baselines"]["gradient"],
        m["baseline"]["counterfactual"]["attributes"],
    ]
    for e in entries:
        assert 0.0 <= e["flip_rate"] <= 1.0 and e["num_images_total"] == 12
        # images whose reconstruction is already the target are left out
        assert e["num_images"] == round(12 * (1 - e["already_target"]))
        assert e["cout"] is None or -1.0 <= e["cout"] <= 1.0
        assert e["proximity_l1"] >= 0 and e["proximity_perceptual"] >= 0
        assert e["split_fd"] >= 0 and e["split_fd_floor"] >= 0
        assert "minimality" in e  # shapes has known factors
    # attributes change one coordinate each: never more coordinates than attributes allowed
    assert cf["attributes"]["style_coords_changed"] <= 3
    assert cf["per_image"]["style_coords_changed"] <= 10
    # the gradient baseline moves w, hence (almost) every coordinate of the ones it moves
    assert cf["baselines"]["gradient"]["style_coords_changed"] > 10
    assert cf["baselines"]["gradient"]["settings"]["space"] == "w"
    # the report shows the section
    from stylex.report.field import field_section

    html = field_section(m)
    assert "COUT" in html and "gradient" in html and "not Inception" in html


def _blur_classifier(run_dir, path):
    """A deliberately different classifier of the same data: a small CNN trained on blurred
    images (it blurs its input itself), saved as TorchScript with the same contract."""
    import torch.nn.functional as F

    from stylex.classifier import ClassifierContract, build_small_cnn, save_torchscript
    from stylex.run import Run

    class Blurred(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))

    run = Run.load(run_dir, device="cpu")
    data = run.dataset("train")
    torch.manual_seed(0)
    model = Blurred(build_small_cnn(data.channels, data.num_classes, data.resolution, width=8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = data.float_images(), data.labels
    for _ in range(60):
        idx = torch.randint(0, len(y), (64,))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    contract = ClassifierContract.for_data(data)
    save_torchscript(model.eval(), contract, path)
    return path


def test_attfind_other_classifier_and_alignment(tiny_run, tmp_path, capsys):
    import shutil

    from stylex.cli import main

    own = (tiny_run / "attfind" / "attributes.json").read_bytes()
    blur = _blur_classifier(tiny_run, tmp_path / "blur.pt")
    same = tmp_path / "same.pt"
    shutil.copyfile(tiny_run / "classifier.pt", same)
    for clf in (blur, same):
        rc = main(
            [
                "attfind",
                "--run",
                str(tiny_run),
                "--classifier",
                str(clf),
                "--num-images",
                "16",
                "--top-k",
                "3",
                "--no-progress",
                "--force",  # the tiny fixture's own classifier is near chance on its data
            ]
        )
        assert rc == 0
    assert (tiny_run / "attfind" / "attributes.json").read_bytes() == own  # untouched
    for name in ("blur", "same"):
        d = tiny_run / f"attfind-{name}"
        assert (d / "attributes.json").is_file() and (d / "classifier.pt").is_file()
        assert json.loads((d / "attributes.json").read_text())["classifier"].endswith(".pt")
    capsys.readouterr()
    rc = main(
        [
            "evaluate",
            "--run",
            str(tiny_run),
            "--num-images",
            "16",
            "--cf-images",
            "12",
            "--no-progress",
            "--no-perceptual",
            "--probe-steps",
            "20",
            "--probe-images",
            "128",
            "--gt-images",
            "4",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "classifier 'blur' vs the run's" in out
    al = json.loads((tiny_run / "metrics.json").read_text())["counterfactual"]["alignment"]
    # the same classifier again: the same attributes, and every flip of one is a flip of the
    # other (known answer)
    s = al["same"]
    assert s["overlap_top5"] == 1.0 and s["overlap_top10"] == 1.0
    if s["flip_alignment"]["counts_a_edits"]["a_flips"]:
        assert s["flip_alignment"]["a_to_b"] == 1.0 and s["flip_alignment"]["b_to_a"] == 1.0
    b = al["blur"]
    assert 0.0 <= b["overlap_top5"] <= 1.0
    for k in ("a_to_b", "b_to_a"):
        v = b["flip_alignment"][k]
        assert v is None or 0.0 <= v <= 1.0


def test_attfind_other_classifier_with_other_classes_is_refused(tiny_run, tmp_path, capsys):
    from stylex.classifier import ClassifierContract, build_small_cnn, save_torchscript
    from stylex.cli import main

    bad = tmp_path / "three.pt"
    contract = ClassifierContract(
        input_range=(-1.0, 1.0),
        resolution=16,
        channels=3,
        class_names=["a", "b", "c"],
        output="logits",
    )
    save_torchscript(build_small_cnn(3, 3, 16, width=4), contract, bad)
    rc = main(
        [
            "attfind",
            "--run",
            str(tiny_run),
            "--classifier",
            str(bad),
            "--num-images",
            "4",
            "--no-progress",
        ]
    )
    assert rc != 0
    assert not (tiny_run / "attfind-three").exists()
