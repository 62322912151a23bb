"""Ground truth: do the top attributes change the factors the classifier's label rule uses?

Only for data with known generating factors (``dataset.factors``; the built-in ``shapes``).

**Factor probe.** A small CNN (:class:`FactorProbe`) predicts every factor from an image:
categorical factors (``shape``) by a softmax head, circular ones (``hue``) as
``(cos 2πh, sin 2πh)``, continuous ones (``size``, ``x``, ``y``, ``bg``, standardised) by
regression. For ``shapes`` it is trained on freshly rendered images (:func:`make_shapes` with
the probe's own seed, at the run's resolution and channels), never on the evaluated images;
for other data with factors, on the run's training split. On ``shapes`` it is trained with
random desaturation and blur (:func:`generator_artefacts`), which keep every factor: a probe
that only saw clean renders reads the softer, less saturated objects of a generator as
*smaller* ones, so any colour edit looked like a size change. The trained probe is cached in the
run folder (``RUN/metrics_probe.safetensors`` + ``.json``, keyed by source, resolution,
channels, seed and training settings), so re-evaluation does not retrain. Its errors on a
clean held-out render, on the real held-out images and on their reconstructions are reported.

**Factor change of an attribute.** For attribute ``a`` of class ``y`` and the held-out images
whose real image is not predicted ``y`` (as in sufficiency), the probe reads the un-edited
reconstruction ``G(s)`` and the edited one ``G(edit_a(s))`` (one attribute alone, AttFind's
target and shift size). Per image and factor the change is, in units of the factor's spread on
the data:

* continuous: ``(f̂(edited) − f̂(orig)) / std(f)``;
* circular (hue): the circular difference in ``[-½, ½)`` cycles ``/ std(f)``;
* categorical (shape): the total-variation distance of the probe's class probabilities
  ``½ Σ|q(edited) − q(orig)|`` divided by the mean indicator std ``mean_k √(π_k (1 − π_k))``
  of the class frequencies ``π`` (a full change of a 3-way uniform factor ≈ 2.1, comparable to
  ≈ 1.7 for a full hue flip or 3.5 for a full sweep of a uniform [0, 1] factor).

``change[f]`` = mean over the images of ``|change|``; the attribute's **dominant factor** is
``argmax_f change[f]``, or none when ``max_f change[f] < min_change`` (default 0.1: the
attribute changes no factor measurably).

**Scores.** ``precision_top5`` = share of the top-5 attributes of all classes together whose
dominant factor is one of the label rule's factors (an attribute with no dominant factor
counts as a miss). ``recall_top10`` = share of the rule's factors that are the dominant factor
of at least one top-10 attribute (of any class). ``recall_top10_changed`` (secondary, looser) =
share of the rule's factors that some top-10 attribute changes by at least
``change_threshold`` (default 0.25), dominant or not.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from stylex.attfind.effects import edit_styles
from stylex.utils.fs import atomic_write_json

PROBE_FORMAT = 1
PROBE_FILE = "metrics_probe"
DEFAULT_PROBE_SEED = 20210425
DEFAULT_MIN_CHANGE = 0.1
DEFAULT_CHANGE_THRESHOLD = 0.25
KINDS = ("categorical", "circular", "continuous")


# ------------------------------------------------------------------------------------ factors
@dataclass(frozen=True)
class FactorSpec:
    """One generating factor: ``kind`` is categorical (``num_classes`` codes 0…n−1), circular
    (values in [0, 1) cycles) or continuous."""

    name: str
    kind: str = "continuous"
    num_classes: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"factor kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "categorical" and self.num_classes < 2:
            raise ValueError(f"categorical factor {self.name!r} needs num_classes ≥ 2")

    @property
    def width(self) -> int:
        """Output units of the probe for this factor."""
        return {"categorical": self.num_classes, "circular": 2, "continuous": 1}[self.kind]


def synthetic_source(factor_names: Sequence[str]):
    """``(name, make, augment)`` of the built-in synthetic data (``shapes``, ``gratings``)
    whose factors these are, or None: ``make(n=, resolution=, seed=, channels=)`` renders fresh
    probe training images; ``augment`` says whether :func:`generator_artefacts` keeps every
    factor (true for ``shapes``; blur changes a grating's contrast)."""
    from stylex.data import gratings, shapes

    if list(factor_names) == shapes.FACTOR_NAMES:
        return "shapes", shapes.make_shapes, True
    if list(factor_names) == gratings.FACTOR_NAMES:
        return "gratings", gratings.make_gratings, False
    return None


def factor_specs(factor_names: Sequence[str]) -> list[FactorSpec]:
    """Specs for a dataset's factors: the ``shapes`` and ``gratings`` kinds when the names are
    theirs, otherwise every factor continuous."""
    from stylex.data import gratings
    from stylex.data.shapes import FACTOR_NAMES, SHAPE_NAMES

    if list(factor_names) == gratings.FACTOR_NAMES:
        return [FactorSpec(n, gratings.FACTOR_KINDS.get(n, "continuous")) for n in factor_names]
    if list(factor_names) == FACTOR_NAMES:
        return [
            FactorSpec(n, "categorical", len(SHAPE_NAMES))
            if n == "shape"
            else FactorSpec(n, "circular" if n == "hue" else "continuous")
            for n in FACTOR_NAMES
        ]
    return [FactorSpec(n) for n in factor_names]


def circular_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``b − a`` on the unit circle of cycles, in ``[-0.5, 0.5)``."""
    return torch.remainder(b - a + 0.5, 1.0) - 0.5


# ------------------------------------------------------------------------------------ probe
class FactorProbe(nn.Module):
    """A small CNN that reads every generating factor from an image.

    Input: ``images [B, C, R, R]`` in [-1, 1] (resized to ``min(resolution, 32)`` px inside).
    ``predict`` returns per factor: categorical → probabilities ``[B, n]``; circular → value in
    [0, 1) ``[B]``; continuous → value in the data's units ``[B]``.

    Buffers (saved with the weights): ``mean``/``std`` of the continuous targets and ``scale``
    ``[F]``, each factor's spread on the data used for normalised changes (module docstring).
    """

    def __init__(
        self, channels: int, specs: Sequence[FactorSpec], width: int = 32, resolution: int = 32
    ):
        super().__init__()
        self.channels = int(channels)
        self.specs = list(specs)
        self.width = int(width)
        self.work = min(32, int(resolution))
        w = width
        layers: list[nn.Module] = [nn.Conv2d(channels, w, 3, padding=1), nn.LeakyReLU(0.2)]
        res = self.work
        while res > 4:
            w2 = min(2 * w, 128)
            layers += [nn.Conv2d(w, w2, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            w, res = w2, res // 2
        self.features = nn.Sequential(*layers)
        out = sum(s.width for s in self.specs)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(w * 16, 256), nn.LeakyReLU(0.2), nn.Linear(256, out)
        )
        f = len(self.specs)
        self.register_buffer("mean", torch.zeros(f))
        self.register_buffer("std", torch.ones(f))
        self.register_buffer("scale", torch.ones(f))

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[B, Σ widths]``."""
        x = images
        if x.shape[-1] != self.work:
            x = F.interpolate(
                x,
                size=(self.work, self.work),
                mode="bilinear",
                align_corners=False,
                antialias=x.shape[-1] > self.work,
            )
        return self.head(self.features(x))

    def _split(self, out: torch.Tensor) -> list[torch.Tensor]:
        return list(out.split([s.width for s in self.specs], dim=1))

    def decode(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw outputs → per-factor predictions (see the class docstring)."""
        pred = {}
        for j, (spec, o) in enumerate(zip(self.specs, self._split(out), strict=True)):
            if spec.kind == "categorical":
                pred[spec.name] = o.softmax(1)
            elif spec.kind == "circular":
                pred[spec.name] = torch.remainder(torch.atan2(o[:, 1], o[:, 0]) / (2 * math.pi), 1)
            else:
                pred[spec.name] = o[:, 0] * self.std[j] + self.mean[j]
        return pred

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
        """Per-factor predictions for ``images [B, C, R, R]`` in [-1, 1]."""
        dev = self.mean.device
        outs = [
            self(images[a : a + batch].to(dev).clamp(-1, 1)) for a in range(0, len(images), batch)
        ]
        return self.decode(torch.cat(outs))

    def loss(self, out: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        """Training loss on raw outputs and true ``factors [B, F]`` (data units)."""
        total = out.new_zeros(())
        for j, (spec, o) in enumerate(zip(self.specs, self._split(out), strict=True)):
            v = factors[:, j]
            if spec.kind == "categorical":
                total = total + F.cross_entropy(o, v.round().long())
            elif spec.kind == "circular":
                ang = 2 * math.pi * v
                total = total + F.mse_loss(o, torch.stack([ang.cos(), ang.sin()], 1))
            else:
                total = total + F.mse_loss(o[:, 0], (v - self.mean[j]) / self.std[j])
        return total

    def set_statistics(self, factors: torch.Tensor) -> None:
        """Target standardisation and change scales from training factors ``[N, F]``."""
        for j, spec in enumerate(self.specs):
            v = factors[:, j].double()
            if spec.kind == "categorical":
                freq = torch.bincount(
                    v.round().long().clamp(0, spec.num_classes - 1), minlength=spec.num_classes
                ).double() / len(v)
                self.scale[j] = float((freq * (1 - freq)).sqrt().mean().clamp_min(1e-3))
            else:
                sd = float(v.std().clamp_min(1e-6))
                self.mean[j] = float(v.mean())
                self.std[j] = sd
                self.scale[j] = sd

    def meta(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "width": self.width,
            "specs": [asdict(s) for s in self.specs],
        }


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image ``[B, C, R, R]`` with its own Gaussian ``sigma [B]`` (pixels; 0 leaves
    the image unchanged). Separable, replicate padding; the kernel sums to 1, so the mean
    colour of an image with a uniform border is kept."""
    b, c, h, w = images.shape
    sig = sigma.to(images.device, images.dtype).reshape(b)
    radius = max(1, math.ceil(3 * float(sig.max()))) if b else 1
    k = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    ker = torch.exp(-(k[None] ** 2) / (2 * sig[:, None].clamp_min(1e-4) ** 2))
    ker = ker / ker.sum(1, keepdim=True)  # σ → 0: a delta
    ker = ker.repeat_interleave(c, 0)  # [B·C, K]
    x = F.pad(images, (radius,) * 4, mode="replicate").reshape(1, b * c, h + 2 * radius, -1)
    x = F.conv2d(x, ker[:, None, None, :], groups=b * c)
    x = F.conv2d(x, ker[:, None, :, None], groups=b * c)
    return x.reshape(b, c, h, w)


def generator_artefacts(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    max_desaturation: float = 0.6,
    max_blur: float = 1.2,
) -> torch.Tensor:
    """Random degradations of ``images [B, C, R, R]`` (in [-1, 1]) of the kind generated
    images show, which leave every ``shapes`` factor unchanged:

    * desaturation (RGB only): each pixel moves a share ``a ~ U(0, max_desaturation)`` of the
      way to its channel mean. Channel differences scale by ``1 − a``, so the HSV hue is
      exactly kept, and grey pixels (the background) do not change;
    * blur: a Gaussian of ``σ ~ U(0, max_blur)`` pixels at 32 px (scaled with the resolution),
      which keeps the object's centroid and its colour mass.

    A probe trained on clean renders only reads a desaturated or soft-edged object as a smaller
    one; trained with these it reads the factors, not the rendering quality."""
    b = images.shape[0]
    dev = images.device

    def uniform(hi: float) -> torch.Tensor:
        return (torch.rand(b, generator=generator) * hi).to(dev, images.dtype)

    x = images
    if x.shape[1] == 3 and max_desaturation > 0:
        a = uniform(max_desaturation)[:, None, None, None]
        x = x + a * (x.mean(1, keepdim=True) - x)
    if max_blur > 0:
        x = gaussian_blur(x, uniform(max_blur * x.shape[-1] / 32))
    return x


def train_probe(
    images: torch.Tensor,
    factors: torch.Tensor,
    specs: Sequence[FactorSpec],
    steps: int = 600,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    noise: float = 0.03,
    width: int = 32,
    augment: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> FactorProbe:
    """Train a :class:`FactorProbe` on ``images`` (uint8 ``[N, C, R, R]`` or float in [-1, 1])
    and ``factors [N, F]``; Adam, cosine learning-rate decay, Gaussian pixel noise ``noise``
    (so the probe tolerates the small artefacts of generated images) and, with ``augment``,
    :func:`generator_artefacts` on every batch (only where those keep the factors, as on
    ``shapes``)."""
    dev = torch.device(device)
    if images.dtype == torch.uint8:
        images = images.float() / 127.5 - 1.0
    factors = torch.as_tensor(factors, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = FactorProbe(images.shape[1], specs, width=width, resolution=images.shape[-1]).to(
            dev
        )
    probe.set_statistics(factors)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="factor probe", unit="step")
    probe.train()
    n = len(images)
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch, n),), generator=gen)
        x = images[idx].to(dev)
        if augment:
            x = generator_artefacts(x, gen)
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=gen).to(dev)
        loss = probe.loss(probe(x), factors[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    if bar is not None:
        bar.close()
    return probe.eval().requires_grad_(False)


@torch.no_grad()
def probe_errors(
    probe: FactorProbe, images: torch.Tensor, factors: torch.Tensor
) -> dict[str, dict[str, float]]:
    """How well ``probe`` reads ``images`` ([-1, 1] or uint8) with true ``factors [N, F]``:
    categorical → ``accuracy``; circular → mean circular ``abs_error`` (cycles, 0…½);
    continuous → mean ``abs_error``; each with ``normalised`` = error / the factor's scale."""
    if images.dtype == torch.uint8:
        images = images.float() / 127.5 - 1.0
    pred = probe.predict(images)
    out = {}
    for j, spec in enumerate(probe.specs):
        v = factors[:, j].to(torch.float64)
        p = pred[spec.name].double().cpu()
        if spec.kind == "categorical":
            out[spec.name] = {"accuracy": float((p.argmax(1) == v.round().long()).double().mean())}
            continue
        err = circular_difference(v, p).abs() if spec.kind == "circular" else (p - v).abs()
        out[spec.name] = {
            "abs_error": float(err.mean()),
            "normalised": float(err.mean() / float(probe.scale[j])),
        }
    return out


# ------------------------------------------------------------------------------ probe cache
def _probe_key(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def load_or_train_probe(
    dataset,
    cache_dir: str | Path | None = None,
    *,
    train_source=None,
    seed: int = DEFAULT_PROBE_SEED,
    steps: int = 600,
    num_train: int = 4096,
    batch: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[FactorProbe, dict[str, Any]]:
    """The factor probe for ``dataset``'s factors (a :class:`StylexDataset` with ``factors``),
    loaded from ``cache_dir/metrics_probe.{safetensors,json}`` when its key matches, otherwise
    trained and written there.

    Training data: for ``shapes`` (``gratings``) factors, ``num_train`` images from
    ``make_shapes`` (``make_gratings``) with ``seed`` at the dataset's resolution and channels,
    with :func:`generator_artefacts` augmentation for ``shapes`` (:func:`synthetic_source`);
    otherwise ``train_source`` (a dataset with the same factors, e.g. the run's
    training split; required then), without it (blur or desaturation may change unknown
    factors). The info has the probe's errors on 512 clean held-out renders (``clean_test``)
    and, for ``shapes``, on the same renders degraded by :func:`generator_artefacts`
    (``degraded_test``).
    """
    if dataset.factors is None:
        raise ValueError(f"{dataset.name}: no generating factors, no ground truth")
    specs = factor_specs(dataset.factor_names)
    synth = synthetic_source(dataset.factor_names)
    augment = bool(synth and synth[2])
    source = synth[0] if synth else f"train-split:{getattr(train_source, 'name', '')}"
    key_d = {
        "format": PROBE_FORMAT,
        "arch": 2,
        "augment": augment,
        "source": source,
        "resolution": dataset.resolution,
        "channels": dataset.channels,
        "seed": seed,
        "steps": steps,
        "num_train": num_train if synth else len(train_source or []),
        "batch": batch,
        "specs": [asdict(s) for s in specs],
    }
    key = _probe_key(key_d)
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        jpath, wpath = cache / f"{PROBE_FILE}.json", cache / f"{PROBE_FILE}.safetensors"
        try:
            info = json.loads(jpath.read_text())
            if info.get("key") == key:
                probe = FactorProbe(
                    dataset.channels, specs, info.get("width", 32), dataset.resolution
                )
                probe.load_state_dict(load_file(str(wpath)))
                return probe.to(device).eval().requires_grad_(False), {**info, "cached": True}
        except (OSError, ValueError, KeyError, RuntimeError):
            pass  # missing, stale or torn: retrain
    if synth:
        make = synth[1]
        train = make(
            n=num_train, resolution=dataset.resolution, seed=seed, channels=dataset.channels
        )
        test = make(n=512, resolution=dataset.resolution, seed=seed + 1, channels=dataset.channels)
    else:
        if train_source is None or train_source.factors is None:
            raise ValueError("a probe for non-shapes factors needs train_source with factors")
        cut = max(1, int(0.9 * len(train_source)))
        perm = torch.randperm(len(train_source), generator=torch.Generator().manual_seed(seed))
        train, test = train_source.subset(perm[:cut]), train_source.subset(perm[cut:])
    probe = train_probe(
        train.images,
        train.factors,
        specs,
        steps=steps,
        batch=batch,
        seed=seed,
        augment=augment,
        device=device,
        progress=progress,
    )
    degraded = {}
    if augment and len(test):
        timg = generator_artefacts(
            test.images.float() / 127.5 - 1.0, torch.Generator().manual_seed(seed + 2)
        )
        degraded = probe_errors(probe, timg, test.factors)
    info = {
        "format_version": PROBE_FORMAT,
        "key": key,
        **key_d,
        "width": probe.width,
        "clean_test": probe_errors(probe, test.images, test.factors) if len(test) else {},
        "degraded_test": degraded,
    }
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{PROBE_FILE}.safetensors.tmp"
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in probe.state_dict().items()}, str(tmp)
        )
        tmp.replace(cache / f"{PROBE_FILE}.safetensors")
        atomic_write_json(cache / f"{PROBE_FILE}.json", info)
    return probe, {**info, "cached": False}


# ------------------------------------------------------------------------------ changes
def factor_changes(
    probe: FactorProbe, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Per-image normalised signed change ``[B]`` of every factor (module docstring; the
    categorical change is the scaled total-variation distance, ≥ 0)."""
    out = {}
    for j, spec in enumerate(probe.specs):
        a, b = before[spec.name].double(), after[spec.name].double()
        if spec.kind == "categorical":
            d = 0.5 * (b - a).abs().sum(1)
        elif spec.kind == "circular":
            d = circular_difference(a, b)
        else:
            d = b - a
        out[spec.name] = (d / float(probe.scale[j])).cpu()
    return out


def dominant_factor(change: dict[str, float], min_change: float = DEFAULT_MIN_CHANGE) -> str | None:
    """The factor with the largest mean |change|, or None if it is below ``min_change``."""
    if not change:
        return None
    name = max(change, key=lambda k: change[k])
    return name if change[name] >= min_change else None


@torch.no_grad()
def attribute_factor_changes(
    generator,
    probe: FactorProbe,
    styles: Sequence[torch.Tensor],
    predicted: torch.Tensor,
    class_attributes: Sequence[Sequence[Any]],
    space,
    shift_size: float = 1.0,
    max_k: int = 10,
    batch: int = 64,
    max_images: int | None = None,
    progress: bool = False,
) -> list[list[dict[str, Any]]]:
    """Per class and top-``max_k`` attribute (objects with ``index`` and ``target``), the mean
    normalised factor changes of that single edit on the images whose real image is not
    predicted as the class (at most ``max_images`` of them; all images when none qualifies).

    Returns per class a list of ``{"change": {f: mean |Δ|}, "signed_change": {f: mean Δ}
    (non-categorical), "changed_fraction": {f: share of images whose argmax changed}
    (categorical), "num_images": m}``.
    """
    predicted = predicted.to(styles[0].device)
    names = probe.names
    kinds = {s.name: s.kind for s in probe.specs}
    jobs = []
    for y, attrs in enumerate(class_attributes):
        attrs = list(attrs)[:max_k]
        if not attrs:
            jobs.append((y, attrs, None))
            continue
        idx = (predicted != y).nonzero().flatten()
        if idx.numel() == 0:
            idx = torch.arange(len(predicted), device=predicted.device)
        if max_images is not None:
            idx = idx[:max_images]
        jobs.append((y, attrs, idx))
    total = sum(len(a) for _, a, i in jobs if i is not None)
    bar = None
    if progress and total:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="factor changes", unit="attr")
    result: list[list[dict[str, Any]]] = []
    for _y, attrs, idx in jobs:
        if idx is None:
            result.append([])
            continue
        sums = [{n: [0.0, 0.0, 0.0] for n in names} for _ in attrs]  # |Δ|, Δ, argmax changed
        for a0 in range(0, idx.numel(), max(1, batch)):
            sel = idx[a0 : a0 + batch]
            s_b = [s.index_select(0, sel) for s in styles]
            before = probe.predict(generator.synthesize(s_b, noise_mode="const").clamp(-1, 1))
            states: dict[int, Any] = {}
            for j, a in enumerate(attrs):
                layer = space.locate(int(a.index))[0]
                if layer not in states:
                    states[layer] = generator.run_until(s_b, layer, noise_mode="const")
                edited = edit_styles(s_b, space, int(a.index), float(a.target), shift_size)
                img = generator.run_from(states[layer], edited, layer, noise_mode="const")
                after = probe.predict(img.clamp(-1, 1))
                ch = factor_changes(probe, before, after)
                for n in names:
                    sums[j][n][0] += float(ch[n].abs().sum())
                    sums[j][n][1] += float(ch[n].sum())
                    if kinds[n] == "categorical":
                        moved = before[n].argmax(1) != after[n].argmax(1)
                        sums[j][n][2] += float(moved.sum())
        m = idx.numel()
        rows = []
        for j in range(len(attrs)):
            rows.append(
                {
                    "change": {n: sums[j][n][0] / m for n in names},
                    "signed_change": {
                        n: sums[j][n][1] / m for n in names if kinds[n] != "categorical"
                    },
                    "changed_fraction": {
                        n: sums[j][n][2] / m for n in names if kinds[n] == "categorical"
                    },
                    "num_images": m,
                }
            )
            if bar is not None:
                bar.update(1)
        result.append(rows)
    if bar is not None:
        bar.close()
    return result


# ------------------------------------------------------------------------------ scores
def ground_truth_scores(
    rows: Sequence[dict[str, Any]],
    label_factors: Sequence[str],
    precision_k: int = 5,
    recall_k: int = 10,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
) -> dict[str, float]:
    """``precision_top5``, ``recall_top10`` and ``recall_top10_changed`` (module docstring)
    from attribute rows ``{"rank": 1-based rank within its class, "dominant": factor or None,
    "change": {factor: mean |Δ|} (only for the ``_changed`` recall)}``. NaN where undefined
    (no top-k attributes, or no label factors)."""
    lf = set(label_factors)
    top_p = [r for r in rows if r["rank"] <= precision_k]
    top_r = [r for r in rows if r["rank"] <= recall_k]
    precision = sum(r["dominant"] in lf for r in top_p) / len(top_p) if top_p else float("nan")
    if lf and top_r:
        found = {r["dominant"] for r in top_r} & lf
        changed = {
            f for r in top_r for f, v in r.get("change", {}).items() if v >= change_threshold
        } & lf
        recall, recall_changed = len(found) / len(lf), len(changed) / len(lf)
    else:
        recall = recall_changed = float("nan")
    return {
        f"precision_top{precision_k}": precision,
        f"recall_top{recall_k}": recall,
        f"recall_top{recall_k}_changed": recall_changed,
    }


@torch.no_grad()
def run_ground_truth(
    run,
    attfind,
    dataset,
    predicted: torch.Tensor,
    probe: FactorProbe,
    probe_info: dict[str, Any],
    styles: list[torch.Tensor],
    recon: torch.Tensor | None = None,
    max_k: int = 10,
    batch: int = 64,
    max_images: int | None = 64,
    min_change: float = DEFAULT_MIN_CHANGE,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    progress: bool = False,
) -> dict[str, Any]:
    """The ``ground_truth`` entry of ``metrics.json`` for ``run`` and its AttFind result on the
    held-out ``dataset`` (with factors), given the encoded ``styles`` of its images, the
    classifier's ``predicted`` class on them and optionally their reconstructions."""
    from stylex.metrics.sufficiency import attfind_space, attribute_edits

    space = attfind_space(run, attfind)
    edits = attribute_edits(attfind)
    changes = attribute_factor_changes(
        run.generator,
        probe,
        styles,
        predicted,
        edits,
        space,
        float(attfind.effects.shift_size),
        max_k=max_k,
        batch=batch,
        max_images=max_images,
        progress=progress,
    )
    lf = list(dataset.label_factors)
    rows = []
    for c in attfind.classes:
        for r, (a, ch) in enumerate(zip(c.attributes, changes[c.class_index], strict=False), 1):
            dom = dominant_factor(ch["change"], min_change)
            rows.append(
                {
                    "class": c.name,
                    "rank": r,
                    "layer": a.layer,
                    "channel": a.channel,
                    "index": a.index,
                    "direction": a.direction,
                    "dominant": dom,
                    "dominant_change": ch["change"][dom] if dom else max(ch["change"].values()),
                    "in_label_factors": dom in lf,
                    **ch,
                }
            )
    scores = ground_truth_scores(rows, lf, change_threshold=change_threshold)
    probe_summary = {
        k: probe_info.get(k)
        for k in (
            "source",
            "seed",
            "steps",
            "num_train",
            "augment",
            "resolution",
            "channels",
            "cached",
        )
    }
    probe_summary["clean_test"] = probe_info.get("clean_test", {})
    probe_summary["degraded_test"] = probe_info.get("degraded_test", {})
    probe_summary["on_real"] = probe_errors(probe, dataset.images, dataset.factors)
    if recon is not None:
        probe_summary["on_reconstructions"] = probe_errors(probe, recon, dataset.factors)
    return {
        **scores,
        "label_factors": lf,
        "factor_names": list(dataset.factor_names),
        "min_change": min_change,
        "change_threshold": change_threshold,
        "attributes": rows,
        "probe": probe_summary,
    }


__all__ = [
    "FactorProbe",
    "FactorSpec",
    "attribute_factor_changes",
    "circular_difference",
    "dominant_factor",
    "factor_changes",
    "factor_specs",
    "gaussian_blur",
    "generator_artefacts",
    "ground_truth_scores",
    "load_or_train_probe",
    "probe_errors",
    "run_ground_truth",
    "synthetic_source",
    "train_probe",
]
