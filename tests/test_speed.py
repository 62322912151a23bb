"""Training speed contracts: no host reads in the step, deferred logging keeps values, kernel
choice, bf16 demodulation in fp32, channels_last and torch.compile equal to eager."""

from __future__ import annotations

import json
import time

import pytest
import torch
from test_training import DATA, TINY, clf_path, tiny_cfg  # noqa: F401  (fixture)

from stylex.models import Generator, GeneratorConfig
from stylex.models.kernels import choose_modconv, modconv_modes, set_modconv
from stylex.training import checkpoint as ckpt
from stylex.training.fast import StepWindow
from stylex.training.run_folder import create_run
from stylex.training.trainer import TrainingDiverged
from stylex.utils.syncguard import (
    HostSyncError,
    cuda_sync_debug,
    host_reads,
    optimizer_step_tensors,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def make(tmp, clf, name="run", device="cpu", **kw):
    return create_run(
        tmp / name,
        DATA,
        clf,
        resolution=16,
        train=tiny_cfg(**kw),
        size=TINY,
        device=device,
        progress=False,
        force=True,  # the tiny test classifier is near chance on its data
    )


def _opts(tr):
    return optimizer_step_tensors(tr.opt_g, tr.opt_e, tr.opt_d)


# ------------------------------------------------------------------------- host synchronisation
def test_host_reads_detector_sees_reads():
    t = torch.ones(2)
    with host_reads() as reads:
        float(t.sum())
        t.sum().item()
        bool(t.any())
        t.tolist()
        t.cpu()
    assert [name for name, _ in reads.calls] == ["__float__", "item", "__bool__", "tolist", "cpu"]
    assert all("test_speed.py" in where for _, where in reads.calls)
    with host_reads(allow=[t]) as reads:
        t.tolist()
    assert not reads.calls
    with pytest.raises(HostSyncError, match="item"), host_reads(raise_on_read=True):
        torch.zeros(()).item()
    float(torch.zeros(()))  # patches are gone after the block


def test_train_step_has_no_host_reads(tmp_path, clf_path):  # noqa: F811
    # every optional term on, perceptual network included: the full StylEx step
    tr = make(tmp_path, clf_path, perceptual="effnet", lambda_cf=1.0, cond_sparsity=1.0, r1_every=2)
    tr.train_step(0)  # creates the optimiser state
    for step in (1, 2):  # without and with R1
        with host_reads(allow=_opts(tr)) as reads:
            out = tr.train_step(step)
        assert not reads.calls, (step, reads.calls)
        assert all(torch.is_tensor(v) for v in out.values())
    assert "r1" in out


def test_loop_reads_values_only_when_due(tmp_path, clf_path):  # noqa: F811
    tr = make(
        tmp_path,
        clf_path,
        steps=8,
        log_every=4,
        eval_every=100,
        sample_every=100,
        checkpoint_every=100,
    )
    tr.train_step(0)  # creates the optimiser state (its step counters are host scalars)
    marks: list[tuple[str, int, int]] = []
    orig = tr.train_step
    with host_reads(allow=_opts(tr)) as reads:

        def step(s):
            marks.append(("in", s, len(reads)))
            out = orig(s)
            marks.append(("after", s, len(reads)))
            return out

        tr.train_step = step
        tr.train(steps=8)
        marks.append(("end", 8, len(reads)))
    spans: dict[tuple[str, int], list] = {}
    for (kind, s, n), (_, _, n_next) in zip(marks, marks[1:]):
        spans[kind, s] = reads.calls[n:n_next]
    assert all(not spans["in", s] for s in range(8)), spans
    for s in range(8):  # the loop reads after steps 4 and 8 only (log_every=4, end of run)
        assert bool(spans["after", s]) == ((s + 1) % 4 == 0), (s, spans["after", s])


def test_deferred_logging_keeps_logged_values(tmp_path, clf_path):  # noqa: F811
    """Log every step vs every 3rd: the records at steps 3 and 6 are identical."""
    make(tmp_path, clf_path, "every", log_every=1).train()
    make(tmp_path, clf_path, "third", log_every=3).train()

    def recs(name):
        lines = (tmp_path / name / "log.jsonl").read_text().splitlines()
        out = {}
        for r in map(json.loads, lines):
            if "loss_g" in r:
                r.pop("sec_per_step"), r.pop("img_per_s")
                out[r["step"]] = r
        return out

    every, third = recs("every"), recs("third")
    assert sorted(third) == [3, 6]
    for s in (3, 6):
        assert third[s] == every[s], s


def test_divergence_found_at_read_time_names_the_step(tmp_path, clf_path):  # noqa: F811
    tr = make(
        tmp_path, clf_path, steps=9, log_every=3, checkpoint_every=3, eval_every=3, sample_every=3
    )
    orig = tr.train_step

    def broken(step):
        out = orig(step)
        if step == 4:
            out["l1"] = out["l1"] * float("nan")
        return out

    tr.train_step = broken
    with pytest.raises(TrainingDiverged, match=r"step 4 \(l1\)"):
        tr.train()
    assert tr.step == 6  # noticed at the step-6 read, before its checkpoint
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step-0000003"


def test_step_window_reads_floats_and_tensors():
    w = StepWindow()
    w.add(0, {"a": torch.tensor(1.5), "b": 2.0})
    w.add(1, {"a": torch.tensor(float("inf")), "c": torch.tensor(3.0, dtype=torch.bfloat16)})
    w.add(2, {"a": torch.tensor(4.0)})
    last, bad = w.read()
    assert last == {"a": 4.0}
    assert bad == (1, ["a"])
    assert len(w) == 0 and w.read() == ({}, None)
    w.add(0, {"a": torch.tensor(1.0), "d": torch.tensor(2.0)})
    w.add(1, {"a": torch.tensor(3.0)})  # a step without "d" (gan_every > 1: no D phase)
    assert w.read(latest_of_each=True) == ({"a": 3.0, "d": 2.0}, None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the CPU part runs above)")
def test_cuda_step_has_no_device_sync(tmp_path, clf_path):  # noqa: F811
    tr = make(
        tmp_path,
        clf_path,
        device="cuda",
        perceptual="effnet",
        lambda_cf=1.0,
        cond_sparsity=1.0,
        r1_every=2,
        precision="bf16",
    )
    tr.train_step(0)
    torch.cuda.synchronize()
    for step in (1, 2):
        with cuda_sync_debug("error") as on, host_reads(allow=_opts(tr)) as reads:
            assert on
            tr.train_step(step)
        assert not reads.calls, reads.calls
    torch.cuda.synchronize()


# ------------------------------------------------------------------------- kernels and precision
def _tiny_g(cond=2, **kw):
    cfg = GeneratorConfig(
        resolution=16,
        img_channels=3,
        cond_dim=cond,
        z_dim=16,
        w_dim=16,
        mapping_layers=2,
        channel_base=256,
        channel_max=16,
        **kw,
    )
    torch.manual_seed(0)
    return Generator(cfg)


def test_modconv_choice_and_setting():
    g = _tiny_g()
    assert modconv_modes(g) == {"auto"}
    assert choose_modconv(g, 4) == "unfused"  # CPU: the fixed, measured rule
    assert set_modconv(g, "fused") == g.num_layers
    assert modconv_modes(g) == {"fused"}
    with pytest.raises(ValueError):
        set_modconv(g, "grouped")


@CUDA
def test_modconv_measured_on_cuda_and_cached():
    from stylex.models import kernels

    g = _tiny_g().cuda()
    mode = choose_modconv(g, 8, torch.bfloat16)
    assert mode in ("fused", "unfused")
    n = len(kernels._cache)
    assert choose_modconv(g, 8, torch.bfloat16) == mode and len(kernels._cache) == n
    print(f"modconv on {torch.cuda.get_device_name()}: {mode}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_fused_equals_unfused_with_autocast_and_weight_grads(dtype, device):
    g = _tiny_g().to(device)
    z, c = torch.randn(3, 16, device=device), torch.rand(3, 2, device=device)
    outs, grads = [], []
    for fused in (False, True):
        g.zero_grad()
        with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
            img = g.synthesize(g.styles(g.map(z), c), noise_mode="const", fused=fused)
        img.float().square().mean().backward()
        outs.append(img.float())
        grads.append(g.layers[2].conv.weight.grad.clone())
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    torch.testing.assert_close(outs[0], outs[1], atol=tol, rtol=tol)
    torch.testing.assert_close(grads[0], grads[1], atol=tol, rtol=tol * 10)


def test_demodulation_is_float32_under_bf16_autocast():
    conv = _tiny_g().layers[2].conv
    s = torch.randn(2, conv.in_ch).bfloat16()
    w = conv.weight * conv.scale
    with torch.autocast("cpu", dtype=torch.bfloat16):
        d = conv.demod_coefficients(s, w)
    assert d.dtype == torch.float32
    ref = torch.rsqrt(
        (w.double()[None] * s.double()[:, None, :, None, None]).square().sum((2, 3, 4)) + 1e-8
    )
    torch.testing.assert_close(d.double(), ref, rtol=1e-6, atol=0)


def test_channels_last_step_equals_default(tmp_path, clf_path):  # noqa: F811
    a = make(tmp_path, clf_path, "a")
    b = make(tmp_path, clf_path, "b", channels_last=True)
    assert b.G.layers[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    for s in (0, 1):
        sa, sb = a.train_step(s), b.train_step(s)
        for k in sa:
            torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=1e-5, msg=k)


def test_effnet_real_features_computed_once_equal_per_call(tmp_path, clf_path):  # noqa: F811
    """The step computes an "effnet" encoder's features of the real batch once for both phases;
    the reference (E(x) extracting them at every call) trains to identical weights."""
    kw = dict(encoder_features="effnet", lambda_cf=1.0, lambda_inv=1.0)
    once = make(tmp_path, clf_path, "once", **kw)
    ref = make(tmp_path, clf_path, "ref", **kw)
    step_inputs = ref.loss.step_inputs

    def per_call(x, step):
        inp = step_inputs(x, step)
        assert inp.feat_x is not None
        inp.feat_x = None  # E(x) extracts them itself
        return inp

    ref.loss.step_inputs = per_call
    calls = []
    ext_calls = once.E.pretrained_features
    once.E.pretrained_features = lambda img: calls.append(len(img)) or ext_calls(img)
    for s in (0, 1, 2):
        calls.clear()
        so, sr = once.train_step(s), ref.train_step(s)
        for k in sr:
            assert torch.equal(so[k], sr[k]), (k, s)
        # real batch once; E(x_rec) and E(x_rand) of the G+E phase: 3 extractions, not 4
        assert len(calls) == 3, calls
    for name in ("G", "E", "D"):
        pr = dict(getattr(ref, name).named_parameters())
        for k, p in getattr(once, name).named_parameters():
            assert torch.equal(p, pr[k]), (name, k)


def test_perceptual_reads_encoder_passes_equal_own_pass(tmp_path, clf_path):  # noqa: F811
    """With an "effnet" encoder the perceptual term reads the stage maps of the encoder's passes
    (the real batch's, and E(x')'s with its gradient): no pass of its own. The reference (the
    perceptual distance extracting both images itself) trains to the same weights."""
    kw = dict(
        encoder_features="effnet",
        perceptual="effnet",
        lambda_perc=2.0,
        lambda_cf=1.0,
        lambda_inv=1.0,
    )
    shared = make(tmp_path, clf_path, "shared", **kw)
    ref = make(tmp_path, clf_path, "ref", **kw)
    assert shared.loss.perceptual_from_encoder  # 16 px: both at the 64-px working size
    ref.loss.perceptual_from_encoder = False
    passes, own = [], []
    maps_fn = shared.E.pretrained_maps
    shared.E.pretrained_maps = lambda img: passes.append(len(img)) or maps_fn(img)
    perc_fn = shared.perceptual.forward
    shared.perceptual.forward = lambda a, b: own.append(1) or perc_fn(a, b)
    tol = dict(rtol=1e-4, atol=1e-5)
    for s in (0, 1, 2):
        passes.clear()
        ss, sr = shared.train_step(s), ref.train_step(s)
        assert float(sr["perc"]) > 0.01  # the term is on and not trivially zero
        for k in sr:
            torch.testing.assert_close(ss[k], sr[k], **tol, msg=f"{k} at step {s}")
        # the real batch, E(x_rec), E(x_rand): three passes, the perceptual term none
        assert len(passes) == 3 and not own, (passes, own)
    for name in ("G", "E", "D"):
        pr = dict(getattr(ref, name).named_parameters())
        for k, p in getattr(shared, name).named_parameters():
            # the same sums in another order (a batch of b, not 2b): float noise, which Adam
            # magnifies where a gradient is ~0 (such an element moves by up to lr a step)
            torch.testing.assert_close(p, pr[k], rtol=1e-4, atol=1e-3, msg=f"{name}.{k}")


def test_perceptual_not_shared_at_another_working_size(tmp_path, clf_path):  # noqa: F811
    """The trained encoder, or a perceptual size other than the encoder's, keeps its own pass."""
    trained = make(tmp_path, clf_path, "trained", perceptual="effnet", lambda_perc=1.0)
    assert trained.perceptual is not None and not trained.loss.perceptual_from_encoder
    eff = make(tmp_path, clf_path, "eff", encoder_features="effnet", perceptual="effnet")
    assert eff.loss.perceptual_from_encoder
    eff.perceptual.size = 96
    assert not type(eff.loss)(
        eff.G,
        eff.D,
        eff.E,
        eff.classifier,
        eff.tc,
        perceptual=eff.perceptual,
        autocast=eff.loss.autocast,
        d_r1=eff.loss.d_r1,
        dist=eff.loss.dist,
    ).perceptual_from_encoder


# ------------------------------------------------------------------------- torch.compile
@pytest.mark.slow  # ~95 s on 2 CPU cores, most of it inductor compiling
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_compiled_step_equals_eager(tmp_path, clf_path, device):  # noqa: F811
    import torch._dynamo
    import torch._inductor.config as inductor_config
    from torch._dynamo.utils import counters

    kw = dict(device=device, r1_every=2, lambda_cf=1.0, precision="fp32")
    eager = make(tmp_path, clf_path, "eager", **kw)
    comp = make(tmp_path, clf_path, "comp", compile=True, **kw)
    torch._dynamo.reset()
    counters.clear()
    t0 = time.perf_counter()
    old = inductor_config.fallback_random
    inductor_config.fallback_random = True  # the same random noise as eager
    tol = dict(rtol=2e-3, atol=2e-4) if device == "cpu" else dict(rtol=2e-2, atol=2e-3)
    try:
        for s in (0, 1, 2):  # R1 at steps 0 and 2 (eager D inside a compiled step)
            se, sc = eager.train_step(s), comp.train_step(s)
            for k in se:
                torch.testing.assert_close(sc[k], se[k], **tol, msg=f"{k}@{s}")
    finally:
        inductor_config.fallback_random = old
    graphs = counters["stats"]["unique_graphs"]
    print(
        f"compiled 3 steps in {time.perf_counter() - t0:.1f} s: {graphs} graphs, "
        f"graph breaks {dict(counters['graph_break'])}"
    )
    assert graphs >= 5  # D, E, mapping, styles, synthesis (at least one graph each)
    for name in ("G", "E", "D"):
        pe = dict(getattr(eager, name).named_parameters())
        for k, p in getattr(comp, name).named_parameters():
            torch.testing.assert_close(p, pe[k], rtol=1e-2, atol=2e-3, msg=f"{name}.{k}")
