"""The HTML report: content, self-containment, and a real headless Chromium loading it."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylex.cli import main
from stylex.report import ReportOptions, build_report
from stylex.report.charts import line_chart
from stylex.report.training_log import read_log

CHROMIUM = "/usr/bin/chromium"
DATA_URI = re.compile(r'src="data:image/(png|gif);base64,([A-Za-z0-9+/=]+)"')
METRICS = {
    "consistency": 0.9375,
    "prob_diff": 0.0412,
    "sufficiency": {str(k): min(1.0, 0.1 * k) for k in range(1, 11)},
    "sufficiency_k0": 0.0612,
    "reconstruction_l1": 0.2345,
    "perceptual": 0.123,
    "fd_samples": 12.5,
    "fd_reconstructions": 8.25,
    "ground_truth": {
        "precision_top5": 0.8,
        "recall_top10": 0.6667,
        "factor_names": ["shape", "hue", "size"],
        "label_factors": ["hue"],
        "min_change": 0.1,
        "attributes": [
            {
                "class": "a",
                "rank": 1,
                "layer": 6,
                "channel": 111,
                "direction": "min",
                "dominant": "hue",
                "change": {"shape": 0.3, "hue": 0.41, "size": 0.21},
            },
            {
                "class": "b",
                "rank": 1,
                "layer": 3,
                "channel": 47,
                "direction": "max",
                "dominant": "size",
                "change": {"shape": 0.26, "hue": 0.04, "size": 0.44},
            },
        ],
        "joint_precision_top3": 0.5,
        "joint_attributes": [
            {"class": "b", "k": 1, "dominant": "size", "change": {"shape": 0.26, "size": 0.44}},
            {"class": "b", "k": 2, "dominant": "hue", "change": {"hue": 0.93, "size": 0.52}},
        ],
        "probe": {"degraded_test": {"shape": {"accuracy": 0.83}, "hue": {"normalised": 0.027}}},
        "unreproduced_factors": ["shape"],
    },
}
SMALL = ReportOptions(top_k=2, num_images=3, num_explain=2, num_reconstructions=4, sweep_steps=5)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _images(page: str) -> list[Image.Image]:
    out = []
    for _, b64 in DATA_URI.findall(page):
        im = Image.open(io.BytesIO(base64.b64decode(b64)))
        im.load()
        out.append(im)
    return out


def _check_self_contained(page: str) -> None:
    # every src/href is inline data or an in-page anchor: no files, no network
    for attr, value in re.findall(r'(src|href)="([^"]*)"', page):
        assert value.startswith(("data:", "#")), f"external {attr}: {value[:60]}"
    assert "<script" not in page.lower()
    assert "url(" not in page  # no CSS-loaded resources


def test_report_without_metrics(tiny_run):
    res = build_report(tiny_run, options=SMALL)
    assert res.path == tiny_run / "report" / "index.html" and res.path.is_file()
    page = res.path.read_text()
    assert res.size_bytes == len(page.encode()) < 5_000_000
    _check_self_contained(page)
    assert "not computed — run <code>stylex evaluate</code>" in page
    for sid in (
        "config",
        "training",
        "samples",
        "reconstructions",
        "attributes",
        "explanations",
        "metrics",
    ):
        assert f'<section id="{sid}">' in page and f'href="#{sid}"' in page
    assert 'id="baseline"' not in page
    assert "<svg" in page and "<polyline" in page  # training curves from log.jsonl
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["data"]["spec"].split("?")[0] in page
    assert html.escape("trained from scratch (the paper's)") in page  # the encoder's kind
    attrs = json.loads((tiny_run / "attfind" / "attributes.json").read_text())
    for c in attrs["classes"]:
        assert f"Class “{html.escape(c['class'])}”" in page
    # the joint check's counts (on by default) are a column of the attribute tables
    joint = [a["joint_flipped"] for c in attrs["classes"] for a in c["attributes"]]
    assert joint and "flipped together</th>" in page
    for c in attrs["classes"]:
        counts = [a["joint_flipped"] for a in c["attributes"]]
        assert counts == sorted(counts)  # never falls as attributes are added
        n = c["num_considered"]
        assert all(f"<td>{k} / {n}</td>" in page for k in counts)
    # each card names its layer's kind and resolution (rgb layers of the 16-px generator: 1, 4, 7)
    cards = [a for c in attrs["classes"] for a in c["attributes"][:1]]
    assert cards
    for a in cards:
        kind = "toRGB" if a["layer"] in (1, 4, 7) else "conv"
        assert f"<h4>layer {a['layer']} ({kind} " in page
    images = _images(page)
    kinds = {im.format for im in images}
    assert kinds == {"PNG", "GIF"}
    # images have content, and small ones were upscaled (16 px → ×8)
    for im in images[:: max(1, len(images) // 12)]:
        assert np.asarray(im.convert("RGB")).std() > 0
    res16 = cfg["data"]["resolution"]
    assert max(im.width for im in images) >= 8 * res16
    gifs = [im for im in images if im.format == "GIF"]
    assert all(getattr(g, "n_frames", 1) > 1 for g in gifs)


def test_report_with_metrics_and_baseline_cli(tiny_run, tiny_baseline_run, tmp_path, capsys):
    (tiny_run / "metrics.json").write_text(json.dumps(METRICS))
    base = dict(METRICS, consistency=0.5, fd_samples=20.0, sufficiency={"1": 0.05, "10": 0.3})
    (tiny_baseline_run / "metrics.json").write_text(json.dumps(base))
    out = tmp_path / "rep"
    code = main(
        [
            "report",
            "--run",
            str(tiny_run),
            "--baseline",
            str(tiny_baseline_run),
            "--out",
            str(out),
            "--top-k",
            "2",
            "--num-images",
            "2",
            "--num-explain",
            "1",
        ]
    )
    assert code == 0
    assert "index.html" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    _check_self_contained(page)
    assert "not computed" not in page.split('<section id="metrics">')[1].split("</section>")[0]
    assert '<section id="baseline">' in page and "StylEx vs baseline" in page
    for text in ("0.938", "0.500", "12.50", "20.00", "0.667", "k=10", "0.438"):  # 0.438 = diff
        assert text in page, text
    assert "baseline “baseline”" in page
    # k = 0 (no edit) is a labelled row of the metrics table, not a raw key
    assert "<td>Sufficiency with no edit</td><td>0.061</td>" in page
    assert "<td>sufficiency_k0</td>" not in page
    # the ground-truth table: each attribute's dominant factor, a rule factor marked
    gt = page.split("Ground truth per attribute (StylEx)")[1].split("</table>")[0]
    assert "<th>hue *</th>" in gt and "<th>size</th>" in gt
    assert '<span class="better">hue</span>' in gt and '<span class="worse">size</span>' in gt
    assert "<td class=dom>0.41</td>" in gt and "<td class=dom>0.44</td>" in gt
    assert "degraded renders: shape acc 0.83, hue 0.03" in gt
    assert "Not reproduced by the generator: shape" in gt  # never a dominant factor
    assert "Ground truth per attribute (baseline “baseline”)" in page
    # the top-k attributes together: per class and k, the joint edit's dominant factor
    joint = page.split("Ground truth of the top-k attributes together (StylEx)")[1]
    joint = joint.split("</table>")[0]
    assert "<th>top-k together</th>" in joint
    assert '<td>b</td><td>2</td><td><span class="better">hue</span></td>' in joint
    assert "<td class=dom>0.93</td>" in joint
    assert "Ground truth: joint top-3 edit" in page  # its score is a row of the metrics table


def test_report_handles_missing_pieces(tiny_run):
    shutil.rmtree(tiny_run / "attfind")
    shutil.rmtree(tiny_run / "samples")
    (tiny_run / "log.jsonl").write_text('{"step": 1, "loss_d": 1.0}\nnot json\n{"step": 2}\n')
    (tiny_run / "metrics.json").write_text("{broken")
    page = build_report(tiny_run, options=SMALL).path.read_text()
    _check_self_contained(page)
    assert "stylex attfind" in page and "No sample grids" in page
    assert "could not be read" in page


def test_read_log_and_chart(tmp_path):
    log = tmp_path / "log.jsonl"
    lines = [{"step": s, "loss_d": 1.0 / s, "kl": float("nan")} for s in range(1, 101)]
    lines.append({"step": 50, "loss_d": 7.0})  # a resumed run re-logs step 50
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n{torn")
    curves = read_log(log)
    steps, values = curves["loss_d"]
    assert steps == sorted(steps) and len(steps) == 100 and values[49] == 7.0
    assert "kl" not in curves  # non-finite values dropped
    svg = line_chart("loss", [("loss_d", steps, values)])
    assert svg.count("<polyline") == 2  # raw + smoothed
    assert line_chart("empty", []) == ""


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_report_in_headless_chromium(tiny_run, tiny_baseline_run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    (tiny_run / "metrics.json").write_text(json.dumps(METRICS))
    res = build_report(tiny_run, tiny_baseline_run, tmp_path / "report", SMALL)
    page_html = res.path.read_text()
    images = _images(page_html)
    assert len(images) > 10
    for im in images[:: max(1, len(images) // 8)]:  # decoded data URIs have content
        assert np.asarray(im.convert("RGB")).std() > 0
    shot = tmp_path / "report.png"
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=args,
            headless=True,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )
        try:
            page = ctx.new_page()
            problems: list[str] = []
            page.on(
                "console",
                lambda m: (
                    problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(res.path.resolve().as_uri(), wait_until="load")
            assert problems == []
            n, broken = page.evaluate(
                "() => { const im = Array.from(document.images);"
                " return [im.length, im.filter(i => !(i.complete && i.naturalWidth > 0))"
                ".map(i => i.alt)]; }"
            )
            assert n == len(images) and broken == []
            assert page.title().startswith("stylex report")
            assert page.locator("nav.toc a").count() >= 7
            page.screenshot(path=str(shot), full_page=False)
        finally:
            ctx.close()
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape[0] >= 800 and arr.shape[1] >= 1200
    assert arr.std() > 20  # not blank: header, text and images
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 50


def test_axis_labels_are_short_and_exact():
    from stylex.report.charts import tick_label

    assert tick_label(1143.0) == "1,143"
    assert tick_label(620.5) == "620"  # rounds half to even, never "620.500"
    assert tick_label(12.345) == "12.3"
    assert tick_label(0.0421) == "0.0421"
    assert tick_label(-2.341) == "-2.34"
    assert tick_label(0.0) == "0"
    assert max(len(tick_label(v)) for v in (123456.0, 0.000123, 98765.4)) <= 7


def test_report_shows_fine_tune_origin_and_extra_losses(tiny_run):
    import json

    cfg_path = tiny_run / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["train"].update(
        cond_sparsity=20.0,
        lambda_cf=1.0,
        cond_min_res=16,
        lambda_edge=20.0,
        gan_every=4,
        lambda_cf_prox=2.5,
    )
    cfg["init_from"] = {"run": "runs/earlier", "data": "shapes", "train": {}}
    cfg_path.write_text(json.dumps(cfg))
    page = build_report(tiny_run, options=SMALL).path.read_text()
    assert "class-sparse conditioning" in page and "counterfactual" in page
    at = page.index("condition enters layers from")
    assert "16 px" in page[at : at + 80]
    at = page.index("λ (envelope, edge)")
    assert "0.0, 20.0" in page[at : at + 80]
    at = page.index("adversarial game")
    assert "every 4 steps" in page[at : at + 80]
    at = page.index("counterfactual proximity λ")
    assert "2.5" in page[at : at + 80]
    assert "runs/earlier" in page
