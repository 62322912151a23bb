"""The public face: ``stylex.StylExPipeline`` and the README's Python example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PIL import Image

import stylex
from stylex.errors import DataError, RunError
from stylex.pipeline import Explanation, StylExPipeline, builtin_runs, resolve_run_dir
from stylex.run import Run

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_top_level_exports_and_one_version():
    from importlib.metadata import version

    assert stylex.__version__ == version("stylex")
    for name in ("StylExPipeline", "AttFind", "Explainer", "train", "evaluate", "Run"):
        assert getattr(stylex, name) is not None
    with pytest.raises(AttributeError):
        stylex.no_such_thing  # noqa: B018


def test_resolve_run_dir(tiny_run):
    assert resolve_run_dir(tiny_run) == tiny_run
    assert "fashion-mnist" in builtin_runs()
    assert resolve_run_dir("fashion-mnist").name == "fashion-mnist"
    with pytest.raises(RunError, match="neither a run folder"):
        resolve_run_dir(tiny_run / "missing")


def test_pipeline_inputs_agree_and_match_the_explainer(tiny_run, tmp_path):
    pipe = StylExPipeline.from_pretrained(tiny_run, device="cpu", progress=False)
    ds = Run.load(tiny_run, device="cpu").dataset("val")
    x = ds.float_images(slice(0, 1))[0]
    path = tmp_path / "img.png"
    stylex_img = ((x.permute(1, 2, 0).numpy() + 1) * 127.5).round().astype("uint8")
    Image.fromarray(stylex_img).save(path)
    from_tensor = pipe(x, top_k=2)
    from_path = pipe(str(path), top_k=2)
    from_pil = pipe(Image.open(path), top_k=2)
    assert isinstance(from_tensor, Explanation)
    # a PNG round-trip quantises to 1/127.5: the same image within that
    assert torch.allclose(from_path.detail.image, x, atol=1 / 127.5 + 1e-6)
    assert torch.equal(from_path.detail.image, from_pil.detail.image)
    direct = pipe.explainer.explain(x[None], top_k=2)[0]
    assert from_tensor.predicted == pipe.class_names[direct.predicted]
    assert torch.allclose(from_tensor.detail.reconstruction, direct.reconstruction)
    assert [a.index for a in from_tensor.attributes] == [
        c.attributes[-1].index for c in direct.independent
    ]
    assert from_tensor.counterfactual.size == (16, 16)
    assert from_tensor.panel().width > 16 * 4
    many = pipe([x, str(path)], top_k=2)
    assert isinstance(many, list) and len(many) == 2


def test_pipeline_rejects_bad_inputs(tiny_run):
    pipe = StylExPipeline.from_pretrained(tiny_run, device="cpu", progress=False)
    with pytest.raises(DataError, match=r"must be \[3, 16, 16\]"):
        pipe(torch.zeros(1, 8, 8))
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        pipe(torch.full((3, 16, 16), 5.0))
    with pytest.raises(DataError, match="cannot explain"):
        pipe(42)


def test_pipeline_runs_attfind_once_and_caches_it(tiny_run, tmp_path, monkeypatch):
    import shutil

    shutil.rmtree(tiny_run / "attfind")
    StylExPipeline.from_pretrained(tiny_run, device="cpu", progress=False, num_images=8, top_k=2)
    assert (tiny_run / "attfind" / "attributes.json").is_file()
    stamp = (tiny_run / "attfind" / "attributes.json").stat().st_mtime_ns
    StylExPipeline.from_pretrained(tiny_run, device="cpu", progress=False)
    assert (tiny_run / "attfind" / "attributes.json").stat().st_mtime_ns == stamp


def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's Python section, executed as written (built-in run, AttFind cached in tmp)."""
    code = re.search(r"## Python\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) < 10
    monkeypatch.setenv("STYLEX_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    run = Run.load(resolve_run_dir("fashion-mnist"), device="cpu", discriminator=False)
    boot = run.dataset("val").float_images(slice(0, 1))[0]
    Image.fromarray(((boot[0].numpy() + 1) * 127.5).round().astype("uint8"), "L").save("boot.png")
    exec(compile(code, "README.md", "exec"), {})
    assert Image.open("panel.png").width > Image.open("counterfactual.png").width
    assert Image.open("counterfactual.png").size == (32, 32)
    assert (tmp_path / "cache" / "attfind" / "fashion-mnist" / "attributes.json").is_file()
