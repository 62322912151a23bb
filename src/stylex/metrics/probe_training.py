"""Training the factor probe (:mod:`stylex.metrics.probe`), its errors, and its cache in the
run folder (``RUN/metrics_probe.safetensors`` + ``.json``, keyed by source, resolution,
channels, seed and training settings, so re-evaluation does not retrain).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from stylex.errors import StylexError
from stylex.metrics.probe import (
    DEFAULT_PROBE_SEED,
    PROBE_FILE,
    PROBE_FORMAT,
    FactorProbe,
    FactorSpec,
    circular_difference,
    factor_specs,
    synthetic_source,
)
from stylex.models.io import load_state, save_state
from stylex.utils.fs import atomic_write_json, read_versioned_json
from stylex.utils.images import from_uint8

# a factor whose probe error on reconstructions exceeds that on real images by more than this
# (factor stds; categorical: share of above-chance accuracy lost) is not reproduced
MAX_FACTOR_EXCESS = 0.5


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
        images = from_uint8(images)
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
    categorical → ``accuracy`` and ``chance`` (the share of the most frequent true class: what
    always guessing it scores); circular → mean circular ``abs_error`` (cycles, 0…½);
    continuous → mean ``abs_error``; each with ``normalised`` = error / the factor's scale."""
    if images.dtype == torch.uint8:
        images = from_uint8(images)
    pred = probe.predict(images)
    out = {}
    for j, spec in enumerate(probe.specs):
        v = factors[:, j].to(torch.float64)
        p = pred[spec.name].double().cpu()
        if spec.kind == "categorical":
            truth = v.round().long()
            out[spec.name] = {
                "accuracy": float((p.argmax(1) == truth).double().mean()),
                "chance": float(truth.bincount().max()) / len(truth) if len(truth) else 0.0,
            }
            continue
        err = circular_difference(v, p).abs() if spec.kind == "circular" else (p - v).abs()
        out[spec.name] = {
            "abs_error": float(err.mean()),
            "normalised": float(err.mean() / float(probe.scale[j])),
        }
    return out


def factor_excess(on_real: dict[str, dict], on_recon: dict[str, dict]) -> dict[str, float]:
    """Per factor, how much worse the probe reads reconstructions than real images: factor stds
    (continuous, circular); for a categorical factor the share of the real images' accuracy
    above chance that is lost (the accuracy drop when no ``chance`` was recorded)."""
    excess: dict[str, float] = {}
    for name, r in on_real.items():
        q = on_recon.get(name) or {}
        if "accuracy" in r and "accuracy" in q:
            drop = float(r["accuracy"]) - float(q["accuracy"])
            if "chance" in r:
                drop /= max(float(r["accuracy"]) - float(r["chance"]), 1e-6)
            excess[name] = drop
        elif "normalised" in r and "normalised" in q:
            excess[name] = float(q["normalised"]) - float(r["normalised"])
    return excess


def unreproduced_factors(
    on_real: dict[str, dict] | None,
    on_recon: dict[str, dict] | None,
    max_excess: float = MAX_FACTOR_EXCESS,
) -> list[str]:
    """The factors the generator does not reproduce: their reading on reconstructions is worse
    than on real images by more than ``max_excess`` (the fitness ``factors`` check's bar)."""
    if not on_real or not on_recon:
        return []
    return [n for n, e in factor_excess(on_real, on_recon).items() if e > max_excess]


# ------------------------------------------------------------------------------ probe cache
def _probe_key(d: dict[str, Any]) -> str:
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
            info = read_versioned_json(jpath, PROBE_FORMAT, what="factor probe")
            if info.get("key") == key:
                probe = FactorProbe(
                    dataset.channels, specs, info.get("width", 32), dataset.resolution
                )
                load_state(probe, wpath)
                return probe.to(device).eval().requires_grad_(False), {**info, "cached": True}
        except (OSError, ValueError, KeyError, RuntimeError, StylexError):
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
        timg = generator_artefacts(from_uint8(test.images), torch.Generator().manual_seed(seed + 2))
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
        save_state(probe, cache / f"{PROBE_FILE}.safetensors")
        atomic_write_json(cache / f"{PROBE_FILE}.json", info)
    return probe, {**info, "cached": False}


__all__ = [
    "gaussian_blur",
    "generator_artefacts",
    "load_or_train_probe",
    "probe_errors",
    "train_probe",
]
