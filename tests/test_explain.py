"""Explanations: attribute views, sweeps, per-image counterfactuals, `stylex explain`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from stylex.cli import main
from stylex.explain import Explainer, explanation_panel, first_flip, read_images
from stylex.run import Run


@pytest.fixture(autouse=True)
def _one_thread():
    """2 shared cores: one torch thread avoids oversubscription (10× faster here)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _explainer(run_dir) -> Explainer:
    return Explainer(Run.load(run_dir, device="cpu"))


def _class_with_attributes(ex: Explainer) -> str:
    for c in ex.result.classes:
        if c.attributes:
            return c.name
    pytest.skip("the tiny run's AttFind found no attributes")


def test_attribute_view_shapes_ranges_and_stored_effects(tiny_run):
    ex = _explainer(tiny_run)
    cls = _class_with_attributes(ex)
    y = ex.class_names.index(cls)
    view = ex.attribute_view(cls, 0, num_images=4)
    c, r = ex.run.generator.config.img_channels, ex.run.generator.config.resolution
    k = len(ex.class_names)
    for t in (view.real, view.originals, view.edited):
        assert t.shape == (4, c, r, r)
        assert t.min() >= -1 and t.max() <= 1
    assert view.probs_before.shape == view.probs_after.shape == (4, k)
    assert torch.allclose(view.probs_after.sum(1), torch.ones(4), atol=1e-5)
    assert not torch.equal(view.originals, view.edited)
    # the images shown are AttFind's, ranked by its stored Δ, and the recomputed Δ agrees
    pool = ex._pool()
    assert pool["stored"]
    a = view.attribute
    pos = [pool["ids"].index(i) for i in view.image_ids]
    stored = ex.effects.delta[pos, a.direction_index, a.index, y]
    assert torch.allclose(view.delta, stored, atol=1e-4)
    preferred = (ex.effects.base_probs.argmax(1) != y) & ~ex.result.unstable
    eligible = ex.effects.delta[preferred, a.direction_index, a.index, y]
    top = eligible.sort(descending=True).values[: len(pos)]
    assert torch.allclose(stored, top, atol=1e-6)
    # a stronger edit moves the probability further (same images, recomputed ranking)
    strong = Explainer(ex.run, ex.result, shift_size=3.0).attribute_view(cls, 0, num_images=4)
    assert strong.shift_size == 3.0 and strong.edited.shape == view.edited.shape


def test_sweep_runs_from_min_to_max(tiny_run):
    ex = _explainer(tiny_run)
    cls = _class_with_attributes(ex)
    a = ex.attributes(cls)[0]
    x = ex.run.dataset("val").float_images(slice(0, 1))
    styles = ex.encode(x)
    frames = ex.sweep(styles, a, steps=5)
    c, r = ex.run.generator.config.img_channels, ex.run.generator.config.resolution
    assert frames.shape == (5, c, r, r) and frames.min() >= -1 and frames.max() <= 1
    assert not torch.allclose(frames[0], frames[-1])
    values = ex.sweep_values(a, 5)
    assert (
        values[0] == ex.effects.style_min[a.index] and values[-1] == ex.effects.style_max[a.index]
    )
    layer, ch = ex.space.locate(a.index)
    for j in (0, 4):  # the cached partial re-run equals a full synthesis
        st = [s.clone() for s in styles]
        st[layer][:, ch] = values[j]
        full = ex.run.generator.synthesize(st, noise_mode="const").clamp(-1, 1)
        assert torch.allclose(frames[j], full[0], atol=1e-5)


def test_explain_ranks_by_the_images_own_effect(tiny_run):
    ex = _explainer(tiny_run)
    x = ex.run.dataset("val").float_images(slice(0, 3))
    results = ex.explain(x, top_k=2, names=["a", "b", "c"])
    assert len(results) == 3
    k = len(ex.class_names)
    recon = ex.run.reconstruct(x)
    for e, rec in zip(results, recon):
        assert e.image.shape == e.reconstruction.shape == x.shape[1:]
        assert torch.allclose(e.reconstruction, rec.cpu(), atol=1e-5)
        assert e.probs.shape == e.input_probs.shape == (k,)
        assert e.predicted == int(e.probs.argmax()) and e.target != e.predicted
        assert 1 <= len(e.independent) <= 2
        deltas = [c.delta for c in e.independent]
        assert deltas == sorted(deltas, reverse=True)
        indices = [c.attributes[0].index for c in e.independent]
        assert len(set(indices)) == len(indices)
        for c in e.independent:
            assert c.image.min() >= -1 and c.image.max() <= 1
            assert abs(c.delta - float(c.probs[e.target] - e.probs[e.target])) < 1e-6
            assert c.sources and c.sources[0]  # from AttFind's lists
        assert 1 <= len(e.subset) <= len(e.independent)
        if e.flipped:
            assert e.subset[-1].predicted != e.predicted
            assert all(c.predicted == e.predicted for c in e.subset[:-1])
        else:
            assert len(e.subset) == len(e.independent)
        d = json.loads(json.dumps(e.to_dict()))
        assert d["subset"]["attributes_needed"] == e.subset_size
        assert len(d["independent"]) == len(e.independent)
    panel = explanation_panel(results[0])
    assert panel.width > 4 * x.shape[-1] and np.asarray(panel).std() > 0
    # every coordinate is a superset of AttFind's lists: its best edit is at least as good
    [full] = ex.explain(x[:1], top_k=2, candidates="all")
    assert full.independent[0].delta >= results[0].independent[0].delta - 1e-6


def test_first_flip():
    steps = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    assert first_flip(0, steps) == 3
    assert first_flip(1, steps) == 1
    assert first_flip(0, steps[:2]) is None


class _LinearClassifier(nn.Module):
    """logits = [0, <v, x> + b]: a classifier whose decision we can place anywhere."""

    def __init__(self, v: torch.Tensor, b: float, class_names: list[str]):
        super().__init__()
        self.register_buffer("v", v)
        self.b = b
        self.class_names = class_names

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return (x.clamp(-1, 1) * self.v).flatten(1).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.score(x) + self.b
        return torch.stack([torch.zeros_like(z), z], dim=1)


def test_subset_counterfactual_stops_at_the_flip(tiny_run):
    ex = _explainer(tiny_run)
    if len(ex.class_names) != 2:
        pytest.skip("needs a two-class run")
    x = ex.run.dataset("val").float_images(slice(0, 1))
    c, r = x.shape[1], x.shape[-1]
    v = torch.randn(c, r, r, generator=torch.Generator().manual_seed(0)) / r
    clf = _LinearClassifier(v, 0.0, ex.class_names)
    ex.classifier = clf  # decisions by the linear classifier (the encoder keeps its condition)
    z0 = float(clf.score(ex.generate(ex.encode(x))))
    clf.b = -z0 - 0.5  # reconstruction: class 0, not saturated
    [e] = ex.explain(x, top_k=3, candidates="all")
    assert e.predicted == 0 and e.target == 1 and len(e.independent) == 3
    attrs = [cf.attributes[0] for cf in e.independent]
    # scores of the cumulative edits (1, 1+2, 1+2+3), independent of b
    zc = [float(clf.score(ex.counterfactual(x, attrs[: j + 1])[0])) for j in range(3)]
    records = [m for m in range(1, 4) if zc[m - 1] > max([z0, *zc[: m - 1]])]
    assert records, "the top edit raises the class-1 score"
    m = records[-1]
    clf.b = -(max([z0, *zc[: m - 1]]) + zc[m - 1]) / 2  # flips exactly at step m
    [e2] = ex.explain(x, top_k=3, candidates="all")
    assert [cf.attributes[0].index for cf in e2.independent] == [a.index for a in attrs]
    assert e2.predicted == 0
    assert e2.subset_size == m and e2.flipped
    assert len(e2.subset) == m and e2.subset[-1].predicted == 1
    assert "with the top" in e2.summary()
    clf.b = -max([z0, *zc]) - 1.0  # never flips
    [e3] = ex.explain(x, top_k=3, candidates="all")
    assert e3.subset_size is None and not e3.flipped and len(e3.subset) == 3
    assert "does not flip" in e3.summary()


def test_explain_cli_on_files(tiny_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    grey = tmp_path / "grey.png"
    Image.fromarray(rng.integers(0, 255, (23, 17), dtype=np.uint8), "L").save(grey)
    rgb = tmp_path / "in" / "colour.png"
    rgb.parent.mkdir()
    Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8), "RGB").save(rgb)
    out = tmp_path / "out"
    code = main(
        ["explain", "--run", str(tiny_run), str(grey), str(rgb), "--out", str(out), "--top-k", "2"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "grey.png: predicted" in printed and "colour.png: predicted" in printed
    for name in ("grey", "colour"):
        with Image.open(out / f"{name}.png") as im:
            assert im.width > 100 and np.asarray(im.convert("L")).std() > 0
        d = json.loads((out / f"{name}.json").read_text())
        assert d["predicted"] in d["reconstruction_probs"]
        assert 1 <= len(d["independent"]) <= 2
        assert set(d["subset"]) >= {"flipped", "attributes_needed", "steps"}
    # the data layer's conversion rule: any size/mode → the run's resolution/channels
    cfg = Run.load(tiny_run).config.to_dict()["data"]
    x = read_images([grey, rgb], cfg["resolution"], cfg["channels"])
    assert x.shape == (2, cfg["channels"], cfg["resolution"], cfg["resolution"])


def test_explain_cli_bad_file(tiny_run, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    good = tmp_path / "good.png"
    Image.new("L", (16, 16), 128).save(good)
    code = main(
        ["explain", "--run", str(tiny_run), str(good), str(bad), "--out", str(tmp_path / "o")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "good.png" not in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
