import json
import os
import socket

import pytest
import torch
from torch import nn

from stylex.attfind import (
    AttFind,
    AttFindResult,
    EditContext,
    Effects,
    agreement,
    fast_effects,
    first_order_effects,
    reference_effects,
    select_attributes,
    select_class,
    style_bounds,
    unstable_images,
)
from stylex.models import (
    Discriminator,
    DiscriminatorConfig,
    Encoder,
    EncoderConfig,
    Generator,
    GeneratorConfig,
)
from stylex.run import Run, RunConfig
from stylex.training import TrainConfig
from stylex.training.run_config import ClassifierSection, DataSection

RES = 16


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread is much faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TinyClassifier(nn.Module):
    """A fixed random conv + linear: images [B, C, R, R] in [-1, 1] → logits [B, K]."""

    def __init__(self, channels: int = 1, k: int = 2, res: int = RES, gain: float = 0.5):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.conv = nn.Conv2d(channels, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4 * (res // 2) ** 2, k)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            self.fc.bias.zero_()
        self.gain = gain
        self.class_names = [f"class{i}" for i in range(k)]
        self.num_classes = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1)) * self.gain


def tiny_models(k=2, channels=1, res=RES, seed=0):
    torch.manual_seed(seed)
    g = Generator(
        GeneratorConfig(
            resolution=res,
            img_channels=channels,
            cond_dim=k,
            z_dim=16,
            w_dim=16,
            mapping_layers=2,
            channel_base=128,
            channel_max=8,
        )
    ).eval()
    e = Encoder(
        EncoderConfig(
            resolution=res, img_channels=channels, w_dim=16, channel_base=128, channel_max=8
        )
    ).eval()
    d = Discriminator(
        DiscriminatorConfig(
            resolution=res, img_channels=channels, cond_dim=k, channel_base=128, channel_max=8
        )
    ).eval()
    return g, e, d, TinyClassifier(channels, k, res).eval()


def tiny_run(path=None, k=2, channels=1, seed=0):
    g, e, d, clf = tiny_models(k, channels, seed=seed)
    cfg = RunConfig(
        DataSection(),
        ClassifierSection(class_names=clf.class_names),
        g.config,
        TrainConfig(cond_signal="probs"),
    )
    return Run(path, cfg, g, e, d, clf, torch.device("cpu"))


def tiny_images(n, channels=1, seed=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, RES, RES, generator=g) * 2 - 1


def styles_and_bounds(run, n, include_rgb=False):
    af = AttFind(run, include_rgb=include_rgb, progress=False)
    styles, _ = af.encode(tiny_images(n))
    lo, hi = style_bounds(af.space.flatten(styles))
    return af, styles, lo, hi


# ------------------------------------------------------------------------------ Δ: fast == ref
@pytest.mark.parametrize("include_rgb,shift", [(False, 1.0), (True, 0.5), (True, 1.0)])
def test_fast_equals_reference(include_rgb, shift):
    run = tiny_run(k=3)
    af, styles, lo, hi = styles_and_bounds(run, 3, include_rgb)
    g, clf, space = run.generator, run.classifier, af.space
    ctx = EditContext(g, clf, space, lo, hi, shift)
    ref, ref_base = reference_effects(ctx, styles)
    fast, fast_base = fast_effects(ctx, styles, batch=7, images_per_chunk=2)
    assert ref.shape == (3, 2, space.total, 3) and ref.dtype == torch.float32
    assert ref.abs().max() > 1e-3  # the edits do something
    torch.testing.assert_close(fast, ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(fast_base, ref_base, atol=2e-6, rtol=0)
    # the edit toward the image's own extreme is a no-op: Δ = 0 there
    flat = space.flatten(styles)
    at_min = flat == lo
    assert ref[:, 0][at_min].abs().max() < 1e-6

    def eff(delta, base):
        return Effects(
            delta,
            base,
            lo,
            hi,
            flat,
            torch.arange(3),
            ["a", "b", "c"],
            space.layers,
            space.sizes,
            include_rgb,
            shift,
            ["x", "y", "z"],
        )

    sel_ref, _ = select_attributes(eff(ref, ref_base), 4, max_flip_fraction=None)
    sel_fast, _ = select_attributes(eff(fast, fast_base), 4, max_flip_fraction=None)
    keys = [[(a.layer, a.channel, a.direction) for a in c.attributes] for c in sel_ref]
    assert keys == [[(a.layer, a.channel, a.direction) for a in c.attributes] for c in sel_fast]
    assert any(keys)


def test_fast_respects_computed_mask_and_matches_attfind_reference_method():
    run = tiny_run()
    af, styles, lo, hi = styles_and_bounds(run, 2)
    mask = torch.zeros(2, af.space.total, dtype=torch.bool)
    mask[0, ::3] = True
    mask[1, 5] = True
    ctx = EditContext(run.generator, run.classifier, af.space, lo, hi)
    d_fast, _ = fast_effects(ctx, styles, computed=mask, batch=5)
    assert (d_fast[:, ~mask] == 0).all()
    ref = AttFind(run, include_rgb=af.include_rgb, progress=False, method="reference").effects(
        styles=styles, computed=mask, resume=False
    )
    torch.testing.assert_close(d_fast, ref.delta, atol=2e-6, rtol=0)


# ------------------------------------------------------------------------------ selection
def _hand_made():
    """4 images, S = 3, K = 2 (see the test for the expected greedy order)."""
    n, s = 4, 3
    d1 = torch.zeros(n, 2, s)  # Δ p_1
    d1[:3, 1, 0] = torch.tensor([0.5, 0.3, 0.0])  # P_a = (max, 0): mean 0.2667
    d1[:3, 0, 2] = torch.tensor([0.3, 0.3, 0.05])  # P_b = (min, 2): mean 0.2167
    d1[:3, 1, 1] = torch.tensor([0.0, 0.0, 0.15])  # P_c = (max, 1): mean 0.05
    d1[:3, 0, 0] = torch.tensor([-0.2, -0.2, 0.01])  # P_d = (min, 0): e mean 0.0033
    d1[3, 0, 1] = -0.7  # image 3 (class 1) toward class 0
    d1[3, 1, 2] = 0.9  # ignored for class 1: image 3 is already class 1
    delta = torch.stack([-d1, d1], dim=-1)
    base = torch.tensor([[0.9, 0.1]] * 3 + [[0.2, 0.8]])
    return delta, base


def test_greedy_selection_order_threshold_and_flips():
    delta, base = _hand_made()
    # the colab's rule: only the picked pair itself is barred
    picked, rejected, m = select_class(delta, base, 1, 4, threshold=0.2, one_direction=False)
    assert m == 3 and rejected == []
    assert [(p["direction"], p["index"]) for p in picked] == [(1, 0), (1, 1), (0, 2), (0, 0)]
    assert picked[0]["flipped"] == 1  # image 0: 0.1 + 0.5 > 0.9 - 0.5; image 1 not
    assert picked[0]["effect"] == pytest.approx(0.8 / 3)
    assert picked[3]["effect"] == pytest.approx(0.01 / 3)
    assert picked[3]["mean_delta"] == pytest.approx(-0.39 / 3)
    # without a threshold: plain greedy by mean effect
    picked, _, _ = select_class(delta, base, 1, 4, threshold=float("inf"), one_direction=False)
    assert [(p["direction"], p["index"]) for p in picked] == [(1, 0), (0, 2), (1, 1), (0, 0)]
    # the default: (min, 0) would undo (max, 0), so it is never picked; each of the three
    # coordinates is used once and the loop stops short of top_k
    picked, _, _ = select_class(delta, base, 1, 4, threshold=0.2)
    assert [(p["direction"], p["index"]) for p in picked] == [(1, 0), (1, 1), (0, 2)]
    picked, _, _ = select_class(delta, base, 1, 4, threshold=float("inf"))
    assert [(p["direction"], p["index"]) for p in picked] == [(1, 0), (0, 2), (1, 1)]
    # class 0: only image 3 is considered; its best pair is (min, 1), which flips it
    picked, _, m = select_class(delta, base, 0, 1)
    assert m == 1 and (picked[0]["direction"], picked[0]["index"]) == (0, 1)
    assert picked[0]["flipped"] == 1
    # top_k stops the loop; an accept filter rejects without counting
    picked, rejected, _ = select_class(
        delta, base, 1, 2, threshold=0.2, accept=lambda d, i, idx: (d, i) != (1, 1)
    )
    assert [(p["direction"], p["index"]) for p in picked] == [(1, 0), (0, 2)]
    assert [(r["direction"], r["index"]) for r in rejected] == [(1, 1)]
    # a rejected pair does not bar the other direction of its coordinate
    picked, rejected, _ = select_class(
        delta, base, 1, 3, threshold=float("inf"), accept=lambda d, i, idx: (d, i) != (1, 0)
    )
    assert [(p["direction"], p["index"]) for p in picked] == [(0, 2), (1, 1), (0, 0)]
    assert [(r["direction"], r["index"]) for r in rejected] == [(1, 0)]
    # pairs not computed are never picked
    computed = torch.ones(2, 3, dtype=torch.bool)
    computed[1, 0] = False
    picked, _, _ = select_class(delta, base, 1, 1, computed=computed)
    assert (picked[0]["direction"], picked[0]["index"]) == (0, 2)


def test_one_vs_rest_three_classes():
    n, s, k = 6, 4, 3
    base = torch.zeros(n, k)
    base[torch.arange(n), torch.tensor([0, 0, 1, 1, 2, 2])] = 0.8
    base += 0.1
    delta = torch.zeros(n, 2, s, k)
    delta[:, 1, 0, 2] = 0.3  # (max, 0) pushes everything toward class 2
    delta[:, 0, 3, 0] = 0.2  # (min, 3) toward class 0
    delta[:, 1, 2, 1] = 0.1  # (max, 2) toward class 1
    delta[0:2, 0, 1, 1] = 0.5  # (min, 1) toward class 1, only on class-0 images
    flat = torch.zeros(n, s)
    eff = Effects(
        delta,
        base,
        flat[0],
        flat[0] + 1,
        flat,
        torch.arange(n),
        [str(i) for i in range(n)],
        [0, 2],
        [2, 2],
        False,
        1.0,
        ["a", "b", "c"],
    )
    classes, unstable = select_attributes(eff, 1, max_flip_fraction=None)
    assert not unstable.any()
    got = [
        (c.name, c.num_considered, c.attributes[0].direction, c.attributes[0].index)
        for c in classes
    ]
    assert got == [("a", 4, "min", 3), ("b", 4, "min", 1), ("c", 4, "max", 0)]
    # the StyleSpace [layers 0, 2; 2 channels each] maps index 3 → layer 2, channel 1
    a = classes[0].attributes[0]
    assert (a.layer, a.channel, a.target) == (2, 1, 0.0)
    assert classes[2].attributes[0].target == 1.0


def test_unstable_images_rule():
    n, s = 3, 10
    base = torch.tensor([[0.6, 0.4], [0.7, 0.3], [0.9, 0.1]])
    d1 = torch.zeros(n, 2, s)
    d1[0, 0, :5] = 0.3  # image 0 flips under 5 of 20 pairs (25 %)
    d1[1, 1, 0] = 0.3  # image 1 under 1 of 20 (5 %)
    d1[2, 1, 1] = 0.3  # image 2 gets closer but does not flip
    delta = torch.stack([-d1, d1], dim=-1)
    assert unstable_images(delta, base, 0.1).tolist() == [True, False, False]
    assert unstable_images(delta, base, 0.04).tolist() == [True, True, False]
    # not computed pairs do not count
    computed = torch.ones(2, s, dtype=torch.bool)
    computed[0, :4] = False
    assert unstable_images(delta, base, 0.04, computed).tolist() == [True, True, False]
    assert unstable_images(delta, base, 0.05, computed).tolist() == [False, False, False]
    # dropped images are not considered in selection
    flat = torch.zeros(n, s)
    eff = Effects(
        delta,
        base,
        flat[0],
        flat[0],
        flat,
        torch.arange(n),
        ["0", "1", "2"],
        [0],
        [s],
        False,
        1.0,
        ["a", "b"],
    )
    classes, unstable = select_attributes(eff, 1, max_flip_fraction=0.1)
    assert unstable.tolist() == [True, False, False]
    assert classes[1].num_considered == 2
    assert (classes[1].attributes[0].direction, classes[1].attributes[0].index) == ("max", 0)


# ------------------------------------------------------------------------------ files, resume
def test_attribute_save_load_round_trip_and_schema(tmp_path):
    run = tiny_run(k=3)
    images = tiny_images(5)
    res = AttFind(run, progress=False).attribute(
        images,
        top_k=3,
        screen=False,
        max_flip_fraction=None,
        image_ids=[f"img{i}" for i in range(5)],
        resume=False,
    )
    out = res.save(tmp_path / "attfind")
    j = json.loads((out / "attributes.json").read_text())
    assert [c["class"] for c in j["classes"]] == ["class0", "class1", "class2"]
    for c in j["classes"]:
        for a in c["attributes"]:
            assert {"layer", "channel", "index", "direction", "effect", "flipped", "target"} <= set(
                a
            )
            assert a["direction"] in ("min", "max")
    assert j["num_images"] == 5 and j["shift_size"] == 1.0 and j["include_rgb"] is True
    assert j["screen"] is False and j["top_k"] == 3
    assert (out / "effects.safetensors").is_file() and (out / "effects.json").is_file()
    assert json.loads((out / "effects.json").read_text())["image_ids"][0] == "img0"
    back = AttFindResult.load(out)
    torch.testing.assert_close(back.effects.delta, res.effects.delta)
    torch.testing.assert_close(back.effects.style_max, res.effects.style_max)
    assert back.effects.image_ids == res.effects.image_ids
    assert back.effects.space.layers == run.generator.style_space(include_rgb=True).layers
    for a, b in zip(back.classes, res.classes):
        assert [x.to_dict() for x in a.attributes] == [x.to_dict() for x in b.attributes]
    assert agreement(res, back) == 1.0
    # the recorded index and (layer, channel) agree with the StyleSpace
    sp = back.effects.space
    for c in back.classes:
        for a in c.attributes:
            assert sp.locate(a.index) == (a.layer, a.channel)
    assert "class0" in back.table()


def test_resume_after_interruption(tmp_path):
    run = tiny_run()
    images = tiny_images(6)
    partial = tmp_path / "partial"
    full = AttFind(run, progress=False, images_per_chunk=2).effects(images, resume=False)

    af = AttFind(run, progress=False, images_per_chunk=2)
    calls = []
    real = af._compute_chunk

    def flaky(*a, **kw):
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        calls.append(1)
        return real(*a, **kw)

    af._compute_chunk = flaky
    with pytest.raises(RuntimeError, match="simulated crash"):
        af.effects(images, partial_dir=partial)
    assert len(list(partial.glob("chunk-*.safetensors"))) == 2

    af2 = AttFind(run, progress=False, images_per_chunk=2)
    calls2 = []
    real2 = af2._compute_chunk
    af2._compute_chunk = lambda *a, **kw: calls2.append(1) or real2(*a, **kw)
    eff = af2.effects(images, partial_dir=partial)
    assert len(calls2) == 1 and af2.stats["reused"] == 2  # only the unfinished chunk
    torch.testing.assert_close(eff.delta, full.delta, atol=0, rtol=0)
    torch.testing.assert_close(eff.base_probs, full.base_probs, atol=0, rtol=0)
    assert not partial.exists()  # partials deleted at the end

    # a partial from another configuration (shift size) is not reused
    af3 = AttFind(run, progress=False, images_per_chunk=2, shift_size=0.5)
    af3._compute_chunk = lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("stop"))
    with pytest.raises(RuntimeError):
        af3.effects(images, partial_dir=partial)
    af4 = AttFind(run, progress=False, images_per_chunk=2)
    calls4 = []
    real4 = af4._compute_chunk
    af4._compute_chunk = lambda *a, **kw: calls4.append(1) or real4(*a, **kw)
    af4.effects(images, partial_dir=partial)
    assert len(calls4) == 3


# ------------------------------------------------------------------------------ multi-process
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dist_worker(rank, world, port, out):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    import torch.distributed as dist

    try:
        af = AttFind(tiny_run(), progress=False, images_per_chunk=2)
        eff = af.effects(tiny_images(5), resume=False)
        torch.save({"delta": eff.delta, "base": eff.base_probs, "stats": af.stats}, f"{out}.{rank}")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_two_process_gloo_equals_single_process(tmp_path):
    import torch.multiprocessing as mp

    out = str(tmp_path / "dist.pt")
    mp.spawn(_dist_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    single = AttFind(tiny_run(), progress=False, images_per_chunk=2).effects(
        tiny_images(5), resume=False
    )
    for rank in (0, 1):
        got = torch.load(f"{out}.{rank}", weights_only=True)
        assert got["stats"]["world"] == 2
        assert got["stats"]["computed"] == (2 if rank == 0 else 1)  # 3 chunks, round-robin
        torch.testing.assert_close(got["delta"], single.delta, atol=0, rtol=0)
        torch.testing.assert_close(got["base"], single.base_probs, atol=0, rtol=0)


# ------------------------------------------------------------------------------ screening
def test_first_order_estimate_matches_small_edits():
    """The screening estimate is the exact first-order term: it converges for small shifts."""
    run = tiny_run(k=3)
    af, styles, lo, hi = styles_and_bounds(run, 2)
    g, clf = run.generator.double(), run.classifier.double()
    styles = [s.double() for s in styles]
    errors = []
    for shift in (1e-2, 1e-3):
        ctx = EditContext(g, clf, af.space, lo, hi, shift)
        est, base = first_order_effects(ctx, styles, batch=1)
        exact, base2 = fast_effects(ctx, styles)
        torch.testing.assert_close(base, base2.to(base.dtype), atol=1e-6, rtol=0)
        errors.append(float((est - exact).abs().max() / exact.abs().max()))
    assert errors[1] < 0.03 and errors[1] < errors[0] / 4, errors


def test_screening_candidates_follow_the_selection_rule():
    from stylex.attfind import screen_candidates

    # two images, both predicted class 0; effects toward class 1 of (direction, coordinate):
    # (max, 0) takes image A past the threshold; then only image B counts, and its best pair is
    # (min, 0) (the other direction of the first pick), its next (max, 1)
    s = 4
    d1 = torch.zeros(2, 2, s)
    d1[:, 1, 0] = torch.tensor([0.6, 0.0])  # (max, 0): mean 0.3
    d1[:, 0, 0] = torch.tensor([-0.5, 0.3])  # (min, 0): e mean 0.15
    d1[:, 1, 1] = torch.tensor([0.4, 0.1])  # (max, 1): mean 0.25
    d1[:, 1, 2] = torch.tensor([0.35, 0.05])  # (max, 2): mean 0.2
    delta = torch.stack([-d1, d1], dim=-1)
    base = torch.tensor([[0.9, 0.1], [0.9, 0.1]])
    flat = {(d, i): d * s + i for d in (0, 1) for i in range(s)}
    _, colab = screen_candidates(delta, base, 2, max_flip_fraction=None, one_direction=False)
    assert colab[1] == [flat[1, 0], flat[0, 0]]
    _, default = screen_candidates(delta, base, 2, max_flip_fraction=None)
    assert default[1] == [flat[1, 0], flat[1, 1]]


def test_screening_selects_from_candidates():
    run = tiny_run(k=3)
    images = tiny_images(6)
    af = AttFind(run, progress=False)
    res = af.attribute(
        images, top_k=2, screen=True, candidates=3, max_flip_fraction=None, resume=False
    )
    computed = res.effects.computed
    assert 0 < int(computed.sum()) <= 3 * 3
    assert res.config["screen"] and res.config["pairs_computed"] == int(computed.sum())
    assert (res.effects.delta[:, ~computed] == 0).all()
    for c in res.classes:
        for a in c.attributes:
            assert computed[a.direction_index, a.index]
    exact = af.attribute(images, top_k=2, screen=False, max_flip_fraction=None, resume=False)
    assert exact.config["screen"] is False and bool(exact.effects.computed.all())
    torch.testing.assert_close(
        res.effects.delta[:, computed], exact.effects.delta[:, computed], atol=2e-6, rtol=0
    )
    assert 0.0 <= agreement(exact, res, k=2) <= 1.0
    # two-stage: a first-order pool re-ranked by the exact Δ on a subset of images
    two = af.attribute(
        images,
        top_k=2,
        screen=True,
        candidates=2,
        screen_pool=6,
        screen_subset=3,
        max_flip_fraction=None,
        resume=False,
    )
    assert 0 < two.config["pairs_computed"] <= 2 * 3
    assert two.config["screen_pool"] == 6
    for c in two.classes:
        for a in c.attributes:
            assert two.effects.computed[a.direction_index, a.index]


def test_default_mode_is_screening_with_exact_recheck():
    from stylex.attfind import DEFAULT_CANDIDATES_PER_TOP_K

    run = tiny_run(k=3)
    images = tiny_images(6)
    af = AttFind(run, progress=False)
    res = af.attribute(images, top_k=2, max_flip_fraction=None, resume=False)
    want = DEFAULT_CANDIDATES_PER_TOP_K * 2
    assert res.config["screen"] is True and res.config["candidates"] == want
    computed = res.effects.computed
    assert 0 < int(computed.sum()) <= 3 * want < computed.numel()
    # the same candidates as asking for screening explicitly, and their Δ is the exact one
    explicit = af.attribute(
        images, top_k=2, screen=True, candidates=want, max_flip_fraction=None, resume=False
    )
    assert torch.equal(explicit.effects.computed, computed)
    assert [c.to_dict() for c in explicit.classes] == [c.to_dict() for c in res.classes]
    exact = af.attribute(images, top_k=2, screen=False, max_flip_fraction=None, resume=False)
    torch.testing.assert_close(
        res.effects.delta[:, computed], exact.effects.delta[:, computed], atol=2e-6, rtol=0
    )


def test_discriminator_filter_rejects_with_margin():
    run = tiny_run()
    images = tiny_images(6)
    af = AttFind(run, progress=False)
    strict = af.attribute(
        images,
        top_k=2,
        screen=False,
        d_filter=True,
        d_margin=-1e9,
        max_flip_fraction=None,
        resume=False,
    )
    assert all(not c.attributes for c in strict.classes)
    rejected = [r for c in strict.classes for r in c.rejected]
    assert rejected and {"d_drop", "d_limit"} <= set(rejected[0].extra)
    loose = af.attribute(
        images,
        top_k=2,
        screen=False,
        d_filter=True,
        d_margin=1e9,
        max_flip_fraction=None,
        resume=False,
    )
    plain = af.attribute(images, top_k=2, screen=False, max_flip_fraction=None, resume=False)
    assert agreement(plain, loose, k=2) == 1.0


# ------------------------------------------------------------------------------ CLI
def _write_run_folder(path):
    cls_mod = pytest.importorskip("stylex.classifier")
    if not hasattr(cls_mod, "save_torchscript") or not hasattr(cls_mod, "load_classifier"):
        pytest.skip("stylex.classifier.save_torchscript/load_classifier not available yet")
    from stylex.data import load_dataset

    spec = "shapes?n=40"
    ds = load_dataset(spec, resolution=RES, channels=3, seed=0)
    g, e, d, clf = tiny_models(k=ds.num_classes, channels=3)
    path.mkdir(parents=True)
    for m in (g, e, d):
        m.save_pretrained(path)
    contract = cls_mod.ClassifierContract(class_names=list(ds.class_names))
    cls_mod.save_torchscript(clf, contract, path / "classifier.pt")
    config = {
        "format_version": 1,
        "data": {
            "spec": spec,
            "resolution": RES,
            "channels": 3,
            "val_fraction": 0.25,
            "seed": 0,
            "num_images": len(ds),
            "class_names": list(ds.class_names),
        },
        "classifier": {
            "file": "classifier.pt",
            "source": "test",
            "class_names": list(ds.class_names),
        },
        "generator": g.config.to_dict(),
        "train": {"cond_signal": "probs", "baseline": False},
    }
    (path / "config.json").write_text(json.dumps(config))
    return ds


def test_cli_on_tiny_run_folder(tmp_path, capsys):
    from stylex.cli import main

    run_dir = tmp_path / "run"
    ds = _write_run_folder(run_dir)
    code = main(
        [
            "attfind",
            "--run",
            str(run_dir),
            "--num-images",
            "6",
            "--top-k",
            "2",
            "--batch",
            "50",
            "--no-progress",
            "--max-flip-fraction",
            "1",
            "--images-per-chunk",
            "4",
            "--exact",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "AttFind (exact)" in out and ds.class_names[0] in out
    res = AttFindResult.load(run_dir / "attfind")
    assert res.effects.num_images == 6 and res.class_names == list(ds.class_names)
    assert res.effects.include_rgb is True  # the default: StyleSpace with the toRGB styles
    assert res.effects.image_indices.tolist() == list(range(6))
    assert not (run_dir / "attfind" / "partial").exists()
    assert res.config["one_direction"] is True  # the default selection rule, recorded
    for c in res.classes:
        coords = [a.index for a in c.attributes]
        assert len(coords) == len(set(coords))  # never both directions of one coordinate
    code = main(
        [
            "attfind",
            "--run",
            str(run_dir),
            "--num-images",
            "6",
            "--top-k",
            "2",
            "--screen",
            "--candidates",
            "3",
            "--no-progress",
            "--no-include-rgb",
            "--both-directions",
        ]
    )
    assert code == 0
    j = json.loads((run_dir / "attfind" / "attributes.json").read_text())
    assert j["screen"] is True and j["include_rgb"] is False and j["candidates"] == 3
    assert j["one_direction"] is False
    effects = AttFindResult.load(run_dir / "attfind").effects
    assert effects.num_coords == sum(effects.sizes) < res.effects.num_coords  # conv layers only


# ------------------------------------------------------------------------------ temperature
def test_temperature_measures_effects_on_softened_probabilities(tmp_path):
    from stylex.attfind import TemperedClassifier

    run = tiny_run(k=3)
    images = tiny_images(3)
    t = 4.0
    af = AttFind(run, progress=False, temperature=t)
    styles, _ = af.encode(images)
    lo, hi = style_bounds(af.space.flatten(styles))
    got = af.effects(styles=styles, resume=False)

    # the definition, with the classifier's logits divided by T
    class Divided(torch.nn.Module):
        def forward(self, x):
            return run.classifier(x) / t

    ref, ref_base = reference_effects(
        EditContext(run.generator, Divided(), af.space, lo, hi), styles
    )
    torch.testing.assert_close(got.delta, ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(got.base_probs, ref_base, atol=1e-6, rtol=0)
    plain = AttFind(run, progress=False).effects(styles=styles, resume=False)
    # softer probabilities, same decisions
    assert got.base_probs.max(1).values.mean() < plain.base_probs.max(1).values.mean()
    assert torch.equal(got.predicted, plain.predicted)
    assert torch.equal(got.edited_predictions(), plain.edited_predictions())
    x = images[:2]
    assert torch.equal(
        TemperedClassifier(run.classifier, t)(x).argmax(1), run.classifier(x).argmax(1)
    )
    res = af.attribute(images, top_k=2, screen=False, max_flip_fraction=None, resume=False)
    assert res.to_json()["temperature"] == t
    from stylex.errors import StylexError

    with pytest.raises(StylexError, match="temperature"):
        AttFind(run, temperature=0)
