"""Training recipes (issue 16): presets, the CLI's default, and the recipe's loss terms."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest
import torch

from stylex.training import TrainConfig
from stylex.training import cli as train_cli
from stylex.training.losses import (
    border_background,
    drop_condition,
    edge_l1,
    envelope_l1,
    foreground_l1,
    image_gradients,
    l1,
    reconstruction_loss,
    warmup_ramp,
)
from stylex.training.recipes import (
    DEFAULT_RECIPE,
    RECIPES,
    UnknownRecipe,
    recipe_config,
)

# TrainConfig's defaults before recipes existed (the paper's StylEx): `--recipe paper` must
# reproduce them exactly.
OLD_DEFAULTS = dict(
    steps=10000,
    batch=16,
    lr_g=0.002,
    lr_d=0.002,
    lr_e=0.002,
    beta1=0.0,
    beta2=0.99,
    r1_gamma=1.0,
    r1_every=16,
    lambda_l1=1.0,
    lambda_perc=0.1,
    lambda_w=1.0,
    lambda_cls=1.0,
    cond_sparsity=0.0,
    lambda_cf=0.0,
    cond_signal="probs",
    baseline=False,
    ema_kimg=10.0,
    ema_rampup=0.05,
    seed=0,
    precision="auto",
    perceptual="effnet",
    checkpoint_every=500,
    keep_checkpoints=3,
    sample_every=500,
    log_every=10,
    eval_every=250,
    eval_images=64,
)
NEW_OFF = dict(
    lambda_adv_cf=0.0,
    lambda_cf_prox=0.0,
    d_cf=False,
    cf_to_encoder=True,  # the counterfactual terms reach the encoder (as before the option)
    lambda_env=0.0,
    lambda_edge=0.0,
    rec_loss="l1",
    lambda_inv=0.0,
    cond_dropout=0.0,
    warmup_steps=0,
    warmup_adv=1.0,
    compile=False,
    channels_last=False,
    cond_min_res=0,
    gan_every=1,  # the adversarial game on every step (as before the option)
    balance_classes=False,
    encoder_features="trained",
)


def test_paper_recipe_is_the_old_defaults_exactly():
    d = recipe_config("paper").to_dict()
    assert d == {**OLD_DEFAULTS, **NEW_OFF, "recipe": "paper"}
    assert TrainConfig().to_dict() == d  # TrainConfig() itself stays the paper's


def test_default_recipe_applies_its_preset_and_explicit_values_win():
    tc = recipe_config()
    assert tc.recipe == DEFAULT_RECIPE
    for k, v in RECIPES[DEFAULT_RECIPE].items():
        assert getattr(tc, k) == v, k
    assert tc.to_dict() != recipe_config("paper").to_dict()
    tc2 = recipe_config(DEFAULT_RECIPE, cond_dropout=0.0, steps=7)
    assert tc2.cond_dropout == 0.0 and tc2.steps == 7
    assert tc2.lambda_inv == RECIPES[DEFAULT_RECIPE]["lambda_inv"]
    with pytest.raises(UnknownRecipe):
        recipe_config("nope")


def test_every_preset_names_real_fields():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for preset in RECIPES.values():
        assert set(preset) <= names


def _cli_config(monkeypatch, tmp_path, *argv: str) -> dict:
    """Parse `stylex train ARGV` and capture the TrainConfig handed to create_run."""
    import stylex.training.run_folder as trainer_mod

    seen = {}

    class Stop(Exception):
        pass

    def fake_create_run(out, data, clf, **kw):
        seen.update(kw["train"].to_dict())
        seen["size"] = kw["size"]
        raise Stop

    monkeypatch.setattr(trainer_mod, "create_run", fake_create_run)
    p = argparse.ArgumentParser()
    train_cli.add_arguments(p)
    args = p.parse_args(["--data", "d", "--classifier", "c", "--out", str(tmp_path), *argv])
    with pytest.raises(Stop):
        train_cli.run(args)
    return seen


def test_cli_uses_the_default_recipe_and_flags_override(monkeypatch, tmp_path):
    plain = _cli_config(monkeypatch, tmp_path)
    assert plain.pop("size") == {"mapping_layers": 4}  # widths: the run's default size
    assert plain == recipe_config(DEFAULT_RECIPE, baseline=False).to_dict()
    paper = _cli_config(monkeypatch, tmp_path, "--recipe", "paper")
    paper.pop("size")
    assert paper == recipe_config("paper").to_dict()
    mixed = _cli_config(monkeypatch, tmp_path, "--cond-dropout", "0.25", "--steps", "9")
    assert mixed["cond_dropout"] == 0.25 and mixed["steps"] == 9
    assert mixed["recipe"] == DEFAULT_RECIPE
    assert mixed["lambda_inv"] == RECIPES[DEFAULT_RECIPE]["lambda_inv"]
    assert plain["encoder_features"] == "effnet"  # the default recipe's encoder
    own = _cli_config(monkeypatch, tmp_path, "--encoder-features", "trained")
    assert own["encoder_features"] == "trained" and own["recipe"] == DEFAULT_RECIPE
    assert plain["gan_every"] == RECIPES[DEFAULT_RECIPE]["gan_every"] > 1
    every_step = _cli_config(monkeypatch, tmp_path, "--gan-every", "1")
    assert every_step["gan_every"] == 1 and every_step["recipe"] == DEFAULT_RECIPE


def test_recipe_is_recorded_in_config_json(tmp_path):
    from stylex.classifier import train_classifier
    from stylex.data import load_dataset
    from stylex.training.networks import ModelSize
    from stylex.training.run_folder import create_run

    clf = tmp_path / "clf.pt"
    train_classifier(
        load_dataset("shapes?n=64", resolution=16), clf, epochs=1, batch=32, progress=False, width=8
    )
    tc = recipe_config(
        steps=3,
        batch=4,
        checkpoint_every=3,
        sample_every=3,
        eval_every=3,
        eval_images=4,
        log_every=1,
        warmup_steps=1,
    )
    size = ModelSize(channel_max=16, channel_base=256, w_dim=16, mapping_layers=2)
    tr = create_run(
        tmp_path / "run",
        "shapes?n=64",
        str(clf),
        resolution=16,
        train=tc,
        size=size,
        device="cpu",
        progress=False,
        force=True,  # a one-epoch classifier on 64 images may sit at chance
    )
    tr.train()
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["train"]["recipe"] == DEFAULT_RECIPE
    assert cfg["train"]["rec_loss"] == "foreground"
    logged = [json.loads(s) for s in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in logged if "w_inv" in r]
    assert steps and all(r["w_inv"] > 0 for r in steps)
    # warm-up 1: no counterfactual / lasso term in steps 0 and 1 (ramp 0), both in step 2 (1)
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert "cf" not in steps[0] and "cond_lasso" not in steps[1]
    assert "cf" in steps[2] and "cond_lasso" in steps[2]


# ------------------------------------------------------------------ loss functions
def test_border_background_is_the_border_median():
    x = torch.zeros(1, 2, 4, 4)
    x[:, 0] = 0.5  # flat channel
    x[:, 1, 1:3, 1:3] = 1.0  # object inside, border 0
    x[:, 1, 0, 0] = 9.0  # one outlier on the border does not move the median
    assert border_background(x).flatten().tolist() == [0.5, 0.0]


def test_foreground_l1_known_answers():
    x = -torch.ones(3, 1, 8, 8)
    x[0, :, 2:4, 2:4] = 1.0  # small object
    x[1, :, 1:7, 1:7] = 0.0  # large object
    x[2, :, 3:5, 2:6] = 0.5
    bg = -torch.ones_like(x)
    assert foreground_l1(x, x).item() == pytest.approx(0.0)
    # drawing only the background scores 1 for every image, whatever the object's size
    assert foreground_l1(bg, x).item() == pytest.approx(1.0, abs=1e-5)
    # a flat image (no foreground) is divided by eps, not by ~0
    flat = torch.zeros(1, 1, 8, 8)
    assert foreground_l1(flat + 0.1, flat, eps=0.02).item() == pytest.approx(0.5 * 0.1 / 0.02)
    # image 0 by hand: fg = 2 on 4 of 64 px, mean fg 0.125 → weights 0.5 + 8 = 8.5 there,
    # 0.5 elsewhere; an error of 1 on the object only: err = 4·8.5·1/64, ref = 4·8.5·2/64
    rec = x[:1].clone()
    rec[0, :, 2:4, 2:4] = 0.0
    assert foreground_l1(rec, x[:1]).item() == pytest.approx(0.5, abs=1e-3)
    # an error on the background counts less than the same error on the object
    rec_bg = x[:1].clone()
    rec_bg[0, :, 6:8, 6:8] = 0.0
    assert foreground_l1(rec_bg, x[:1]).item() == pytest.approx(4 * 0.5 / (4 * 8.5 * 2), rel=1e-5)
    assert reconstruction_loss(rec, x[:1], "l1").item() == pytest.approx(4 / 64)
    with pytest.raises(ValueError):
        reconstruction_loss(rec, x[:1], "l2")


def _grating(phase: float, radius: float, size: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = ((yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2).sqrt()
    stripes = torch.sin(2 * torch.pi * xx / 4 + phase)
    return (stripes * (r < radius)).reshape(1, 1, size, size).float()


def test_envelope_l1_reads_the_extent_not_the_texture_phase():
    x = _grating(0.0, 10)
    flat = torch.zeros_like(x)
    assert envelope_l1(x, x).item() == pytest.approx(0.0)
    assert envelope_l1(flat, x).item() == pytest.approx(1.0, abs=1e-5)
    shifted = _grating(torch.pi, 10)  # same window, stripes at the opposite phase
    smaller = _grating(0.0, 6)  # same stripes, smaller window
    # pixel L1 ranks the phase shift as the larger error; the envelope ranks the size change
    assert l1(shifted, x) > l1(smaller, x)
    assert envelope_l1(shifted, x) < 0.2 * envelope_l1(smaller, x)
    assert envelope_l1(smaller, x).item() > 0.3
    # a flat target is divided by eps
    assert envelope_l1(flat + 0.1, flat, eps=0.02).item() == pytest.approx(2 * 0.1 / 0.02)


def _square(half: int, size: int = 32) -> torch.Tensor:
    x = -torch.ones(1, 3, size, size)
    c = size // 2
    x[..., c - half : c + half, c - half : c + half] = 0.8
    return x


def test_image_gradients_known_answer():
    x = torch.tensor([[[[0.0, 1.0, 3.0], [0.0, 0.0, 0.0]]]])  # [1, 1, 2, 3]
    gx, gy = image_gradients(x)
    assert gx.tolist() == [[[[1.0, 2.0], [0.0, 0.0]]]]
    assert gy.tolist() == [[[[0.0, -1.0, -3.0]]]]


def test_edge_l1_reads_a_blurred_outline_that_pixel_l1_barely_sees():
    x = _square(6)
    flat = -torch.ones_like(x)
    assert edge_l1(x, x).item() == pytest.approx(0.0)
    assert edge_l1(flat, x).item() == pytest.approx(1.0, abs=1e-6)
    # a 3×3 box blur: small in pixels (most of the square is untouched), large in gradients
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert edge_l1(blurred, x).item() > 0.4
    assert edge_l1(blurred, x) > 3 * foreground_l1(blurred, x)
    # a square one pixel larger moves its outline: both losses see that
    assert edge_l1(_square(7), x).item() > 0.5
    # mean over the batch; an (almost) flat x is divided by eps × the number of differences
    both = edge_l1(torch.cat([flat, blurred]), torch.cat([x, x]))
    assert both.item() == pytest.approx((1.0 + edge_l1(blurred, x).item()) / 2, rel=1e-5)
    tilted = flat.clone()
    tilted[..., :, 1:] += 0.001  # one tiny step per row
    n = 32 * 31 * 2
    assert edge_l1(flat, tilted, eps=0.02).item() == pytest.approx(
        32 * 0.001 / (0.02 * n), rel=1e-4
    )


def test_drop_condition_known_answer():
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    u = torch.tensor([0.1, 0.9, 0.6, 0.2])
    out = drop_condition(c, 0.5, u)
    mean = [0.75, 0.25]
    assert out.tolist() == [mean, [0.0, 1.0], [1.0, 0.0], mean]
    assert torch.equal(drop_condition(c, 0.0, u), c)


def test_warmup_ramp_known_values():
    assert [warmup_ramp(s, 0) for s in (0, 5)] == [1.0, 1.0]
    assert [warmup_ramp(s, 10) for s in (0, 9, 10, 15, 20, 99)] == [0, 0, 0, 0.5, 1, 1]


# ------------------------------------------------------------------ machine-dependent defaults
def test_default_size_by_resolution_and_device():
    from stylex.training.networks import ModelSize, default_size

    assert default_size(32, "cuda") == ModelSize()  # full width on a GPU
    assert default_size(16, "cpu") == ModelSize(channel_max=64, w_dim=64)
    assert default_size(32, "cpu") == ModelSize(channel_max=64, w_dim=64)
    assert default_size(64, "cpu") == ModelSize(channel_max=128, w_dim=128)
    assert default_size(128, "cpu") == ModelSize()


def test_cli_width_options_reach_the_run(monkeypatch, tmp_path):
    sized = _cli_config(monkeypatch, tmp_path, "--width", "32")
    assert sized["size"] == {"channel_max": 32, "w_dim": 32, "mapping_layers": 4}
    both = _cli_config(monkeypatch, tmp_path, "--width", "32", "--w-dim", "48")
    assert both["size"] == {"channel_max": 32, "w_dim": 48, "mapping_layers": 4}
    w_only = _cli_config(monkeypatch, tmp_path, "--w-dim", "48", "--mapping-layers", "2")
    assert w_only["size"] == {"w_dim": 48, "mapping_layers": 2}


def test_a_run_without_a_size_gets_the_default_for_its_resolution(tmp_path):
    from stylex.classifier import train_classifier
    from stylex.data import load_dataset
    from stylex.training.run_folder import create_run

    clf = tmp_path / "clf.pt"
    train_classifier(
        load_dataset("shapes?n=64", resolution=16), clf, epochs=1, batch=32, progress=False, width=8
    )
    kw = dict(resolution=16, train=recipe_config(steps=0), device="cpu", progress=False)
    tr = create_run(tmp_path / "a", "shapes?n=64", str(clf), force=True, **kw)
    assert (tr.gen_cfg.channel_max, tr.gen_cfg.w_dim, tr.gen_cfg.z_dim) == (64, 64, 64)
    # a dict sets some fields over that default
    tr = create_run(tmp_path / "b", "shapes?n=64", str(clf), force=True, size={"w_dim": 32}, **kw)
    assert (tr.gen_cfg.channel_max, tr.gen_cfg.w_dim) == (64, 32)


def test_auto_precision_is_bf16_where_native():
    from stylex.training.fast import autocast_dtype, native_bf16

    cpu = torch.device("cpu")
    want = torch.bfloat16 if native_bf16(cpu) else torch.float32
    assert autocast_dtype("auto", cpu) == want
    assert autocast_dtype("fp32", cpu) == torch.float32
    assert autocast_dtype("bf16", cpu) == torch.bfloat16
    assert autocast_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert not native_bf16(torch.device("meta"))


def test_auto_precision_reads_the_x86_flags_not_onednn(monkeypatch):
    """On x86 bf16 autocast measured slower than fp32 without AMX (1.8x on AVX-512 alone,
    1.2x with AVX512_BF16), although oneDNN reports bf16 support there: auto picks fp32."""
    from stylex.training import fast

    cpu = torch.device("cpu")
    monkeypatch.setattr(fast.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    cases = [(False, False, False), (True, False, False), (False, True, True), (True, True, True)]
    for avx512_bf16, amx, want in cases:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert fast.native_bf16(cpu) is want, (avx512_bf16, amx)
        assert fast.autocast_dtype("auto", cpu) == (torch.bfloat16 if want else torch.float32)
    # elsewhere (Arm) oneDNN's own answer decides
    monkeypatch.setattr(fast.platform, "machine", lambda: "aarch64")
    assert fast.native_bf16(cpu) is True
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert fast.native_bf16(cpu) is False


def test_init_from_keeps_the_source_runs_encoder_kind(monkeypatch, tmp_path, tiny_run):
    from stylex.errors import RunError

    # the default recipe's encoder is "effnet"; a fine-tune of a "trained"-encoder run keeps
    # that kind unless one is asked for (create_run refuses a mismatch)
    assert RECIPES[DEFAULT_RECIPE]["encoder_features"] != "trained"
    ft = _cli_config(monkeypatch, tmp_path, "--init-from", str(tiny_run))
    assert ft["encoder_features"] == "trained" and ft["recipe"] == DEFAULT_RECIPE
    asked = _cli_config(
        monkeypatch, tmp_path, "--init-from", str(tiny_run), "--encoder-features", "effnet"
    )
    assert asked["encoder_features"] == "effnet"
    with pytest.raises(RunError, match="run folder not found"):
        _cli_config(monkeypatch, tmp_path, "--init-from", str(tmp_path / "missing"))
