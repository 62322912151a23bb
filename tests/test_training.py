"""StylEx training on tiny models: losses, resume equivalence, crash safety, baseline, DDP."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from stylex.classifier import train_classifier
from stylex.data import load_dataset
from stylex.errors import RunError
from stylex.training import TrainConfig
from stylex.training import checkpoint as ckpt
from stylex.training.losses import (
    classifier_kl,
    d_logistic_loss,
    g_nonsaturating_loss,
    group_lasso,
)
from stylex.training.networks import ModelSize
from stylex.training.run_config import RunConfig
from stylex.training.run_folder import create_run, data_summary
from stylex.training.setup import resume_run
from stylex.training.trainer import TrainingDiverged

DATA = "shapes?n=256"
TINY = ModelSize(channel_max=16, channel_base=256, w_dim=16, mapping_layers=2)


@pytest.fixture(scope="module")
def clf_path(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("clf") / "clf.pt"
    ds = load_dataset(DATA, resolution=16)
    train_classifier(ds, out, epochs=2, batch=64, progress=False, width=8)
    return str(out)


def tiny_cfg(**kw) -> TrainConfig:
    base = dict(
        steps=6,
        batch=4,
        checkpoint_every=3,
        sample_every=3,
        eval_every=3,
        eval_images=8,
        log_every=1,
        perceptual="none",
        r1_every=2,
    )
    base.update(kw)
    return TrainConfig(**base)


def make(tmp, clf, name="run", **kw):
    return create_run(
        tmp / name,
        DATA,
        clf,
        resolution=16,
        train=tiny_cfg(**kw),
        size=TINY,
        device="cpu",
        progress=False,
        force=True,
    )


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    for name in ("generator", "encoder", "discriminator"):
        for k, v in load_file(str(run_dir / f"{name}.safetensors")).items():
            out[f"{name}.{k}"] = v
    return out


def test_loss_functions_known_values():
    z = torch.zeros(3)
    assert torch.isclose(d_logistic_loss(z, z), torch.tensor(2 * 0.6931), atol=1e-3)
    assert torch.isclose(g_nonsaturating_loss(z), torch.tensor(0.6931), atol=1e-3)
    logits = torch.randn(4, 3)
    assert classifier_kl(logits, logits).abs() < 1e-6
    assert classifier_kl(logits, logits.flip(1)) > 0


def test_train_writes_run_and_losses_decrease(tmp_path, clf_path):
    tr = make(
        tmp_path,
        clf_path,
        steps=40,
        lr_g=0.005,
        lr_e=0.005,
        checkpoint_every=20,
        sample_every=40,
        eval_every=40,
    )
    result = tr.train()
    run = tmp_path / "run"
    for f in (
        "config.json",
        "classifier.pt",
        "generator.safetensors",
        "encoder.safetensors",
        "discriminator.safetensors",
        "log.jsonl",
    ):
        assert (run / f).is_file(), f
    assert list((run / "samples").glob("*.png"))
    assert list((run / "tb").iterdir())
    assert {"consistency", "prob_diff", "rec_l1", "cond_row_norm", "cond_active"} <= set(result)
    assert set(result) <= {
        "consistency",
        "prob_diff",
        "rec_l1",
        "cond_row_norm",
        "cond_active",
        "cond_flip",
    }
    import json

    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in recs if "l1" in r]
    assert all(torch.isfinite(torch.tensor(r["loss_g"])) for r in steps)
    first = sum(r["l1"] for r in steps[:5]) / 5
    last = sum(r["l1"] for r in steps[-5:]) / 5
    assert last < first, (first, last)
    assert len(ckpt.list_checkpoints(run)) == 2


def test_resume_reproduces_uninterrupted_run(tmp_path, clf_path):
    make(tmp_path, clf_path, "full").train()
    part = make(tmp_path, clf_path, "part")
    part.train(steps=3)  # stops at the step-3 checkpoint
    resumed = resume_run(tmp_path / "part", device="cpu", progress=False)
    assert resumed.step == 3
    resumed.train()
    a, b = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_ignores_torn_checkpoint(tmp_path, clf_path):
    tr = make(tmp_path, clf_path)
    tr.train(steps=3)
    run = tmp_path / "run"
    # a write killed mid-way leaves a temp folder, and a folder without its marker
    torn = ckpt.checkpoint_dir(run) / ".tmp-step-0000006-999"
    torn.mkdir()
    (torn / "generator.safetensors").write_bytes(b"garbage")
    half = ckpt.checkpoint_dir(run) / "step-0000009"
    half.mkdir()
    (half / "state.pt").write_bytes(b"\x80garbage")
    resumed = resume_run(run, device="cpu", progress=False)
    assert resumed.step == 3
    assert not torn.exists()


def test_existing_run_is_not_overwritten(tmp_path, clf_path):
    make(tmp_path, clf_path)
    from stylex.errors import RunError

    with pytest.raises(RunError, match="--resume"):
        make(tmp_path, clf_path)


def test_baseline_has_no_classifier_gradient(tmp_path, clf_path):
    calls = {"grad": 0}

    def count(tr):
        orig = tr.classifier.forward

        def wrapped(x):
            if x.requires_grad:
                calls["grad"] += 1
            return orig(x)

        tr.classifier.forward = wrapped

    base = make(tmp_path, clf_path, "base", baseline=True)
    assert base.G.config.cond_dim == 0
    count(base)
    base.train_step(0)
    assert calls["grad"] == 0
    full = make(tmp_path, clf_path, "full")
    assert full.G.config.cond_dim == 2
    count(full)
    full.train_step(0)
    assert calls["grad"] > 0
    assert all(p.grad is None for p in full.classifier.parameters())


def test_nonfinite_loss_stops_and_keeps_last_checkpoint(tmp_path, clf_path):
    tr = make(tmp_path, clf_path)
    tr.train(steps=3)
    orig = tr.train_step

    def broken(step):
        out = orig(step)
        out["loss_g"] = float("nan")
        return out

    tr.train_step = broken
    with pytest.raises(TrainingDiverged, match="step 3"):
        tr.train(steps=6)
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step-0000003"


def _cli(*args, env=None):
    return [sys.executable, "-m", "stylex", *args]


def test_sigkill_during_training_then_resume(tmp_path, clf_path):
    run = tmp_path / "run"
    cmd = _cli(
        "train",
        "--data",
        DATA,
        "--classifier",
        clf_path,
        "--out",
        str(run),
        "--resolution",
        "16",
        "--steps",
        "400",
        "--batch",
        "4",
        "--width",
        "16",
        "--w-dim",
        "16",
        "--mapping-layers",
        "2",
        "--checkpoint-every",
        "5",
        "--perceptual",
        "none",
        "--no-progress",
        "--device",
        "cpu",
        "--sample-every",
        "1000",
        "--eval-every",
        "1000",
        "--force",
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and len(ckpt.list_checkpoints(run)) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = ckpt.list_checkpoints(run)
    assert done, proc.stdout.read().decode()[-2000:]
    out = subprocess.run(
        _cli(
            "train",
            "--out",
            str(run),
            "--resume",
            "--steps",
            str(int(done[-1].name.split("-")[1]) + 5),
            "--no-progress",
            "--device",
            "cpu",
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resuming" in out.stdout


def _ddp_worker(rank, world, port, run_dir, clf, result_dir):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    tr = create_run(
        run_dir,
        DATA,
        clf,
        resolution=16,
        train=tiny_cfg(steps=3, batch=4),
        size=TINY,
        device="cpu",
        progress=False,
        force=True,
    )
    tr.train()
    state = {
        f"{n}.{k}": v
        for n, m in (("G", tr.G), ("E", tr.E), ("D", tr.D))
        for k, v in m.state_dict().items()
    }
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in state.items()},
        str(Path(result_dir) / f"rank{rank}.safetensors"),
    )
    import torch.distributed as dist

    dist.destroy_process_group()


def test_ddp_two_processes_gloo_keep_weights_identical(tmp_path, clf_path):
    import socket

    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(
        _ddp_worker,
        args=(2, port, str(tmp_path / "run"), clf_path, str(tmp_path)),
        nprocs=2,
        join=True,
    )
    a = load_file(str(tmp_path / "rank0.safetensors"))
    b = load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and they trained (differ from a fresh init with the same seed)
    assert (tmp_path / "run" / "checkpoints" / "step-0000003").is_dir()


def test_group_lasso_known_value():
    rows = [torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 0.0], [6.0, 8.0]])]
    assert torch.isclose(group_lasso(rows), torch.tensor(5.0), atol=1e-3)
    w = torch.tensor([[3.0, 4.0]], requires_grad=True)
    group_lasso([w]).backward()  # d||r||/dr = r/||r||
    assert torch.allclose(w.grad, torch.tensor([[0.6, 0.8]]))


def _train_with_and_without(tmp_path, clf_path, steps, extra, **common):
    """Train two tiny runs from the same seed, one with the ``extra`` options: the log
    records of each and the two trained runs."""
    import json

    runs = {"plain": {}, "variant": extra}
    trained = {}
    for name, kw in runs.items():
        trained[name] = make(tmp_path, clf_path, name, steps=steps, **common, **kw)
        trained[name].train()
    recs = {
        name: [json.loads(x) for x in (tmp_path / name / "log.jsonl").read_text().splitlines()]
        for name in runs
    }
    return recs["plain"], recs["variant"], trained["plain"], trained["variant"]


def _changed(tmp_path, prefix):
    """Whether the weights under ``prefix`` differ between the two runs' folders."""
    a, b = weights(tmp_path / "plain"), weights(tmp_path / "variant")
    return any(not torch.equal(a[k], b[k]) for k in a if k.startswith(prefix))


def test_cond_sparsity_shrinks_condition_rows_and_cf_loss_is_logged(tmp_path, clf_path):
    plain_recs, recs, plain, sparse = _train_with_and_without(
        tmp_path, clf_path, 30, {"cond_sparsity": 50.0, "lambda_cf": 1.0}, lr_g=0.01
    )
    a = plain.G.condition_usage()["cond_row_norm"]
    b = sparse.G.condition_usage()["cond_row_norm"]
    assert b < 0.8 * a, (a, b)
    cf = [r["cf"] for r in recs if "cf" in r]
    assert len(cf) == 30 and all(torch.isfinite(torch.tensor(cf)))
    assert all("cond_lasso" in r for r in recs if "loss_g" in r)
    assert not any("cf" in r for r in plain_recs)


def test_adversarial_counterfactual_term_is_logged_and_trains_the_generator(tmp_path, clf_path):
    _, recs, _, _ = _train_with_and_without(tmp_path, clf_path, 3, {"lambda_adv_cf": 1.0})
    terms = [r["adv_cf"] for r in recs if "adv_cf" in r]
    assert len(terms) == 3 and all(t > 0 and math.isfinite(t) for t in terms)
    assert not any("cf" in r for r in recs)  # lambda_cf is off: only the adversarial term
    # same seed and data: the extra term changes the generator's update, not the encoder's start
    assert _changed(tmp_path, "generator.")


def test_counterfactual_proximity_term_is_logged_and_trains_the_generator(tmp_path, clf_path):
    plain, recs, _, _ = _train_with_and_without(tmp_path, clf_path, 3, {"lambda_cf_prox": 1.0})
    terms = [r["cf_prox"] for r in recs if "cf_prox" in r]
    # L1 between two images in [-1, 1]: a swapped condition changes the image, by less than 2
    assert len(terms) == 3 and all(0 < t < 2 for t in terms)
    assert not any("cf" in r or "cf_prox" in r for r in plain)
    assert _changed(tmp_path, "generator.")
    with pytest.raises(ValueError, match="lambda_cf_prox"):
        TrainConfig(lambda_cf_prox=-1.0)


def test_cf_to_encoder_false_keeps_the_counterfactual_gradient_out_of_the_encoder(
    tmp_path, clf_path
):
    runs = {
        "nocf": {"lambda_cf": 0.0},
        "detached": {"lambda_cf": 1.0, "cf_to_encoder": False},
        "full": {"lambda_cf": 1.0},
    }
    for name, kw in runs.items():  # one step from the same seed: the same start everywhere
        make(tmp_path, clf_path, name, steps=1, **kw).train()
    got = {name: weights(tmp_path / name) for name in runs}

    def differ(a, b, prefix):
        return max(
            (got[a][k] - got[b][k]).abs().max().item() for k in got[a] if k.startswith(prefix)
        )

    # detached: the encoder takes exactly the update it takes without the term ...
    assert differ("detached", "nocf", "encoder.") < 1e-6
    # ... while the term still trains the generator, and with the default it reaches E too
    assert differ("detached", "nocf", "generator.") > 1e-5
    assert differ("full", "nocf", "encoder.") > 1e-5
    assert TrainConfig().cf_to_encoder  # the paper's and the old behaviour stay the default


def test_gan_every_plays_the_adversarial_game_on_one_step_in_n(tmp_path, clf_path):
    import json

    tr = make(tmp_path, clf_path, "lazy", steps=6, gan_every=2, lambda_inv=1.0, log_every=3)

    def snap(m):
        return [p.detach().clone() for p in m.parameters()]

    def moved(before, m):
        return any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))

    game = {"loss_d", "adv", "w_inv"}  # the D phase, the adversarial terms, the random branch
    for step in range(4):
        d0, g0, e0 = snap(tr.D), snap(tr.G), snap(tr.E)
        names = set(tr.train_step(step))
        assert moved(g0, tr.G) and moved(e0, tr.E) and "l1" in names  # every step
        assert moved(d0, tr.D) == (step % 2 == 0), step
        assert (game <= names) == (step % 2 == 0) and (not game & names) == (step % 2 == 1)
        # R1 stays lazy over D's own steps (r1_every 2: D steps 0, 2, ... = steps 0, 4, ...)
        assert ("r1" in names) == (step == 0), step
    # the training loop's log lines keep the D phase's latest values on the other steps
    tr.step = 0
    tr.train()
    recs = [json.loads(x) for x in (tmp_path / "lazy" / "log.jsonl").read_text().splitlines()]
    lines = [r for r in recs if "loss_g" in r]
    assert len(lines) == 2 and all("loss_d" in r and "adv" in r for r in lines)
    with pytest.raises(ValueError, match="gan_every"):
        TrainConfig(gan_every=0)


def test_discriminator_sees_counterfactuals_as_fakes_with_d_cf(tmp_path, clf_path):
    plain, recs, _, _ = _train_with_and_without(
        tmp_path, clf_path, 3, {"d_cf": True}, lambda_adv_cf=1.0
    )
    scores = [r["d_cf"] for r in recs if "d_cf" in r]
    assert len(scores) == 3 and all(math.isfinite(s) for s in scores)
    assert not any("d_cf" in r for r in plain)
    # same seed and data: the extra fakes change the discriminator's update
    assert _changed(tmp_path, "discriminator.")


def test_envelope_term_is_logged_and_changes_the_update(tmp_path, clf_path):
    _, recs, _, _ = _train_with_and_without(tmp_path, clf_path, 2, {"lambda_env": 5.0})
    terms = [r["env"] for r in recs if "env" in r]
    assert len(terms) == 2 and all(0 < t < 10 for t in terms)
    assert _changed(tmp_path, "encoder.")


def test_edge_term_is_logged_and_changes_the_update(tmp_path, clf_path):
    _, recs, _, _ = _train_with_and_without(tmp_path, clf_path, 2, {"lambda_edge": 5.0})
    terms = [r["edge"] for r in recs if "edge" in r]
    assert len(terms) == 2 and all(0 < t < 10 for t in terms)
    assert _changed(tmp_path, "encoder.")


def test_cond_min_res_keeps_the_condition_out_of_coarse_layers(tmp_path, clf_path):
    run = make(tmp_path, clf_path, "cmr", steps=2, cond_min_res=8, lambda_cf=1.0)
    run.train()
    G = run.G
    assert G.config.cond_min_res == 8  # stored with the generator (an architecture field)
    w = torch.randn(4, G.config.w_dim)
    c = torch.eye(G.config.cond_dim)[torch.tensor([0, 1, 0, 1])]
    a, b = G.styles(w, c), G.styles(w, c.flip(0))
    rows = G.condition_weights()
    for layer, sa, sb, r in zip(G.style_layers(), a, b, rows, strict=True):
        if layer.resolution < 8:  # coarse: a function of w alone, no condition rows
            assert torch.equal(sa, sb) and not r.any(), layer.resolution
        else:
            assert not torch.allclose(sa, sb), layer.resolution
    from stylex.models import Generator
    from stylex.models.config import GeneratorConfig

    reloaded = Generator.from_pretrained(tmp_path / "cmr")  # the exported (EMA) generator
    assert reloaded.config.cond_min_res == 8
    ra, ema = reloaded.styles(w, c), run.G_ema.styles(w, c)
    assert all(torch.allclose(x, y) for x, y in zip(ema, ra, strict=True))
    with pytest.raises(ValueError):
        TrainConfig(cond_min_res=-1)
    with pytest.raises(ValueError, match="cond_min_res"):
        GeneratorConfig(resolution=16, cond_min_res=32)
    # written only when set: a config without it round-trips to the same keys
    assert "cond_min_res" not in GeneratorConfig().to_dict()
    assert GeneratorConfig.from_dict(G.config.to_dict()) == G.config


def test_config_rejects_negative_new_weights():
    with pytest.raises(ValueError):
        TrainConfig(cond_sparsity=-1)
    with pytest.raises(ValueError):
        TrainConfig(lambda_cf=-0.5)
    with pytest.raises(ValueError):
        TrainConfig(lambda_adv_cf=-1.0)
    with pytest.raises(ValueError):
        TrainConfig(lambda_env=-1.0)
    with pytest.raises(ValueError):
        TrainConfig(lambda_edge=-1.0)


def test_init_from_starts_from_the_source_weights(tmp_path, clf_path):
    src = make(tmp_path, clf_path, "src", steps=3)
    src.train()
    ft = create_run(
        tmp_path / "ft",
        DATA,
        clf_path,
        resolution=16,
        train=tiny_cfg(steps=2),
        size=ModelSize(),
        device="cpu",
        progress=False,
        init_from=tmp_path / "src",
        force=True,
    )
    # the source's model size wins over `size`, and its exported weights are loaded
    assert ft.gen_cfg.channel_max == TINY.channel_max
    exported = weights(tmp_path / "src")
    for k, v in ft.G.state_dict().items():
        assert torch.equal(v, exported[f"generator.{k}"]), k
    for k, v in ft.E_ema.state_dict().items():
        assert torch.equal(v, exported[f"encoder.{k}"]), k
    for k, v in ft.D.state_dict().items():
        assert torch.equal(v, exported[f"discriminator.{k}"]), k
    assert ft.step == 0
    import json

    cfg = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert cfg["init_from"]["run"] == str(tmp_path / "src")
    ft.train()


def test_init_from_rejects_a_mismatched_run(tmp_path, clf_path, capsys):
    make(tmp_path, clf_path, "src", steps=1).train()
    with pytest.raises(RunError, match="cond_dim"):
        create_run(
            tmp_path / "ft",
            DATA,
            clf_path,
            resolution=16,
            train=tiny_cfg(baseline=True),
            device="cpu",
            progress=False,
            init_from=tmp_path / "src",
            force=True,
        )
    with pytest.raises(RunError, match="pass --encoder-features trained"):
        create_run(tmp_path / "ft", DATA, clf_path, resolution=16,
                   train=tiny_cfg(encoder_features="effnet"), device="cpu", progress=False,
                   init_from=tmp_path / "src", force=True)  # fmt: skip
    assert not (tmp_path / "ft").exists()
    from stylex.cli import main

    code = main(
        ["train", "--out", str(tmp_path / "src"), "--resume", "--init-from", str(tmp_path / "src")]
    )
    assert code == 1
    assert "cannot be combined with --resume" in capsys.readouterr().err


def test_data_summary_warns_of_a_small_held_out_set_and_imbalance():
    ds = load_dataset("shapes:hue<0.5?n=300", resolution=16)
    _, val = ds.split(0.1)
    text = data_summary(ds, val, 0.1)
    n0, n1 = ds.class_counts()
    assert text.startswith(f"data: 300 images at 16 px, {n0} {ds.class_names[0]}, {n1}")
    assert "; 30 held out" in text and "only 30 held-out images" in text
    assert "--val-fraction (now 0.1)" in text and "imbalanced" not in text
    big = load_dataset("shapes:hue<0.5?n=3000", resolution=16)
    labels = big.labels.numpy()
    keep = [i for i in range(len(big)) if labels[i] == 0][:2000]
    keep += [i for i in range(len(big)) if labels[i] == 1][:100]
    skewed = big.subset(sorted(keep))
    _, val = skewed.split(0.1)
    text = data_summary(skewed, val, 0.1)
    assert "held-out images" not in text and "classes are imbalanced (100 vs 1500 images)" in text


def test_balance_classes_draws_every_class_equally_often(tmp_path, clf_path):
    from stylex.training.trainer import balanced_weights

    w = balanced_weights(torch.tensor([0, 0, 0, 1]))
    assert torch.allclose(w, torch.tensor([1 / 3, 1 / 3, 1 / 3, 1.0], dtype=torch.float64))
    big = load_dataset("shapes?n=600", resolution=16)
    labels = big.labels.numpy()
    keep = [i for i in range(len(big)) if labels[i] == 0][:270]
    keep = sorted(keep + [i for i in range(len(big)) if labels[i] == 1][:30])
    big.subset(keep).to_npz(tmp_path / "skewed.npz")
    shares = {}
    for balance in (False, True):
        tr = create_run(tmp_path / f"b{balance}", str(tmp_path / "skewed.npz"), clf_path,
                        resolution=16, train=tiny_cfg(balance_classes=balance, batch=8),
                        size=TINY, device="cpu", progress=False, force=True)  # fmt: skip
        y = torch.cat([tr.train_set.labels[tr.batch_indices(s)] for s in range(300)])
        shares[balance] = float(y.double().mean())
        assert torch.equal(tr.batch_indices(7), tr.batch_indices(7))  # reproducible per step
    assert shares[False] < 0.16  # ~10 % of the images are class 1
    assert 0.44 < shares[True] < 0.56  # ~half the draws


def test_resume_says_which_options_it_ignores(tmp_path, clf_path, capsys):
    from stylex.cli import main

    make(tmp_path, clf_path, "run", steps=1).train()
    out = str(tmp_path / "run")
    assert main(["train", "--out", out, "--resume", "--steps", "2", "--no-progress",
                 "--balance-classes", "--lambda-l1", "5"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "warning: --lambda-l1, --balance-classes ignored: a resumed run keeps" in err
    cfg = RunConfig.read(out).train
    assert cfg.steps == 2 and cfg.balance_classes is False and cfg.lambda_l1 == 1.0
    assert main(["train", "--out", out, "--resume", "--steps", "3", "--no-progress"]) == 0
    assert "ignored" not in capsys.readouterr().err


def test_effnet_encoder_run_trains_resumes_and_loads(tmp_path, clf_path):
    from stylex.run import Run

    make(tmp_path, clf_path, "full", encoder_features="effnet").train()
    part = make(tmp_path, clf_path, "part", encoder_features="effnet")
    stats = part.E.feat_mean.clone()
    assert stats.abs().sum() > 0 and torch.equal(part.E_ema.feat_mean, stats)  # from the data
    unsaved = resume_run(tmp_path / "part", device="cpu", progress=False)  # no checkpoint yet
    assert unsaved.step == 0 and torch.equal(unsaved.E_ema.feat_mean, stats)
    part.train(steps=3)
    resumed = resume_run(tmp_path / "part", device="cpu", progress=False)
    assert resumed.E.config.features == "effnet" and torch.equal(resumed.E.feat_mean, stats)
    resumed.train()
    a, b = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert a.keys() == b.keys() and not any("extractor" in k or "_blocks" in k for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    run = Run.load(tmp_path / "full", device="cpu")
    assert run.encoder.config.features == "effnet"
    assert torch.equal(run.encoder.feat_mean, weights(tmp_path / "full")["encoder.feat_mean"])
