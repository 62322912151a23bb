"""The classifier contract on the command line: a user's TorchScript MLP on a PNG folder.

The user's case from issue 18: an MLP trained on 28x28 digits in [0, 1] (output order three,
eight), and a class-per-folder PNG tree whose alphabetical order is (eight, three). Only
contract options are needed; each wrong option gives an error naming the option to change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from stylex.cli import main

pytestmark = pytest.mark.filterwarnings(r"ignore:.*torch\.jit.*deprecated:DeprecationWarning")

PER_CLASS = 150
RIGHT = ["--input-range", "0,1", "--input-size", "28", "--input-channels", "1"]
TINY_TRAIN = ["--resolution", "32", "--steps", "2", "--batch", "4", "--width", "16",
              "--w-dim", "16", "--mapping-layers", "2", "--perceptual", "none",
              "--checkpoint-every", "2", "--sample-every", "2", "--eval-every", "2",
              "--eval-images", "8", "--device", "cpu", "--no-progress"]  # fmt: skip


class MLP(nn.Module):
    """28x28 grey digits in [0, 1] → logits (three, eight)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Path, Path]:
    """(PNG folder three/ eight/ of 28 px digits, TorchScript MLP trained on them in [0, 1])."""
    from stylex.data import load_dataset

    root = tmp_path_factory.mktemp("digits")
    ds = load_dataset("mnist:3,8")  # 32 px = the 28 px digits padded by 2 px of black
    labels = ds.labels.numpy()
    xs, ys = [], []
    for k, name in enumerate(["three", "eight"]):
        (root / "data" / name).mkdir(parents=True)
        for j, i in enumerate(np.flatnonzero(labels == k)[:PER_CLASS]):
            img = ds.images[i, 0, 2:30, 2:30].numpy()
            Image.fromarray(img).save(root / "data" / name / f"{j:04d}.png")
            xs.append(img)
            ys.append(k)
    x = torch.from_numpy(np.stack(xs)).float()[:, None] / 255.0  # [N, 1, 28, 28] in [0, 1]
    y = torch.tensor(ys)
    torch.manual_seed(0)
    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.95
    path = root / "mlp.pt"
    torch.jit.save(torch.jit.script(model.eval()), str(path))  # no contract inside
    return root / "data", path


def _train(tmp_path, data, clf, *extra) -> tuple[int, Path]:
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--classifier", str(clf), "--out", str(out),
                 *TINY_TRAIN, *extra])  # fmt: skip
    return code, out


def test_digit_case_runs_with_contract_options_only(digits, tmp_path, capsys):
    data, clf = digits
    code, out = _train(tmp_path, data, clf, *RIGHT, "--class-names", "three,eight")
    text = capsys.readouterr().out
    assert code == 0, text
    # the folder's alphabetical order (eight, three) was mapped to the classifier's, said once
    assert text.count("used in the classifier's order") == 1
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["class_names"] == ["three", "eight"]
    assert cfg["data"]["spec"] == f"{data}:three,eight" and cfg["data"]["spec_given"] == str(data)
    assert cfg["classifier"]["contract"]["input_range"] == [0.0, 1.0]
    assert cfg["classifier"]["check"]["verdict"] == "fit"
    assert cfg["classifier"]["check"]["accuracy"] > 0.9
    # the resolved contract is stored in the run: later commands need no options
    from stylex.run import Run

    run = Run.load(out, device="cpu", discriminator=False)
    c = run.classifier.contract
    assert (c.input_range, c.resolution, c.channels) == ((0.0, 1.0), 28, 1)
    assert run.class_names == ["three", "eight"]
    val = run.dataset("val")
    assert val.class_names == ["three", "eight"]
    acc = (run.classifier.predict(val.float_images()) == val.labels).float().mean()
    assert acc > 0.9


def _error(capsys) -> str:
    return capsys.readouterr().err


def test_wrong_range_names_input_range(digits, tmp_path, capsys):
    data, clf = digits
    code, out = _train(tmp_path, data, clf, "--input-range", "-1,1", "--input-size", "28",
                       "--input-channels", "1", "--class-names", "three,eight")  # fmt: skip
    err = _error(capsys)
    assert code == 1 and "--input-range 0,1" in err, err
    assert "--force" in err and not (out / "config.json").exists()


def test_wrong_size_names_input_size(digits, tmp_path, capsys):
    data, clf = digits
    code, _ = _train(tmp_path, data, clf, "--input-range", "0,1", "--input-size", "32",
                     "--input-channels", "1", "--class-names", "three,eight")  # fmt: skip
    err = _error(capsys)
    assert code == 1 and "--input-size 28" in err, err


def test_wrong_channels_names_input_channels(digits, tmp_path, capsys):
    data, clf = digits
    code, _ = _train(tmp_path, data, clf, "--input-range", "0,1", "--input-size", "28",
                     "--input-channels", "3", "--class-names", "three,eight")  # fmt: skip
    err = _error(capsys)
    assert code == 1 and "--input-channels 1" in err, err


def test_wrong_output_names_output(digits, tmp_path, capsys):
    data, clf = digits
    code, _ = _train(tmp_path, data, clf, *RIGHT, "--output", "probs",
                     "--class-names", "three,eight")  # fmt: skip
    err = _error(capsys)
    assert code == 1 and "--output logits" in err, err


def test_wrong_class_names_names_class_names(digits, tmp_path, capsys):
    data, clf = digits
    # the classifier's real order is (three, eight); the folder's is (eight, three)
    for names in (["--class-names", "eight,three"], []):
        code, _ = _train(tmp_path, data, clf, *RIGHT, *names)
        err = _error(capsys)
        assert code == 1 and "class order looks reversed" in err, err
        assert "--class-names three,eight" in err, err
    code, _ = _train(tmp_path, data, clf, *RIGHT, "--class-names", "three,eight,five")
    err = _error(capsys)
    assert code == 1 and "--class-names" in err and "3 classes" in err, err


def test_force_trains_anyway(digits, tmp_path, capsys):
    data, clf = digits
    code, out = _train(tmp_path, data, clf, *RIGHT, "--force")
    assert code == 0 and (out / "generator.safetensors").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["classifier"]["check"]["verdict"] == "reversed"


def test_check_classifier_reports_and_suggests(digits, capsys):
    data, clf = digits
    code = main(["check-classifier", "--data", str(data), "--classifier", str(clf), *RIGHT,
                 "--class-names", "three,eight", "--resolution", "32", "--json"])  # fmt: skip
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["verdict"] == "fit" and rep["class_names"] == ["three", "eight"]
    assert rep["accuracy"] > 0.9 and min(rep["per_class"]) > 0.85
    assert sum(map(sum, rep["confusion"])) == rep["num_images"] == 256
    assert "used in the classifier's order" in rep["notes"][0]
    # near chance: the alternatives are tried and ranked, the best one named first
    code = main(["check-classifier", "--data", str(data), "--classifier", str(clf),
                 "--input-size", "28", "--input-channels", "1", "--class-names", "three,eight",
                 "--resolution", "32"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 1 and "accuracy with one contract change" in text
    assert "check --input-range first" in text, text


def test_contract_file_and_bad_values(digits, tmp_path, capsys):
    data, clf = digits
    f = tmp_path / "contract.json"
    f.write_text(json.dumps({"input_range": [0, 1], "resolution": 28, "channels": 1,
                             "class_names": ["three", "eight"]}))  # fmt: skip
    code = main(["check-classifier", "--data", str(data), "--classifier", str(clf),
                 "--contract", str(f), "--resolution", "32"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    capsys.readouterr()
    for bad, flag in ((["--input-range", "1,0"], "--input-range"),
                      (["--input-channels", "2"], "--input-channels"),
                      (["--input-size", "big"], "--input-size"),
                      (["--class-names", "one"], "--class-names")):  # fmt: skip
        code = main(["check-classifier", "--data", str(data), "--classifier", str(clf), *bad])
        assert code == 1 and flag in _error(capsys)


def test_onnx_is_a_clear_error(tmp_path):
    from stylex.classifier import load_classifier
    from stylex.errors import ClassifierError

    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    with pytest.raises(ClassifierError, match="torch.jit.trace"):
        load_classifier(tmp_path / "m.onnx")


# ------------------------------------------------------------------------------ run-based commands
def test_attfind_with_another_classifier(tiny_run, capsys):
    other = tiny_run / "other.pt"
    other.write_bytes((tiny_run / "classifier.pt").read_bytes())
    args = ["attfind", "--run", str(tiny_run), "--classifier", str(other), "--num-images", "8",
            "--top-k", "2", "--no-progress", "--device", "cpu"]  # fmt: skip
    code = main(args)  # the tiny fixture's classifier is at chance: refused without --force
    assert code == 1 and "near chance" in capsys.readouterr().err
    code = main([*args, "--force"])
    out = capsys.readouterr().out
    assert code == 0 and f"classifier {other}: accuracy" in out, out
    res = json.loads((tiny_run / "attfind-other" / "attributes.json").read_text())
    own = json.loads((tiny_run / "attfind" / "attributes.json").read_text())
    assert [c["class"] for c in res["classes"]] == [c["class"] for c in own["classes"]]
    assert all(len(c["attributes"]) <= 2 for c in res["classes"])
    # a wrong contract for the other classifier names the option
    code = main(["attfind", "--run", str(tiny_run), "--classifier", str(other),
                 "--input-channels", "1", "--num-images", "8", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "--input-channels 3" in err, err


def test_run_contract_override(tiny_run):
    from stylex.run import Run

    stored = Run.load(tiny_run, device="cpu", discriminator=False).classifier.contract
    assert stored.input_range == (-1.0, 1.0) and stored.channels == 3
    run = Run.load(tiny_run, device="cpu", discriminator=False, contract={"input_range": [0, 1]})
    assert run.classifier.contract.input_range == (0.0, 1.0)
    assert run.classifier.contract.channels == 3  # the other fields stay as stored


# ------------------------------------------------------------------------------ verdict logic
class ByIntensity(nn.Module):
    """Reads the class from the mean intensity (class k → level k), outputs it through ``perm``."""

    def __init__(self, perm: list[int]):
        super().__init__()
        self.register_buffer("perm", torch.tensor(perm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = ((x.mean(dim=(1, 2, 3)) + 1) / 2 * 3).round().clamp(0, 3).long()
        return nn.functional.one_hot(self.perm[level], 4).float() * 5


def _levels_dataset():
    from stylex.data import StylexDataset

    labels = torch.arange(64) % 4
    images = (labels * 85).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 16, 16).contiguous()
    return StylexDataset(images, labels, ["a", "b", "c", "d"], name="levels")


def test_permuted_class_order_is_named():
    from stylex.classifier import Classifier, diagnose_classifier

    ds = _levels_dataset()
    assert diagnose_classifier(Classifier(ByIntensity([0, 1, 2, 3])), ds).verdict == "fit"
    # output j stands for class perm^-1[j]: the classifier's order is c,a,d,b
    check = diagnose_classifier(Classifier(ByIntensity([1, 3, 0, 2])), ds)
    assert check.verdict == "permuted" and check.accuracy == 0.0
    assert "--class-names c,a,d,b" in check.message
    assert check.confusion[0][1] == 16 and check.per_class == [0.0] * 4


def test_class_order_spec_round_trip(tmp_path):
    from stylex.classifier import class_order_spec, match_class_order
    from stylex.data import load_dataset

    assert match_class_order(["Ankle boot", "sneaker"], ["sneaker", "ankle-boot"]) == [
        "ankle-boot",
        "sneaker",
    ]
    assert match_class_order(["a", "b"], ["a", "b"]) is None
    assert match_class_order(["thin", "thick"], ["0", "1"]) is None
    spec = class_order_spec("fashion-mnist@test:sneaker,ankle-boot?n=50", ["ankle-boot", "sneaker"])
    assert spec == "fashion-mnist@test:ankle-boot,sneaker?n=50"
    ds = load_dataset(spec)
    assert ds.class_names == ["ankle-boot", "sneaker"] and len(ds) == 50
    assert class_order_spec("shapes", ["hue>=0.5", "hue<0.5"]) is None


def test_negative_values_and_class_selector():
    from stylex.classifier.options import join_negative_values
    from stylex.report.sections.attributes import class_selector

    argv = ["--input-range", "-1,1", "--mean", "-.5", "--std", "0.5", "--out", "-x"]
    assert join_negative_values(argv) == [
        "--input-range=-1,1", "--mean=-.5", "--std", "0.5", "--out", "-x"
    ]  # fmt: skip
    names = [f"class {i}" for i in range(10)]
    html = class_selector(names)
    assert "10 classes" in html and all(f'href="#class-class-{i}"' in html for i in range(10))
    assert class_selector(["a", "b"]) == ""


@pytest.mark.parametrize(
    "command", ["train", "check-classifier", "attfind", "evaluate", "explain", "serve"]
)
def test_every_classifier_command_takes_the_contract_options(command, tmp_path):
    import argparse
    import importlib

    from stylex.classifier.options import contract_from_args, join_negative_values
    from stylex.cli import COMMANDS

    f = tmp_path / "c.json"
    f.write_text(json.dumps({"output": "probs", "resolution": 64}))
    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    required = {"train": ["--out", "o"], "check-classifier": ["--data", "d", "--classifier", "c"],
                "explain": ["--run", "r", "x.png"]}.get(command, ["--run", "r"])  # fmt: skip
    argv = [*required, "--input-range", "-1,1", "--input-size", "28", "--input-channels", "1",
            "--mean", "0.5", "--std", "0.25", "--class-names", "a,b,c",
            "--contract", str(f)]  # fmt: skip
    args = parser.parse_args(join_negative_values(argv))
    assert contract_from_args(args) == {
        "output": "probs", "resolution": 28, "input_range": [-1.0, 1.0], "channels": 1,
        "mean": [0.5], "std": [0.25], "class_names": ["a", "b", "c"],
    }  # fmt: skip
