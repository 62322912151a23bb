"""The interactive viewer: model side (partial re-run, flip), JSON API, uploads, CLI, and the
page end to end in headless Chromium."""

from __future__ import annotations

import base64
import io
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture
def viewer(tiny_run):
    from stylex.serve import Viewer

    return Viewer(tiny_run, device="cpu", max_sessions=4)


@pytest.fixture
def client(viewer):
    from fastapi.testclient import TestClient

    from stylex.serve import create_app

    return TestClient(create_app(viewer, max_upload_bytes=64 * 1024))


def _png(size=(40, 30), mode="RGBA", fmt="PNG", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    c = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], c), dtype=np.uint8)
    img = Image.fromarray(arr[..., 0] if c == 1 else arr, mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        return np.asarray(im.convert("RGB"))


def _class_with_attributes(info: dict) -> int:
    return next(k for k, c in enumerate(info["classes"]) if c["attributes"])


def _extreme(a: dict, own: float) -> float:
    """The end of the slider farther from the image's own value."""
    return a["min"] if abs(a["min"] - own) > abs(a["max"] - own) else a["max"]


# ------------------------------------------------------------------------------------ model side
def test_partial_rerun_matches_full_synthesis(viewer):
    s = viewer.open_index(1)
    g = viewer.generator
    with torch.no_grad():
        full = g.synthesize(s.styles, noise_mode="const")
    assert torch.allclose(s.reconstruction, full, atol=1e-5)
    attrs = next(a for a in viewer.attributes if a)
    values = {a.index: float(viewer.effects.style_max[a.index]) + 0.5 for a in attrs}
    r = viewer.render(s, values)
    assert r.start_layer == min(a.layer for a in attrs)
    styles = [t.clone() for t in s.styles]
    for a in attrs:  # values are clamped to the slider range (here: its upper end)
        top, own = float(viewer.effects.style_max[a.index]), s.value(a.index)
        hi = max(top, own, own + viewer.reach.get(a.index, 1.0) * (top - own))
        styles[a.layer][:, a.channel] = min(values[a.index], hi)
    with torch.no_grad():
        ref = g.synthesize(styles, noise_mode="const")
        ref_probs = torch.softmax(viewer.classifier(ref.clamp(-1, 1)), 1)[0]
    assert torch.allclose(r.image, ref, atol=1e-5)
    assert torch.allclose(r.probs, ref_probs, atol=1e-5)
    assert not torch.allclose(r.image, s.reconstruction, atol=1e-4)
    # own values are no edit: the reconstruction itself
    same = viewer.render(s, {a.index: s.value(a.index) for a in attrs})
    assert same.start_layer is None and same.image is s.reconstruction


def test_flip_applies_attributes_cumulatively(viewer):
    s = viewer.open_index(0)
    k = next(k for k, a in enumerate(viewer.attributes) if a)
    before = int(s.probs.argmax())
    f = viewer.flip(s.id, k)
    if before == k:
        assert f.already and f.needed is None
        return
    attrs = viewer.attributes[k]
    n = f.needed or len(attrs)
    assert len(f.steps) == n
    targets = viewer.effects.targets
    for j, a in enumerate(attrs):
        want = float(targets[a.direction_index, a.index]) if j < n else s.value(a.index)
        assert f.values[a.index] == pytest.approx(want, abs=1e-6)
    # the flip's image is the edit of those values
    r = viewer.render(s, f.values)
    assert torch.allclose(r.image, f.image, atol=1e-5)
    if f.needed is not None:
        assert f.predicted_after != before
        assert all(int(p.argmax()) == before for p in f.steps[:-1])


# ------------------------------------------------------------------------------------ API
def test_info_images_and_page(client):
    info = client.get("/api/info").json()
    assert info["resolution"] == 16 and info["channels"] == 3
    assert len(info["class_names"]) == len(info["classes"]) == 2
    assert info["num_images"] > 0
    a = info["classes"][_class_with_attributes(info)]["attributes"][0]
    assert {"index", "layer", "channel", "direction", "min", "max", "effect"} <= set(a)
    assert a["min"] <= a["max"]
    lst = client.get("/api/images", params={"offset": 0, "limit": 5}).json()
    assert lst["total"] == info["num_images"] and len(lst["items"]) == 5
    r = client.get("/api/images/0", params={"scale": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.size == (32, 32)
    for bad, status in ((info["num_images"], 404), (-1, 404), ("x", 422)):
        r = client.get(f"/api/images/{bad}")
        assert r.status_code == status and "error" in r.json()
    page = client.get("/")
    assert page.status_code == 200 and "stylex viewer" in page.text
    assert "content-security-policy" in page.headers
    assert client.get("/static/viewer.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    r = client.get("/api/nope")
    assert r.status_code == 404 and "error" in r.json()


def test_session_edit_flip(client):
    info = client.get("/api/info").json()
    k = _class_with_attributes(info)
    attrs = info["classes"][k]["attributes"]
    s = client.post("/api/session", json={"index": 2}).json()
    assert s["image"]["index"] == 2 and s["source"] == {"index": 2}
    assert _decode(s["original"]).shape == (16, 16, 3)
    assert _decode(s["reconstruction"]).shape == (16, 16, 3)
    assert sum(s["probs"]) == pytest.approx(1, abs=1e-4)
    assert {str(a["index"]) for a in attrs} <= set(s["values"])
    assert all(a["where"].split()[0] in ("conv", "toRGB") for a in attrs)  # the layer's kind
    sid = s["session"]
    # no change: the reconstruction
    r = client.post("/api/edit", json={"session": sid, "values": s["values"]}).json()
    assert r["image"] == s["reconstruction"] and r["edited"] == [] and r["probs"] == s["probs"]
    # one slider to its far end: image and probabilities change; only later layers re-run
    a = attrs[0]
    own = s["values"][str(a["index"])]
    r = client.post(
        "/api/edit", json={"session": sid, "values": {str(a["index"]): _extreme(a, own)}}
    ).json()
    assert r["edited"] == [a["index"]] and r["start_layer"] == a["layer"]
    assert not np.array_equal(_decode(r["image"]), _decode(s["reconstruction"]))
    # the difference view: black where nothing changed, bright where the edit changed pixels
    diff = _decode(r["difference"]).astype(int)
    changed = np.abs(_decode(r["image"]).astype(int) - _decode(s["reconstruction"])).max(2) > 8
    assert changed.any() and diff[changed].max() > diff[~changed].max(initial=0)
    assert r["probs"] != s["probs"]
    assert r["ms"] < 1000
    f = client.post("/api/flip", json={"session": sid, "class": k}).json()
    assert set(f["values"]) == {str(a["index"]) for a in attrs}
    assert f["message"] and f["image"].startswith("data:image/png")
    assert client.post("/api/flip", json={"session": sid, "class": 7}).status_code == 400
    # bad requests
    for body, status in (
        ({"session": "nope", "values": {}}, 404),
        ({"session": sid, "values": {"999999": 0.0}}, 400),
        ({"session": sid, "values": {"x": 0.0}}, 400),
        ({"session": sid, "values": {"1": "big"}}, 422),
        ({"values": {}}, 422),
    ):
        r = client.post("/api/edit", json=body)
        assert r.status_code == status, body
        assert r.json()["error"]
    r = client.post("/api/flip", json={"session": "nope", "class": k})
    assert r.status_code == 404 and "session" in r.json()["error"]
    for body in ({"index": 10**6}, {"index": -1}):
        r = client.post("/api/session", json=body)
        assert r.status_code == 404 and "index" in r.json()["error"]
    for body in ({"index": "3"}, {"index": 1.5}, {}, [1], {"index": 1, "path": "/etc"}):
        r = client.post("/api/session", json=body)
        assert r.status_code == 422 and r.json()["error"]
    r = client.post(
        "/api/session", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_display_strength_reaches_past_the_range(tiny_run):
    from stylex.serve import Viewer

    v = Viewer(tiny_run, device="cpu", max_sessions=2)
    info = v.info()
    attrs = [a for c in info["classes"] for a in c["attributes"]]
    assert attrs and all(a["visibility"] and a["reach"] >= 1.0 for a in attrs)
    # AttFind stored a display strength per attribute; force one past the range to test the clamp
    a = attrs[0]
    v.reach[a["index"]] = 3.0
    s = v.open_index(0)
    own = s.value(a["index"])
    end = a["max"] if a["direction"] == "max" else a["min"]
    far = own + 3.0 * (end - own)  # 3× the way to the range's end
    r = v.render(s, {str(a["index"]): own + 10 * (end - own)})
    assert r.edited[a["index"]] == pytest.approx(far, rel=1e-5, abs=1e-6)  # clamped to reach
    v.reach[a["index"]] = 1.0
    r = v.render(s, {str(a["index"]): far})
    clamp = max(end, own) if end >= own else min(end, own)
    assert r.edited.get(a["index"], own) == pytest.approx(clamp, rel=1e-5, abs=1e-6)


def test_sessions_are_a_bounded_lru(client, viewer):
    ids = [client.post("/api/session", json={"index": i}).json()["session"] for i in range(5)]
    assert viewer.num_sessions == 4
    r = client.post("/api/edit", json={"session": ids[0], "values": {}})
    assert r.status_code == 404 and "expired" in r.json()["error"]
    assert client.post("/api/edit", json={"session": ids[-1], "values": {}}).status_code == 200


def test_uploads(client):
    # good: RGBA PNG of another size (multipart), grey JPEG (raw body), GIF, BMP, WebP
    r = client.post("/api/session", files={"file": ("../../etc/x.png", _png(), "image/png")})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["source"] == {"upload": "x.png"}
    assert _decode(s["original"]).shape == (16, 16, 3)
    r = client.post(
        "/api/session",
        content=_png((20, 20), "L", "JPEG"),
        headers={"content-type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    for fmt in ("GIF", "BMP", "WEBP"):
        data = _png((24, 24), "RGB", fmt)
        r = client.post("/api/session", files={"file": ("a.bin", data, "text/plain")})
        assert r.status_code == 200, (fmt, r.text)

    def upload(data, name="a.png"):
        return client.post("/api/session", files={"file": (name, data, "image/png")})

    # too big (limit 64 KB here): by Content-Length, before the body is read
    big = _png((256, 256), "RGB", "PNG", seed=1)
    assert len(big) > 64 * 1024 + 64 * 1024
    r = upload(big)
    assert r.status_code == 413 and "too large" in r.json()["error"]
    # too big, but within the multipart allowance: the file itself is checked
    r = upload(b"\x89PNG" + b"0" * (64 * 1024 + 10))
    assert r.status_code == 413 and "limit 64 KB" in r.json()["error"]
    # too big in pixels (a tiny file)
    buf = io.BytesIO()
    Image.new("L", (8000, 6000)).save(buf, format="PNG")
    r = upload(buf.getvalue())
    assert r.status_code == 413 and "pixels" in r.json()["error"]
    # not an image / unsupported type / empty / corrupt
    r = upload(b"hello, this is text, not a picture", "evil.png")
    assert r.status_code == 415 and "not an image" in r.json()["error"]
    tiff = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiff, format="TIFF")
    r = upload(tiff.getvalue(), "a.tif")
    assert r.status_code == 415 and "TIFF" in r.json()["error"]
    r = upload(b"")
    assert r.status_code == 400 and "empty" in r.json()["error"]
    good = _png((64, 64), "RGB", seed=2)
    r = upload(good[: len(good) // 2])
    assert r.status_code == 400 and "corrupt" in r.json()["error"]
    # wrong form field / content type
    r = client.post("/api/session", files={"image": ("a.png", good, "image/png")})
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    r = client.post("/api/session", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


# ------------------------------------------------------------------------------------ CLI
def test_cli_refuses_run_without_attfind(tiny_run, capsys):
    from stylex.cli import main

    shutil.rmtree(tiny_run / "attfind")
    assert main(["serve", "--run", str(tiny_run), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "no AttFind result" in err and "stylex attfind --run" in err
    assert main(["serve", "--run", str(tiny_run / "missing")]) == 1


def test_bind_socket_reports_a_taken_port():
    from stylex.errors import StylexError
    from stylex.serve.cli import bind_socket, url_for

    sock = bind_socket("127.0.0.1", 0)
    try:
        assert url_for(sock).startswith("http://127.0.0.1:")
        with pytest.raises(StylexError, match="in use"):
            bind_socket("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


# ------------------------------------------------------------------------------------ live server
class LiveServer:
    """The app served by uvicorn on a free localhost port, in a thread."""

    def __init__(self, app):
        from stylex.serve.cli import bind_socket, make_server, url_for

        self.sock = bind_socket("127.0.0.1", 0)
        self.url = url_for(self.sock)
        self.server = make_server(app)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() - t0 < 20, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def test_live_server_serves_concurrent_edits(tiny_run):
    import httpx

    from stylex.serve import create_app

    with LiveServer(create_app(tiny_run, device="cpu")) as srv:
        info = httpx.get(srv.url + "api/info").json()
        attrs = info["classes"][_class_with_attributes(info)]["attributes"]
        sids = [
            httpx.post(srv.url + "api/session", json={"index": i}).json()["session"]
            for i in range(3)
        ]

        def edit(j: int):
            a = attrs[j % len(attrs)]
            v = a["min"] + (j % 5) / 4 * (a["max"] - a["min"])
            body = {"session": sids[j % 3], "values": {str(a["index"]): v}}
            return httpx.post(srv.url + "api/edit", json=body, timeout=30)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(edit, range(24)))
        assert [r.status_code for r in answers] == [200] * 24
        assert httpx.get(srv.url + "api/images/0").status_code == 200


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_viewer_in_headless_chromium(tiny_run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    import httpx

    from stylex.serve import create_app

    shot = tmp_path / "viewer.png"
    with LiveServer(create_app(tiny_run, device="cpu")) as srv, sync_api.sync_playwright() as p:
        # the image whose probabilities the first slider moves most (so the shown numbers,
        # rounded to 3 decimals, surely change)
        info = httpx.get(srv.url + "api/info").json()
        k = _class_with_attributes(info)
        a = info["classes"][k]["attributes"][0]
        moves = []
        for i in range(min(8, info["num_images"])):
            s = httpx.post(srv.url + "api/session", json={"index": i}).json()
            v = _extreme(a, s["values"][str(a["index"])])
            body = {"session": s["session"], "values": {str(a["index"]): v}}
            r = httpx.post(srv.url + "api/edit", json=body).json()
            moves.append(max(abs(x - y) for x, y in zip(r["probs"], s["probs"])))
        pick = int(np.argmax(moves))
        assert moves[pick] > 0.002, moves

        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
        )
        try:
            page = ctx.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on(
                "console",
                lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            page.goto(srv.url, wait_until="load")
            source = "() => document.getElementById('source').innerText.includes(%r)"
            page.wait_for_function(source % "#0 ")  # the first image opens by itself
            page.select_option("#class", str(k))
            # pick a held-out image from the thumbnails
            page.locator("#thumbs button").nth(pick).click()
            page.wait_for_function(source % f"#{pick} ")
            assert page.locator("#thumbs button.selected").get_attribute("data-index") == str(pick)
            sliders = page.locator("#sliders input[type=range]")
            assert sliders.count() == len(info["classes"][k]["attributes"])
            head = page.locator("#sliders .slider .head").first.inner_text()
            first = info["classes"][k]["attributes"][0]
            assert f"layer {first['layer']} ({first['where']})" in head
            src0 = page.get_attribute("#img-edited", "src")
            probs0 = page.inner_text("#probs-edited")
            assert src0 == page.get_attribute("#img-reconstruction", "src")
            assert src0.startswith("data:image/png") and "0." in probs0
            # move the first slider to its far end with the keyboard
            slider = page.locator(f'#sliders input[data-index="{a["index"]}"]')
            pos = int(slider.input_value())
            slider.focus()
            slider.press("Home" if pos > 500 else "End")
            page.wait_for_function(
                "([src, probs]) => document.getElementById('img-edited').src !== src"
                " && document.getElementById('probs-edited').innerText !== probs",
                arg=[src0, probs0],
                timeout=10_000,
            )
            assert page.get_attribute("#img-edited", "src").startswith("data:image/png")
            assert page.get_attribute("#img-difference", "src").startswith("data:image/png")
            assert "re-ran from layer" in page.inner_text("#status")
            # "show" puts the attribute at its display strength
            page.click("#reset")
            src1 = page.get_attribute("#img-edited", "src")
            page.locator("#sliders button.show").first.click()
            page.wait_for_function(
                "(src) => document.getElementById('img-edited').src !== src", arg=src1
            )
            assert "show (×" in page.locator("#sliders button.show").first.inner_text()
            # flip, then reset back to the reconstruction
            page.click("#flip")
            page.wait_for_function("() => document.getElementById('flip-msg').innerText !== ''")
            page.screenshot(path=str(shot), full_page=True)
            page.click("#reset")
            assert page.get_attribute("#img-edited", "src") == page.get_attribute(
                "#img-reconstruction", "src"
            )
            assert problems == []
            # an upload that is not an image shows the server's message
            page.set_input_files(
                "#file", files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"nope"}]
            )
            page.wait_for_selector("#error:not([hidden])")
            assert "not an image" in page.inner_text("#error-text")
            assert not [x for x in problems if "pageerror" in x or "415" not in x], problems
        finally:
            ctx.close()
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape[1] >= 1200 and arr.std() > 10


def test_cli_defaults_bind_localhost():
    import argparse

    from stylex.serve.cli import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--run", "R"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
