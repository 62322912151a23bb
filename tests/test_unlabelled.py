"""Unlabelled data: a folder of images (or an .npz without labels) and a classifier; the
classifier's predictions are the labels, stored in the run so that every stage reloads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from stylex.classifier import Classifier
from stylex.classifier.contract import ClassifierContract
from stylex.classifier.loading import save_torchscript
from stylex.classifier.unlabelled import (
    LABELS_FILE,
    check_unlabelled,
    label_by_classifier,
    load_labels,
)
from stylex.data import load_dataset
from stylex.data.dataset import UNLABELLED
from stylex.data.shapes import make_shapes
from stylex.errors import ClassifierError, DataError, RunError


class Warm(nn.Module):
    """Class 1 ("warm") when the image is redder than it is blue."""

    def forward(self, x):
        z = 10 * (x[:, 0].mean((1, 2)) - x[:, 2].mean((1, 2)))
        return torch.stack([-z, z], 1)


class WarmOrNever(nn.Module):
    """Three outputs: Warm's two and a third class that never wins (a 10-digit classifier on a
    folder of two digits, in small)."""

    def forward(self, x):
        two = Warm()(x)
        return torch.cat([two, two.min(1, keepdim=True).values - 5], 1)


class WarmScore(nn.Module):
    """One sigmoid logit per image (a BCE-trained binary classifier)."""

    def forward(self, x):
        return 10 * (x[:, 0].mean((1, 2)) - x[:, 2].mean((1, 2)))


class Constant(nn.Module):
    def forward(self, x):
        return torch.stack([x.mean((1, 2, 3)) * 0 + 1, x.mean((1, 2, 3)) * 0], 1)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A folder of 120 shapes images with no class sub-folders (and one stray text file)."""
    root = tmp_path_factory.mktemp("flat")
    ds = make_shapes(n=120, resolution=16, seed=0)
    for i in range(len(ds)):
        Image.fromarray(ds.images[i].permute(1, 2, 0).numpy()).save(root / f"{i:04d}.png")
    (root / "notes.txt").write_text("not an image")
    return root


def _save_warm(path) -> None:
    save_torchscript(Warm(), ClassifierContract(class_names=["cool", "warm"]), path, (1, 3, 16, 16))


def _warm_truth(ds) -> torch.Tensor:
    return Classifier(Warm())(ds.float_images()).argmax(1)


def test_a_flat_folder_and_an_npz_without_labels_load_as_unlabelled_data(flat, tmp_path):
    with pytest.warns(UserWarning, match="not images"):
        ds = load_dataset(str(flat))
    assert not ds.labelled and ds.label_source == "none"
    assert ds.class_names == [UNLABELLED] and len(ds) == 120 and int(ds.labels.abs().sum()) == 0
    train, val = ds.split(0.25, seed=0)
    assert len(train) + len(val) == 120 and not val.labelled
    ds.to_npz(tmp_path / "u.npz")
    back = load_dataset(str(tmp_path / "u.npz"))
    assert not back.labelled and torch.equal(back.images, ds.images)
    np.savez(tmp_path / "raw.npz", images=ds.images.permute(0, 2, 3, 1).numpy())
    assert not load_dataset(str(tmp_path / "raw.npz")).labelled
    with pytest.raises(DataError, match="no classes to select"):
        load_dataset(f"{flat}:a,b")
    with pytest.raises(DataError, match="no classes to select"):
        load_dataset(f"{tmp_path / 'raw.npz'}:0,1")
    from stylex.classifier import train_classifier

    with pytest.raises(DataError, match="has no labels"):
        train_classifier(ds, tmp_path / "clf.pt", epochs=1, progress=False)


def test_the_classifier_labels_unlabelled_data_and_its_check_claims_no_accuracy(flat):
    with pytest.warns(UserWarning):
        ds = load_dataset(str(flat))
    clf = Classifier(Warm(), {"class_names": ["cool", "warm"]})
    labelled, notes = label_by_classifier(clf, ds)
    assert labelled.label_source == "classifier" and labelled.class_names == ["cool", "warm"]
    assert torch.equal(labelled.labels, _warm_truth(ds))
    assert 0 < int(labelled.labels.sum()) < len(ds)
    assert "no labels" in notes[0] and "not checked" in notes[0]
    # one pass over the data: the number of outputs is read off its logits, not an extra call
    seen = []
    counting = Classifier(Warm(), {"class_names": ["cool", "warm"]})
    counting.module.register_forward_hook(lambda m, i, o: seen.append(len(i[0])))
    again, _ = label_by_classifier(counting, ds, batch=50)
    assert seen == [50, 50, 20] and torch.equal(again.labels, labelled.labels)
    _, check = check_unlabelled(clf, ds)
    assert check.verdict == "unlabelled" and check.accuracy is None and check.usable
    assert not check.fit
    check.raise_unless_fit()  # usable: no error
    assert "cannot be checked" in check.format()
    # a classifier without class names: its outputs get numbered names
    anon = Classifier(Warm())
    named, notes = label_by_classifier(anon, ds)
    assert named.class_names == ["class 0", "class 1"] and anon.class_names == named.class_names
    assert any("--class-names" in n for n in notes)
    # a single-score binary classifier
    one, _ = label_by_classifier(Classifier(WarmScore(), {"class_names": ["cool", "warm"]}), ds)
    assert torch.equal(one.labels, labelled.labels)
    # names that do not match the outputs
    with pytest.raises(ClassifierError, match="returns 2 outputs but has 3 class names"):
        label_by_classifier(Classifier(Warm(), {"class_names": ["a", "b", "c"]}), ds)
    # an output never predicted: left out, the contract keeps the other two
    three = Classifier(WarmOrNever(), {"class_names": ["cool", "warm", "never"]})
    kept, notes = label_by_classifier(three, ds)
    assert kept.class_names == ["cool", "warm"] and three.contract.outputs == [0, 1]
    assert torch.equal(kept.labels, labelled.labels) and three(ds.float_images()).shape[1] == 2
    assert any("has 3 classes and predicts 2" in n for n in notes)
    # one predicted class: nothing to explain
    with pytest.raises(ClassifierError, match="fewer than two classes"):
        label_by_classifier(Classifier(Constant(), {"class_names": ["a", "b"]}), ds)


def test_a_run_on_unlabelled_data_stores_and_reloads_the_predicted_labels(flat, tmp_path, capsys):
    from stylex.run import Run
    from stylex.training import TrainConfig
    from stylex.training.networks import ModelSize
    from stylex.training.run_folder import create_run
    from stylex.training.setup import resume_run

    clf_file = tmp_path / "warm.pt"
    _save_warm(clf_file)
    tc = TrainConfig(steps=2, batch=4, checkpoint_every=2, sample_every=2, eval_every=2,
                     eval_images=8, log_every=1, perceptual="none",
                     encoder_features="effnet")  # fmt: skip
    size = ModelSize(channel_max=16, channel_base=256, w_dim=16, mapping_layers=2)
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="not images"):
        tr = create_run(out, str(flat), str(clf_file), resolution=16, train=tc, size=size,
                        val_fraction=0.25, device="cpu", progress=False)  # fmt: skip
    printed = capsys.readouterr().out
    assert "the classifier's predictions; no labels" in printed and "cannot be checked" in printed
    tr.train()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["labels"] == "classifier"
    assert cfg["classifier"]["check"]["verdict"] == "unlabelled"
    assert cfg["classifier"]["check"]["accuracy"] is None
    with pytest.warns(UserWarning):
        run = Run.load(out, device="cpu")
        everything, val = run.dataset("all"), run.dataset("val")
    assert everything.class_names == ["cool", "warm"]
    assert torch.equal(everything.labels, _warm_truth(everything))
    assert len(val) == 30 and val.label_source == "classifier"
    with pytest.warns(UserWarning):
        again = resume_run(out, steps=3, device="cpu", progress=False)
    assert torch.equal(again.val_set.labels, val.labels)
    # other images than the run's: refused, not silently mislabelled
    with pytest.raises(RunError, match="other images"):
        load_labels(out, make_shapes(n=10, resolution=16, seed=1).subset(range(10)))


def test_check_classifier_on_unlabelled_data_reports_predictions(flat, tmp_path, capsys):
    from stylex.cli import main

    clf_file = tmp_path / "warm.pt"
    _save_warm(clf_file)
    with pytest.warns(UserWarning):
        rc = main(["check-classifier", "--data", str(flat), "--classifier", str(clf_file),
                   "--resolution", "16"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "verdict: unlabelled" in out and "cool" in out and "warm" in out
    assert str(LABELS_FILE) == "labels.json"


def test_an_unnamed_classifier_with_an_unused_output_on_unlabelled_data_ships(flat, tmp_path):
    import subprocess
    import sys

    from safetensors.torch import load_file

    from stylex.run import Run
    from stylex.training import TrainConfig
    from stylex.training.networks import ModelSize
    from stylex.training.run_folder import create_run

    clf_file = tmp_path / "three.pt"
    save_torchscript(WarmOrNever(), ClassifierContract(), clf_file, (1, 3, 16, 16))
    tc = TrainConfig(steps=2, batch=4, checkpoint_every=2, sample_every=2, eval_every=2,
                     eval_images=8, log_every=1, perceptual="none",
                     encoder_features="effnet")  # fmt: skip
    size = ModelSize(channel_max=16, channel_base=256, w_dim=16, mapping_layers=2)
    out = tmp_path / "run"
    with pytest.warns(UserWarning):
        create_run(out, str(flat), str(clf_file), resolution=16, train=tc, size=size,
                   device="cpu", progress=False).train()  # fmt: skip
    shipped = tmp_path / "shipped"
    script = Path(__file__).parents[1] / "scripts" / "ship_run.py"
    subprocess.run(
        [sys.executable, str(script), str(out), str(shipped), "--note", "test"], check=True
    )
    enc = load_file(str(shipped / "encoder.safetensors"))  # fp16, feature statistics fp32
    assert enc["head.0.weight"].dtype == torch.float16
    assert enc["feat_mean"].dtype == enc["feat_std"].dtype == torch.float32
    assert torch.equal(enc["feat_mean"], load_file(str(out / "encoder.safetensors"))["feat_mean"])
    for folder in (out, shipped):
        run = Run.load(folder, device="cpu")
        assert run.class_names == ["class 0", "class 1"] and run.generator.config.cond_dim == 2
        with pytest.warns(UserWarning):
            ds = run.dataset("all")
        assert run.classifier(ds.float_images(slice(0, 4))).shape == (4, 2)
        assert torch.equal(ds.labels, _warm_truth(ds)) and ds.class_names == run.class_names
    (shipped / LABELS_FILE).unlink()
    with pytest.raises(RunError, match="predicted labels not found"):
        Run.load(shipped, device="cpu").dataset("val")


class RankSkewed(nn.Module):
    """WarmOrNever, except that on rank 1 its third class wins for the images greener than
    ``thr``: two devices that disagree near a tie, in exaggerated form."""

    def __init__(self, rank: int, thr: float):
        super().__init__()
        self.rank, self.thr = rank, thr

    def forward(self, x):
        three = WarmOrNever()(x)
        if self.rank == 1:
            green = x[:, 1].mean((1, 2)) > self.thr
            three[:, 2] = torch.where(green, three.max(1).values + 1, three[:, 2])
        return three


def _agree_worker(rank, port, root, result_dir):
    import os

    from stylex import distributed as distr
    from stylex.classifier.unlabelled import check_unlabelled

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(rank), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    info = distr.init_from_env("cpu")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset(root)
    thr = float(ds.float_images()[:, 1].mean((1, 2)).quantile(0.95))
    clf = Classifier(RankSkewed(rank, thr), {"class_names": ["cool", "warm", "never"]})
    labelled, _ = check_unlabelled(
        clf, ds, agree=lambda pred: distr.broadcast_from_main(pred, info, "cpu")
    )
    own, _ = label_by_classifier(
        Classifier(RankSkewed(rank, thr), {"class_names": ["cool", "warm", "never"]}), ds
    )
    Path(result_dir, f"rank{rank}.json").write_text(
        json.dumps(
            {
                "agreed": labelled.class_names,
                "labels": labelled.labels.tolist(),
                "own": own.class_names,
            }
        )  # fmt: skip
    )
    import torch.distributed as dist

    dist.destroy_process_group()


def test_ranks_label_unlabelled_data_with_rank_0s_predictions(flat, tmp_path):
    """On several devices every rank takes rank 0's predictions, so a class that one device
    predicts and another does not cannot give the ranks different class sets."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_agree_worker, args=(port, str(flat), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["own"] == ["cool", "warm"] and r1["own"] == ["cool", "warm", "never"]  # disagree
    assert r0["agreed"] == r1["agreed"] == ["cool", "warm"]
    assert r0["labels"] == r1["labels"]
