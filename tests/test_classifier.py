"""Classifiers: contract, loading (TorchScript, module:callable), checks, freezing, training."""

from __future__ import annotations

import json
import textwrap
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from stylex.classifier import (
    CONTRACT_FILE,
    Classifier,
    ClassifierContract,
    build_small_cnn,
    check_classifier,
    diagnose_classifier,
    load_classifier,
    save_torchscript,
    train_classifier,
)
from stylex.data import make_shapes
from stylex.errors import ClassifierError

pytestmark = pytest.mark.filterwarnings(r"ignore:.*torch\.jit.*deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def shapes16():
    return make_shapes(n=64, resolution=16, seed=0)


class Recorder(nn.Module):
    """Returns fixed logits and remembers its last input."""

    def __init__(self, k: int = 2, fill: float | None = None, probs: bool = False):
        super().__init__()
        self.k, self.fill, self.as_probs = k, fill, probs
        self.lin = nn.Linear(1, k)
        self.seen: torch.Tensor | None = None

    def forward(self, x):
        self.seen = x.detach().clone()
        out = self.lin(x.mean(dim=(1, 2, 3))[:, None])
        if self.fill is not None:
            out = torch.full_like(out, self.fill)
        return out.softmax(1) if self.as_probs else out


# ------------------------------------------------------------------------------ contract
def test_contract_json_round_trip_and_validation():
    c = ClassifierContract(
        input_range=(0, 255), resolution=64, channels=3, mean=[0.5] * 3, std=[0.2] * 3,
        class_names=["a", "b"], output="probs",
    )  # fmt: skip
    d = json.loads(json.dumps(c.to_dict()))
    assert ClassifierContract.from_dict(d) == c
    assert ClassifierContract.from_dict({}) == ClassifierContract()
    for bad in (
        {"input_range": (1, 0)},
        {"channels": 2},
        {"output": "scores"},
        {"mean": [0.5]},
        {"mean": [0.5], "std": [0.0]},
        {"colour": True},
    ):
        with pytest.raises(ClassifierError):
            ClassifierContract.from_dict(bad)


def test_wrapper_converts_to_the_contract():
    rec = Recorder()
    clf = Classifier(
        rec, {"input_range": [0, 1], "resolution": 32, "channels": 3, "mean": [0.5], "std": [0.5]}
    )
    x = torch.linspace(-1, 1, 16 * 16).view(1, 1, 16, 16).repeat(2, 1, 1, 1)
    out = clf(x)
    assert out.shape == (2, 2)
    assert rec.seen.shape == (2, 3, 32, 32)
    # [-1, 1] → [0, 1] → (x - 0.5) / 0.5 = back to [-1, 1] (up to interpolation)
    assert rec.seen.min() >= -1.0 - 1e-5 and rec.seen.max() <= 1.0 + 1e-5
    assert torch.allclose(rec.seen[:, 0], rec.seen[:, 2])
    clf2 = Classifier(rec, {"input_range": [0, 255], "channels": 1, "resolution": 8})
    clf2(torch.ones(1, 3, 16, 16))
    assert rec.seen.shape == (1, 1, 8, 8) and torch.allclose(rec.seen, torch.tensor(255.0))


def test_probs_output_becomes_logits():
    clf = Classifier(Recorder(k=3, probs=True), {"output": "probs"})
    x = torch.randn(4, 1, 16, 16).clamp(-1, 1)
    assert torch.allclose(clf.probs(x), clf.module(x), atol=1e-6)
    assert clf.predict(x).shape == (4,)


# ------------------------------------------------------------------------------ freezing
def test_frozen_weights_but_input_gradients_flow():
    clf = Classifier(build_small_cnn(3, 2, 16))
    clf.train()
    assert not clf.training and not clf.module.training
    assert all(not p.requires_grad for p in clf.parameters())
    parent = nn.ModuleDict({"clf": clf, "other": nn.Linear(2, 2)})
    parent.train()
    parent.requires_grad_(True)  # a careless parent unfreezes everything …
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    clf(x).logsumexp(1).sum().backward()  # … the forward freezes the classifier again
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in clf.parameters())
    assert not clf.module.training
    # BatchNorm statistics do not move
    before = [b.clone() for b in clf.module.buffers()]
    clf(torch.randn(8, 3, 16, 16) * 3)
    assert all(torch.equal(a, b) for a, b in zip(before, clf.module.buffers(), strict=True))


# ------------------------------------------------------------------------------ loading
def test_torchscript_round_trip_with_contract(tmp_path, shapes16):
    model = build_small_cnn(3, 2, 16, width=8).eval()
    contract = ClassifierContract(resolution=16, channels=3, class_names=shapes16.class_names)
    path = save_torchscript(model, contract, tmp_path / "sub" / "clf.pt")
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))
    clf = load_classifier(str(path))
    assert clf.contract == contract and clf.num_classes == 2
    assert clf.class_names == shapes16.class_names
    x = shapes16.float_images(slice(0, 5))
    with torch.no_grad():
        assert torch.allclose(clf(x), model(x), atol=1e-5)
    extra = {CONTRACT_FILE: ""}
    torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra[CONTRACT_FILE])["resolution"] == 16
    # an explicit contract (dict) is merged over the stored one
    over = load_classifier(str(path), contract={"input_range": [0, 1]})
    assert over.contract.input_range == (0.0, 1.0) and over.contract.resolution == 16
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"channels": 1}))
    assert load_classifier(str(path), contract=str(js)).contract.channels == 1


def test_pickles_are_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(build_small_cnn(1, 2, 16).state_dict(), path)
    with pytest.raises(ClassifierError, match="not a TorchScript file.*never unpickles"):
        load_classifier(str(path))
    with pytest.raises(ClassifierError, match="not found"):
        load_classifier(str(tmp_path / "nope.pt"))


def test_module_callable_from_file_and_module(tmp_path, monkeypatch, shapes16):
    code = textwrap.dedent(
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(3, 2)

            def forward(self, x):
                return self.lin(x.mean(dim=(2, 3)))

        def make():
            return Net()

        def not_a_module():
            return 42

        instance = Net()
        instance.stylex_contract = {"input_range": [0, 1], "class_names": ["hue>=0.5", "hue<0.5"]}
        """
    )
    (tmp_path / "my_clf.py").write_text(code)
    clf = load_classifier(f"{tmp_path / 'my_clf.py'}:make")
    assert isinstance(clf, Classifier) and clf.num_classes is None
    check_classifier_quiet(clf, shapes16)
    assert clf.class_names == shapes16.class_names  # adopted from the data
    monkeypatch.syspath_prepend(str(tmp_path))
    inst = load_classifier("my_clf:instance")
    assert inst.contract.input_range == (0.0, 1.0) and inst.num_classes == 2
    with pytest.raises(ClassifierError, match="returned int, expected an nn.Module"):
        load_classifier("my_clf:not_a_module")
    with pytest.raises(ClassifierError, match="has no attribute 'missing'"):
        load_classifier("my_clf:missing")
    with pytest.raises(ClassifierError, match="cannot import module"):
        load_classifier("no_such_module_xyz:make")


class VarArgs(nn.Module):
    """A model TorchScript cannot compile (``forward(*args)``) but tracing can export."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, *args):
        return self.lin(args[0].mean(dim=(2, 3)))


class Untraceable(VarArgs):
    def forward(self, *args):
        return {"logits": self.lin(args[0].mean(dim=(2, 3))), "name": "hf-style"}


def test_unscriptable_classifier_is_traced_at_the_data_shape_or_refused_cleanly(tmp_path, shapes16):
    from stylex.training.run_folder import create_run

    contract = ClassifierContract()  # no resolution or channels declared
    model = VarArgs()
    path = save_torchscript(model, contract, tmp_path / "c.pt", (1, 3, 16, 16))
    x = shapes16.float_images(slice(0, 4))
    assert torch.allclose(load_classifier(str(path))(x), Classifier(model)(x), atol=1e-6)
    with pytest.raises(ClassifierError, match="no input shape is known.*--input-size"):
        save_torchscript(VarArgs(), contract, tmp_path / "d.pt")
    with pytest.raises(ClassifierError, match="tracing it on an input of shape .*export it"):
        save_torchscript(Untraceable(), contract, tmp_path / "e.pt", (1, 3, 16, 16))
    # a run whose classifier cannot be saved is not created at all
    (tmp_path / "m.py").write_text(
        "from tests.test_classifier import Untraceable\ndef make():\n    return Untraceable()\n"
    )
    with pytest.raises(ClassifierError, match="cannot save the classifier"):
        create_run(tmp_path / "run", "shapes?n=64", f"{tmp_path / 'm.py'}:make", resolution=16,
                   force=True, progress=False)  # fmt: skip
    assert not (tmp_path / "run").exists()


def check_classifier_quiet(clf, ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_classifier(clf, ds)


# ------------------------------------------------------------------------------ checks
def test_output_size_mismatch(shapes16):
    clf = Classifier(Recorder(k=5))
    with pytest.raises(ClassifierError, match="outputs 5 classes but .* has 2"):
        check_classifier(clf, shapes16)
    named = Classifier(Recorder(k=2), {"class_names": ["a", "b", "c"]})
    with pytest.raises(ClassifierError, match="has 3 classes .* but .* has 2"):
        check_classifier(named, shapes16)


def test_nan_output(shapes16):
    with pytest.raises(ClassifierError, match="NaN or infinite"):
        check_classifier(Classifier(Recorder(fill=float("nan"))), shapes16)


def test_class_order_and_near_chance(shapes16):
    swapped = list(reversed(shapes16.class_names))
    with pytest.raises(ClassifierError, match="another order"):
        check_classifier(Classifier(Recorder(), {"class_names": swapped}), shapes16)
    with pytest.warns(UserWarning, match="near chance"):
        acc = check_classifier(Classifier(Recorder(fill=0.0)), shapes16)
    assert 0.0 <= acc <= 1.0


def test_probs_declared_but_logits_returned(shapes16):
    with pytest.raises(ClassifierError, match="not probabilities"):
        check_classifier_quiet(Classifier(Recorder(fill=3.0), {"output": "probs"}), shapes16)


class OneScore(nn.Module):
    """A binary classifier with one score per image: the second class's sigmoid logit (or its
    probability), from a two-logit model."""

    def __init__(self, two: nn.Module, kind: str = "logit", squeeze: bool = False):
        super().__init__()
        self.two, self.kind, self.squeeze = two, kind, squeeze

    def forward(self, x):
        out = self.two(x)
        z = out[:, 1:] - out[:, :1]
        z = z.sigmoid() if self.kind == "prob" else z
        return z.flatten() if self.squeeze else z


def test_binary_classifier_with_one_score(shapes16):
    torch.manual_seed(0)
    two = Classifier(Recorder(k=2))
    x = shapes16.float_images(slice(0, 16))
    want = two.probs(x)
    for module, contract in (
        (OneScore(two.module), {}),
        (OneScore(two.module, squeeze=True), {}),
        (OneScore(two.module, kind="prob"), {"output": "probs"}),
        (OneScore(two.module, kind="prob", squeeze=True), {"output": "probs"}),
    ):
        one = Classifier(module, contract)
        assert one(x).shape == (16, 2)
        assert torch.allclose(one.probs(x), want, atol=1e-5)
        assert check_classifier_quiet(one, shapes16) == check_classifier_quiet(two, shapes16)
    # a probability stays finite at 0 and 1
    sure = Classifier(nn.Identity(), {"output": "probs"})
    p = sure.to_logits(torch.tensor([[0.0], [1.0]])).softmax(1)
    assert torch.isfinite(p).all() and p.argmax(1).tolist() == [0, 1]
    # a sigmoid probability declared as a logit, a logit declared as a probability
    with pytest.raises(ClassifierError, match="sigmoid probability, not a logit.*--output probs"):
        check_classifier(Classifier(OneScore(two.module, kind="prob")), shapes16)
    with pytest.raises(ClassifierError, match="not a probability.*--output logits"):
        check_classifier(Classifier(Recorder(k=1, fill=3.0), {"output": "probs"}), shapes16)
    three = make_shapes(n=30, resolution=16, rule="shape", seed=0)
    with pytest.raises(ClassifierError, match="one score per image .* has 3 classes"):
        check_classifier(Classifier(OneScore(Recorder(k=2))), three)


class Brightness(nn.Module):
    """Class 1 when the mean pixel exceeds 0.5 *in [0, 1] units* (trained on that range)."""

    def forward(self, x):
        z = 20.0 * (x.mean(dim=(1, 2, 3)) - 0.5)
        return torch.stack([torch.zeros_like(z), z], 1)


def _grey_levels(groups: list[tuple[float, int, int]]):
    """A 16-px grey dataset: ``(level in [0, 1], label, count)`` per group."""
    from stylex.data import StylexDataset

    values = [v for v, _, n in groups for _ in range(n)]
    labels = [y for _, y, n in groups for _ in range(n)]
    images = torch.tensor(values).mul(255).round().to(torch.uint8).view(-1, 1, 1, 1)
    return StylexDataset(images.expand(-1, 1, 16, 16).clone(), torch.tensor(labels),
                         ["dark", "bright"])  # fmt: skip


def test_a_better_input_range_is_refused_or_noted_even_when_accurate():
    # fed [-1, 1], mid-grey (0.6) reads dark to a classifier trained on [0, 1]
    ds = _grey_levels([(0.2, 0, 90), (0.6, 1, 20), (0.9, 1, 90)])
    check = diagnose_classifier(Classifier(Brightness()), ds)  # 90 %, and 100 % with 0,1
    assert check.accuracy == pytest.approx(0.9) and check.verdict == "contract"
    assert "input range looks wrong" in check.message and "100% with --input-range 0,1" in (
        check.message
    )
    right = diagnose_classifier(Classifier(Brightness(), {"input_range": [0, 1]}), ds)
    assert right.verdict == "fit" and right.accuracy == 1.0 and not right.notes
    # a smaller gain (88 % → 93.5 %, errors not halved) is a note on a fit classifier
    ds = _grey_levels([(0.2, 0, 88), (0.6, 1, 11), (0.9, 0, 13), (0.9, 1, 88)])
    check = diagnose_classifier(Classifier(Brightness()), ds)
    assert check.verdict == "fit" and check.accuracy == pytest.approx(0.88)
    assert any("input range -1,1 but 9" in n and "% with --input-range 0,1" in n
               for n in check.notes), check.notes  # fmt: skip


def test_half_precision_classifier_takes_and_gives_float32(shapes16):
    torch.manual_seed(0)
    full = build_small_cnn(3, 2, 16, width=4).eval()
    x = shapes16.float_images(slice(0, 8))
    want = Classifier(full)(x)
    for dtype in (torch.float16, torch.bfloat16):
        half = Classifier(build_small_cnn(3, 2, 16, width=4).eval())
        half.module.load_state_dict(full.state_dict())
        half.module.to(dtype)
        got = half(x)
        assert got.dtype == torch.float32 and torch.allclose(got, want, atol=0.05)
        assert check_classifier_quiet(half, shapes16) == check_classifier_quiet(
            Classifier(full), shapes16
        )


def test_data_with_some_of_the_classifiers_classes_keeps_their_outputs(shapes16):
    from stylex.data import StylexDataset

    torch.manual_seed(0)
    four = Recorder(k=4)
    images = shapes16.images[:40]
    ds = StylexDataset(images, shapes16.labels[:40], ["Cat", "a"])  # two of a, b, cat, d
    clf = Classifier(four, {"class_names": ["a", "b", "cat", "d"]})
    check = diagnose_classifier(clf, ds)
    assert clf.contract.outputs == [2, 0] and clf.class_names == ["cat", "a"]
    assert clf.num_classes == 2 and any("outputs ([2, 0]) are kept" in n for n in check.notes)
    x = ds.float_images(slice(0, 6))
    assert torch.allclose(clf(x), four(x)[:, [2, 0]])
    again = Classifier(four, json.loads(json.dumps(clf.contract.to_dict())))  # as a run stores it
    assert torch.allclose(again(x), clf(x)) and again.class_names == ["cat", "a"]
    # without names, the error says how to get there
    with pytest.raises(ClassifierError, match="outputs 4 classes .* declare all 4 of its class"):
        check_classifier(Classifier(Recorder(k=4)), shapes16)
    with pytest.raises(ClassifierError, match="index past"):
        ClassifierContract(class_names=["a", "b"], outputs=[0, 2])
    with pytest.raises(ClassifierError, match="repeat"):
        ClassifierContract(outputs=[1, 1])


def test_classifier_at_the_native_size_gets_the_padding_cropped_off(tmp_path, shapes16):
    from stylex.data import load_dataset

    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", images=digits, labels=np.arange(40) % 2)
    ds = load_dataset(str(tmp_path / "d.npz"), resolution=32)
    assert ds.padded_from == 28 and ds.subset([0, 1]).padded_from == 28
    rec = Recorder()
    clf = Classifier(rec, {"resolution": 28, "input_range": [0, 255]})
    check = diagnose_classifier(clf, ds)
    assert clf.contract.crop == 28 and any("cropped off, not resized" in n for n in check.notes)
    clf(ds.float_images(slice(0, 3)))
    assert torch.allclose(rec.seen[:, 0], torch.from_numpy(digits[:3]).float(), atol=1e-3)
    stored = Classifier(Recorder(), json.loads(json.dumps(clf.contract.to_dict())))
    assert stored.contract.crop == 28
    # data rendered at its resolution, or a classifier at another size: no crop
    assert shapes16.padded_from is None and load_dataset(str(tmp_path / "d.npz")).padded_from == 28
    other = Classifier(Recorder(), {"resolution": 24})
    diagnose_classifier(other, ds)
    assert other.contract.crop is None
    plain = Classifier(Recorder(), {"resolution": 28})
    diagnose_classifier(plain, shapes16)
    assert plain.contract.crop is None


def test_forward_failure_is_a_clear_error(shapes16):
    bad = Classifier(nn.Conv2d(1, 2, 3), {"channels": 3})  # wants 1 channel, contract says 3
    with pytest.raises(ClassifierError, match="failed on .* Check the contract"):
        check_classifier(bad, shapes16)


def test_small_cnn_scripts_for_any_resolution():
    for res in (16, 64):
        m = build_small_cnn(1, 3, res, width=4).eval()
        s = torch.jit.script(m)
        x = torch.randn(2, 1, res, res)
        assert s(x).shape == (2, 3) and torch.allclose(s(x), m(x), atol=1e-5)


# ------------------------------------------------------------------------------ training
def test_train_classifier_few_steps(tmp_path):
    torch.set_num_threads(min(2, torch.get_num_threads()))
    ds = make_shapes(n=400, resolution=16, seed=1)
    out = tmp_path / "clf.pt"
    res = train_classifier(ds, out, epochs=4, batch=32, lr=3e-3, progress=False, width=8)
    assert out.is_file() and res["path"] == str(out)
    assert res["num_val"] == 40 and res["num_train"] == 360 and res["steps"] == 4 * 12
    assert res["val_accuracy"] > 0.65, res["history"]  # chance is 0.5
    assert len(res["history"]) == 4 and res["train_time_s"] > 0
    clf = load_classifier(str(out))
    assert clf.contract.resolution == 16 and clf.contract.channels == 3
    assert clf.class_names == ds.class_names
    assert check_classifier_quiet(clf, ds) > 0.6


def test_cli_train_classifier(tmp_path, capsys):
    from stylex.cli import main

    out = tmp_path / "clf.pt"
    code = main(
        ["train-classifier", "--data", "shapes?n=120", "--out", str(out), "--epochs", "1",
         "--resolution", "16", "--width", "4", "--batch", "32", "--no-progress"]
    )  # fmt: skip
    assert code == 0 and out.is_file()
    assert "validation accuracy:" in capsys.readouterr().out
    code = main(
        ["train-classifier", "--data", "shapes?n=120", "--out", str(out), "--resolution", "20"]
    )
    assert code == 1 and "power of two" in capsys.readouterr().err
