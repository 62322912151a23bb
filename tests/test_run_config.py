"""RunConfig: the one schema, reader and writer of a run's config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stylex.errors import RunError
from stylex.run import RunConfig
from stylex.training.run_config import FORMAT_VERSION, DataSection, InitFrom

PRETRAINED = Path(__file__).resolve().parents[1] / "src" / "stylex" / "pretrained"
# the config of the earlier shipped shapes run: staged by hand (a fine-tune of an earlier run,
# written before classifier contracts were stored)
STAGED = Path(__file__).resolve().parent / "data" / "staged-shapes"


# the shipped runs: trained from scratch by `stylex train` (the default recipe)
@pytest.mark.parametrize(
    "folder, staged",
    [(PRETRAINED / "fashion-mnist", False), (PRETRAINED / "shapes", False), (STAGED, True)],
)
def test_shipped_configs_read_and_round_trip(folder, staged, tmp_path):
    raw = json.loads((folder / "config.json").read_text())
    cfg = RunConfig.read(folder)
    assert cfg.format_version == FORMAT_VERSION == raw["format_version"]
    assert cfg.data.spec == raw["data"]["spec"] and cfg.data.resolution == 32
    assert cfg.classifier.file == "classifier.pt"
    assert cfg.generator.resolution == raw["generator"]["resolution"]
    assert cfg.history == raw["history"] and len(cfg.history) >= (2 if staged else 1)
    if staged:
        assert isinstance(cfg.init_from, InitFrom) and cfg.init_from.history is None
        assert cfg.classifier.contract is None
    else:
        assert cfg.init_from is None and "init_from" not in raw
        assert cfg.classifier.contract == raw["classifier"]["contract"] is not None
    out = cfg.to_dict()
    assert list(out) == list(raw)  # key order of the file
    for key in ("format_version", "stylex_version", "data", "classifier", "generator"):
        assert out[key] == raw[key]
    assert out.get("init_from") == raw.get("init_from")
    assert {k: out["train"][k] for k in raw["train"]} == raw["train"]
    cfg.write(tmp_path)
    assert RunConfig.read(tmp_path) == cfg


def test_optional_parts_are_left_out(tmp_path):
    cfg = RunConfig.read(PRETRAINED / "shapes")
    cfg.history, cfg.init_from = None, None
    cfg.data = DataSection(spec="shapes", resolution=32, channels=3)
    out = cfg.to_dict()
    assert "history" not in out and "init_from" not in out and "spec_given" not in out["data"]


def test_bad_sections_are_refused(tmp_path):
    good = json.loads((PRETRAINED / "shapes" / "config.json").read_text())
    for bad, match in (
        ({**good, "data": {**good["data"], "colour": 1}}, "unknown fields in 'data'"),
        ({**good, "train": {"steps": -1}}, "not a valid stylex run config"),
        ({**good, "extra": {}}, "unknown run config sections"),
        ({**good, "format_version": 0}, "unsupported format version"),
        ({**good, "classifier": []}, "not a JSON object"),
    ):
        (tmp_path / "config.json").write_text(json.dumps(bad))
        with pytest.raises(RunError, match=match):
            RunConfig.read(tmp_path)
