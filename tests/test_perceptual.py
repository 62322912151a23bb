"""Tests for stylex.perceptual: EfficientNet-Lite0 features, LPIPS-like distance, FD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylex import perceptual as P

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="module")
def ex() -> P.EfficientNetLite0Features:
    return P.get_feature_extractor("cpu")


def natural_ish(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth images in [-1, 1]: a colour gradient plus a few soft coloured blobs."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    out = []
    for _ in range(n):
        a = torch.rand(3, 2, generator=g) - 0.5
        img = a[:, :1, None] * xx + a[:, 1:, None] * yy
        for _ in range(3):
            c = torch.rand(2, generator=g) * 1.4 - 0.7
            r = 0.15 + 0.3 * torch.rand(1, generator=g)
            col = torch.rand(3, 1, 1, generator=g) * 2 - 1
            img = img + col * torch.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r**2))
        out.append(img.clamp(-1, 1))
    return torch.stack(out)


# ------------------------------------------------------------------------------- weights


def test_weights_are_the_pretrained_file(ex):
    sd = P.load_weights()
    assert sum(
        v.numel() for k, v in sd.items() if "running" not in k and "num_batches" not in k
    ) == (4_652_008)
    for name in ["_conv_stem.weight", "_blocks.7._depthwise_conv.weight", "_fc.weight"]:
        p = dict(ex.net.named_parameters())[name]
        ref = sd[name]
        assert torch.equal(p.detach(), ref)
        assert p.std().item() == pytest.approx(ref.std().item())
    # Not a fresh random initialisation: running statistics are trained values.
    assert not torch.allclose(ex.net._bn0.running_var, torch.ones(32))


def test_frozen_and_stays_in_eval(ex):
    assert not any(p.requires_grad for p in ex.parameters())
    ex.train()
    assert not ex.training and not any(m.training for m in ex.modules())


def test_cached_per_device(ex):
    assert P.get_feature_extractor("cpu") is ex
    assert P.get_feature_extractor(torch.device("cpu")) is ex
    assert P.get_feature_extractor("cpu", size=48) is not ex


def test_normalisation_matches_stem_batchnorm_statistics(ex):
    """The stem BN running means are what the stem conv gives for the ImageNet mean colour
    under our preprocessing, (255·(x+1)/2 − 127)/128; ImageNet mean/std would predict zero."""
    mean_rgb = torch.tensor([0.485, 0.456, 0.406]) * 2 - 1  # ImageNet mean colour in [-1, 1]
    img = mean_rgb.view(1, 3, 1, 1).expand(1, 3, 64, 64)
    with torch.no_grad():
        pre = ex.net._conv_stem(ex.preprocess(img))[0, :, 16, 16]
    actual = ex.net._bn0.running_mean
    corr = torch.corrcoef(torch.stack([pre, actual]))[0, 1].item()
    assert corr > 0.9


def test_imagenet_head_and_feature_shapes(ex):
    x = natural_ish(2)
    with torch.no_grad():
        logits = ex.logits(x)
        maps, emb = ex.features_and_embedding(x)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert [m.shape[1] for m in maps] == [16, 24, 40, 112] == list(ex.channels)
    assert [m.shape[-1] for m in maps] == [32, 16, 8, 4]  # 64 px working size
    assert emb.shape == (2, P.EMBED_DIM) and (emb >= 0).all()  # ReLU6 head, pooled
    torch.testing.assert_close(ex.net._fc(emb), logits)
    maps_only = ex(x)
    for a, b in zip(maps, maps_only, strict=True):
        torch.testing.assert_close(a, b)


def test_natural_vs_noise_features_differ(ex):
    x = natural_ish(2)
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    shifted = torch.roll(x, shifts=1, dims=-1)
    with torch.no_grad():
        e = P.embed(torch.cat([x, shifted, noise]), extractor=ex)
        d_shift = P.perceptual_distance(x, shifted, ex)
        d_noise = P.perceptual_distance(x, noise, ex)
    cos = torch.nn.functional.cosine_similarity
    assert (cos(e[:2], e[2:4]) > cos(e[:2], e[4:])).all()
    assert (d_shift * 3 < d_noise).all()


# ------------------------------------------------------------------------------- distance


def test_distance_basic_properties(ex):
    x, y = natural_ish(3, seed=0), natural_ish(3, seed=1)
    with torch.no_grad():
        dxx = P.perceptual_distance(x, x, ex)
        dxy = P.perceptual_distance(x, y, ex)
        dyx = P.perceptual_distance(y, x, ex)
    assert dxx.shape == (3,)
    assert dxx.abs().max() < 1e-5
    assert (dxy > 0.05).all()
    torch.testing.assert_close(dxy, dyx, rtol=1e-5, atol=1e-6)
    assert (dxy <= 4 * len(P.DEFAULT_LAYERS)).all()


def test_distance_increases_with_noise(ex):
    x = natural_ish(2)
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        d = [P.perceptual_distance(x, x + s * eps, ex) for s in (0.02, 0.05, 0.1, 0.2, 0.4)]
    d = torch.stack(d)  # [levels, B]
    assert (d[1:] > d[:-1]).all(), d


def test_gradient_flows_to_both_inputs(ex):
    x = natural_ish(2, seed=4).requires_grad_(True)
    y = natural_ish(2, seed=5).requires_grad_(True)
    P.perceptual_distance(x, y, ex).sum().backward()
    for t in (x, y):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    assert all(p.grad is None for p in ex.parameters())
    # d(x, x) has a finite (zero) gradient too
    z = natural_ish(1).requires_grad_(True)
    P.perceptual_distance(z, z.detach(), ex).sum().backward()
    assert torch.isfinite(z.grad).all()


def test_grey_input_equals_repeated_rgb(ex):
    x = natural_ish(2, seed=6)[:, :1]
    y = natural_ish(2, seed=7)[:, :1]
    with torch.no_grad():
        d_grey = P.perceptual_distance(x, y, ex)
        d_rgb = P.perceptual_distance(x.repeat(1, 3, 1, 1), y.repeat(1, 3, 1, 1), ex)
        d_mixed = P.perceptual_distance(x, y.repeat(1, 3, 1, 1), ex)
    assert (d_grey > 0).all()
    torch.testing.assert_close(d_grey, d_rgb)
    torch.testing.assert_close(d_grey, d_mixed)


def test_other_sizes_and_bad_input(ex):
    with torch.no_grad():
        for hw in [(16, 16), (64, 64), (40, 24)]:
            x = torch.rand(1, 3, *hw) * 2 - 1
            d = P.perceptual_distance(x, -x, ex)
            assert torch.isfinite(d).all() and d.item() > 0
    with pytest.raises(ValueError):
        P.perceptual_distance(torch.zeros(1, 2, 16, 16), torch.zeros(1, 2, 16, 16), ex)
    with pytest.raises(ValueError):
        P.perceptual_distance(torch.zeros(1, 3, 16, 16), torch.zeros(2, 3, 16, 16), ex)


def test_perceptual_loss_module(ex):
    x, y = natural_ish(2, seed=8), natural_ish(2, seed=9)
    loss = P.PerceptualLoss()
    assert loss.state_dict() == {} and list(loss.parameters()) == []
    with torch.no_grad():
        torch.testing.assert_close(loss(x, y), P.perceptual_distance(x, y, ex).mean())
    none = P.PerceptualLoss(kind="none")
    assert none(x, y).item() == 0.0 and none.distance(x, y).shape == (2,)
    with pytest.raises(ValueError):
        P.PerceptualLoss(kind="lpips")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- embed, FD


def test_embed_batches_match_single_pass(ex):
    x = natural_ish(5, seed=10)
    e1 = P.embed(x, batch=2, extractor=ex)
    e2 = P.embed(x, batch=64)
    e3 = P.embed([x[:3], x[3:]])
    assert e1.shape == (5, P.EMBED_DIM) and e1.dtype == torch.float32 and not e1.requires_grad
    torch.testing.assert_close(e1, e2, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(e1, e3, rtol=1e-4, atol=1e-5)


def test_fd_identical_sets_is_zero():
    f = np.random.default_rng(0).normal(size=(200, 16))
    assert P.frechet_distance_from_features(f, f) == pytest.approx(0.0, abs=1e-8)
    # fewer samples than dimensions: singular covariance, still ~0
    g = torch.randn(20, 64, generator=torch.Generator().manual_seed(0))
    assert P.frechet_distance_from_features(g, g) == pytest.approx(0.0, abs=1e-6)


def test_fd_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    got = P.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fd_full_covariances_match_other_route():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    mu = rng.normal(size=5)
    # tr((S1 S2)^½) = Σ √λ(S1 S2); S1 S2 is similar to a PSD matrix so λ are real and ≥ 0
    tr = np.sqrt(np.linalg.eigvals(s1 @ s2).real).sum()
    expected = mu @ mu + np.trace(s1) + np.trace(s2) - 2 * tr
    assert P.frechet_distance(mu, s1, np.zeros(5), s2) == pytest.approx(expected, rel=1e-9)
    assert P.frechet_distance(mu, s1, np.zeros(5), s2) == pytest.approx(
        P.frechet_distance(np.zeros(5), s2, mu, s1), rel=1e-9
    )


def test_fd_mean_shift_adds_squared_norm():
    f = torch.randn(300, 8, generator=torch.Generator().manual_seed(3))
    v = torch.tensor([0.5, -1.0, 0.0, 2.0, 0.1, 0.0, 0.0, -0.3])
    got = P.frechet_distance_from_features(f, f + v)
    assert got == pytest.approx(float(v @ v), rel=1e-6)


def test_fd_sample_estimate_near_analytic():
    rng = np.random.default_rng(4)
    f1 = rng.normal(size=(4000, 3)) * np.array([1.0, 2.0, 0.5])
    f2 = rng.normal(size=(4000, 3)) * np.array([1.5, 1.0, 0.5]) + np.array([1.0, 0, 0])
    expected = 1.0 + (1.0 - math.sqrt(2.25)) ** 2 + (2.0 - 1.0) ** 2
    assert P.frechet_distance_from_features(f1, f2) == pytest.approx(expected, abs=0.1)


def test_fd_bad_input():
    with pytest.raises(ValueError):
        P.frechet_distance_from_features(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError):
        P.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
