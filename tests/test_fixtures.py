import json

from stylex.run import Run


def test_tiny_run_fixture_is_complete(tiny_run, tiny_baseline_run):
    for d in (tiny_run, tiny_baseline_run):
        run = Run.load(d, device="cpu")
        attrs = json.loads((d / "attfind" / "attributes.json").read_text())
        assert [c["class"] for c in attrs["classes"]] == run.class_names
    assert Run.load(tiny_baseline_run).baseline and not Run.load(tiny_run).baseline
