import json

import pytest
import torch

from stylex.errors import RunError
from stylex.models import (
    Discriminator,
    DiscriminatorConfig,
    Encoder,
    EncoderConfig,
    Generator,
    GeneratorConfig,
)
from stylex.runtime import allocator_tuned


def tiny_g(res=16, ch=1, cond=0, **kw):
    cfg = GeneratorConfig(
        resolution=res,
        img_channels=ch,
        cond_dim=cond,
        z_dim=16,
        w_dim=16,
        mapping_layers=2,
        channel_base=256,
        channel_max=16,
        **kw,
    )
    torch.manual_seed(0)
    return Generator(cfg).eval()


@pytest.mark.parametrize("res", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("ch", [1, 3])
def test_shapes_every_resolution_and_channels(res, ch):
    cb = 64 if res >= 128 else 256
    g = Generator(
        GeneratorConfig(
            resolution=res,
            img_channels=ch,
            cond_dim=2,
            z_dim=8,
            w_dim=8,
            mapping_layers=1,
            channel_base=cb,
            channel_max=8,
        )
    )
    z, c = torch.randn(2, 8), torch.rand(2, 2)
    img = g(z, c)
    assert img.shape == (2, ch, res, res)
    assert torch.isfinite(img).all()
    d = Discriminator(
        DiscriminatorConfig(
            resolution=res, img_channels=ch, cond_dim=2, channel_base=cb, channel_max=8
        )
    )
    assert d(img, c).shape == (2,)
    e = Encoder(
        EncoderConfig(resolution=res, img_channels=ch, w_dim=8, channel_base=cb, channel_max=8)
    )
    assert e(img).shape == (2, 8)
    # 2 layers at 4 px + 3 per doubling
    n_doublings = {16: 2, 32: 3, 64: 4, 128: 5, 256: 6}[res]
    assert g.num_layers == 2 + 3 * n_doublings


def test_bad_configs_rejected():
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(resolution=48)
    with pytest.raises(ValueError, match="img_channels"):
        GeneratorConfig(img_channels=2)
    g = tiny_g(cond=2)
    with pytest.raises(ValueError, match="conditional"):
        g.styles(torch.randn(1, 16))


@pytest.mark.parametrize("cond", [0, 3])
def test_fused_equals_unfused(cond):
    g = tiny_g(res=32, ch=3, cond=cond)
    z = torch.randn(3, 16)
    c = torch.rand(3, cond) if cond else None
    styles = g.styles(g.map(z), c)
    a = g.synthesize(styles, fused=False)
    b = g.synthesize(styles, fused=True)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # gradients agree too
    ga = torch.autograd.grad(g.synthesize(styles, fused=False).square().sum(), styles[3])[0]
    gb = torch.autograd.grad(g.synthesize(styles, fused=True).square().sum(), styles[3])[0]
    torch.testing.assert_close(ga, gb, atol=1e-3, rtol=1e-3)


def test_partial_rerun_equals_full_synthesis_for_every_layer():
    g = tiny_g(res=32, ch=3, cond=2)
    torch.manual_seed(1)
    z, c = torch.randn(2, 16), torch.rand(2, 2)
    with torch.no_grad():
        styles = g.styles(g.map(z), c)
        space = g.style_space(include_rgb=True)
        for layer in range(g.num_layers):
            state = g.run_until(styles, layer)
            # a batch of edits of this layer, one per channel (first 4 channels), both samples
            n_ch = min(4, styles[layer].shape[1])
            edited = [s.repeat_interleave(n_ch, 0) for s in styles]
            el = edited[layer].clone()
            for j in range(n_ch):
                el[j::n_ch, j] += 3.0
            edited[layer] = el
            fast = g.run_from(state.repeat_interleave(n_ch), edited, layer)
            ref = g.synthesize(edited)
            torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
            assert space.index(layer, 0) == space.offsets[layer]
        # the edit does change the image
        base = g.synthesize(styles)
        assert (ref - base.repeat_interleave(n_ch, 0)).abs().max() > 1e-3


def test_rgb_edit_through_the_skip_path_equals_full_synthesis():
    """``run_rgb_edit``: a toRGB edit carried to the output by the skip path alone (no later
    convolution re-run) gives the image of a full synthesis of the edited styles."""
    g = tiny_g(res=32, ch=3, cond=2)
    torch.manual_seed(2)
    z, c = torch.randn(2, 16), torch.rand(2, 2)
    with torch.no_grad():
        styles = g.styles(g.map(z), c)
        base = g.synthesize(styles)
        noise = g.make_noise(2, "const")
        rgb_layers = [i for i, kind in enumerate(g.layer_kinds()) if kind == "rgb"]
        assert len(rgb_layers) >= 3
        for layer in rgb_layers:
            state = g.run_until(styles, layer)
            skip = g.run_layers(state, styles, layer, layer + 1, noise).img
            edited = list(styles)
            edited[layer] = styles[layer].clone()
            edited[layer][:, 0] += 3.0
            fast = g.run_rgb_edit(state, edited[layer], layer, base, skip)
            ref = g.synthesize(edited)
            torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
            assert (ref - base).abs().max() > 1e-3
        with pytest.raises(ValueError, match="not a toRGB"):
            g.run_rgb_edit(g.run_until(styles, 0), styles[0], 0, base, base)


def test_edit_context_edits_like_the_functions():
    from stylex.models import EditContext
    from stylex.models.stylespace import edit, edit_targets, style_bounds

    g = tiny_g(res=16)
    styles = g.styles(torch.randn(3, 16))
    space = g.style_space()
    ctx = EditContext.from_styles(g, torch.nn.Identity(), styles, space, shift_size=0.5)
    lo, hi = style_bounds(space.flatten(styles))
    torch.testing.assert_close(ctx.targets, edit_targets(lo, hi), atol=0, rtol=0)
    i = space.total - 1
    got = ctx.edit(styles, i, ctx.targets[1, i])
    want = edit(styles, space, i, ctx.targets[1, i], 0.5)
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)
    layer, ch = space.locate(i)
    s = styles[layer][:, ch]
    assert torch.equal(got[layer][:, ch], s + 0.5 * (hi[i] - s))
    assert got[0] is styles[0]  # only the edited layer is copied


def test_style_space_index_roundtrip():
    g = tiny_g(res=32)
    for include_rgb in (False, True):
        sp = g.style_space(include_rgb)
        kinds = g.layer_kinds()
        assert all(include_rgb or kinds[layer] == "conv" for layer in sp.layers)
        for i in range(sp.total):
            layer, ch = sp.locate(i)
            assert sp.index(layer, ch) == i
        with pytest.raises(IndexError):
            sp.locate(sp.total)
    # captions: the first layers are conv 4 px then toRGB 4 px; the last is toRGB at 32 px
    assert [g.describe_layer(i) for i in (0, 1)] == ["conv 4 px", "toRGB 4 px"]
    assert g.describe_layer(g.num_layers - 1) == "toRGB 32 px"
    sp = g.style_space()
    styles = g.styles(torch.randn(2, 16))
    flat = sp.flatten(styles)
    assert flat.shape == (2, sp.total)
    back = sp.unflatten(flat * 2, styles)
    for layer in sp.layers:
        torch.testing.assert_close(back[layer], styles[layer] * 2)


def test_determinism_with_fixed_seed_and_noise():
    a = tiny_g(res=16, cond=1)
    b = tiny_g(res=16, cond=1)
    z, c = torch.randn(2, 16), torch.rand(2, 1)
    torch.testing.assert_close(a.generate(a.map(z), c), b.generate(b.map(z), c))
    torch.manual_seed(5)
    r1 = a(z, c, noise_mode="random")
    torch.manual_seed(5)
    r2 = a(z, c, noise_mode="random")
    torch.testing.assert_close(r1, r2)
    # noise matters: const vs none differ once noise strength is non-zero
    with torch.no_grad():
        for layer in a.layers:
            if layer.kind == "conv":
                layer.noise_strength.fill_(0.5)
    s = a.styles(a.map(z), c)
    diff = a.synthesize(s, noise_mode="const") - a.synthesize(s, noise_mode="none")
    assert diff.abs().max() > 0


def test_save_load_roundtrip(tmp_path):
    g = tiny_g(res=16, ch=3, cond=2)
    with torch.no_grad():
        g.w_avg.normal_()
    g.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "generator.json").read_text())
    assert meta["class"] == "Generator" and meta["config"]["cond_dim"] == 2
    g2 = Generator.from_pretrained(tmp_path)
    z, c = torch.randn(2, 16), torch.rand(2, 2)
    torch.testing.assert_close(g.generate(g.map(z), c), g2.generate(g2.map(z), c))
    torch.testing.assert_close(g.w_avg, g2.w_avg)
    for cls, cfg in [
        (
            Discriminator,
            DiscriminatorConfig(resolution=16, cond_dim=2, channel_base=128, channel_max=8),
        ),
        (Encoder, EncoderConfig(resolution=16, w_dim=8, channel_base=128, channel_max=8)),
    ]:
        m = cls(cfg)
        m.save_pretrained(tmp_path)
        m2 = cls.from_pretrained(tmp_path)
        for (k, v), (k2, v2) in zip(m.state_dict().items(), m2.state_dict().items()):
            assert k == k2 and torch.equal(v, v2)
    # wrong class / incompatible config / torn weights give RunError
    with pytest.raises(RunError, match="holds a"):
        Encoder.from_pretrained(tmp_path, name="generator")
    (tmp_path / "bad.json").write_text(json.dumps({"class": "Generator", "config": {"foo": 1}}))
    with pytest.raises(RunError, match="incompatible"):
        Generator.from_pretrained(tmp_path, name="bad")
    raw = (tmp_path / "generator.safetensors").read_bytes()
    (tmp_path / "generator.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(RunError, match="cannot read"):
        Generator.from_pretrained(tmp_path)


def test_truncation_moves_toward_w_avg():
    g = tiny_g()
    with torch.no_grad():
        g.w_avg.fill_(0.3)
        z = torch.randn(4, 16)
        w1 = g.map(z)
        w0 = g.map(z, truncation=0.0)
    torch.testing.assert_close(w0, torch.full_like(w0, 0.3))
    assert not torch.allclose(w1, w0)


def test_allocator_tuned_on_import():
    import ctypes.util

    if ctypes.util.find_library("c"):
        assert allocator_tuned()
