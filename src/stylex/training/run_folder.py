"""A new run folder: the data and classifier checked against each other, ``config.json`` and the
classifier's copy written, and the :class:`~stylex.training.trainer.Trainer` that trains it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

from stylex import __version__
from stylex import distributed as distr
from stylex.classifier import (
    Classifier,
    class_order_spec,
    diagnose_classifier,
    load_classifier,
    match_class_order,
)
from stylex.classifier.loading import torchscript_bytes
from stylex.classifier.unlabelled import check_unlabelled, load_labels, save_labels
from stylex.errors import ClassifierError, RunError
from stylex.models import GeneratorConfig
from stylex.models.io import load_state
from stylex.training.config import TrainConfig
from stylex.training.networks import ModelSize, default_size
from stylex.training.run_config import (
    CONFIG_FILE,
    ClassifierSection,
    DataSection,
    InitFrom,
    RunConfig,
)
from stylex.training.setup import device_and_ranks, prepare_data
from stylex.training.trainer import Trainer
from stylex.utils.fs import atomic_write_bytes

MIN_HELD_OUT = 64  # fewer held-out images than this make AttFind's and the verdict's numbers noisy


def data_summary(ds, val_set, val_fraction: float) -> str:
    """One line on the data (images per class, held-out size), with a warning for a small
    held-out set or classes far apart in size."""
    counts = ds.class_counts()
    text = (
        f"data: {len(ds)} images at {ds.resolution} px, "
        + ", ".join(f"{n} {c}" for c, n in zip(ds.class_names, counts, strict=True))
        + (" (the classifier's predictions; no labels)" if ds.label_source == "classifier" else "")
        + f"; {len(val_set)} held out"
    )
    if len(val_set) < MIN_HELD_OUT:
        text += (
            f"\n  warning: only {len(val_set)} held-out images: AttFind, the fitness verdict and "
            "the evaluation read them, so their numbers rest on few images; add data or raise "
            f"--val-fraction (now {val_fraction:g})"
        )
    if min(counts) * 10 < max(counts):
        text += (
            f"\n  warning: the classes are imbalanced ({min(counts)} vs {max(counts)} images): "
            "the generator sees the small class rarely, and its attributes rest on few images; "
            "--balance-classes draws every class equally often"
        )
    return text


def create_run(
    out: str | Path,
    data: str,
    classifier: str,
    *,
    resolution: int | None = None,
    channels: int | None = None,
    train: TrainConfig | None = None,
    size: ModelSize | dict[str, int] | None = None,
    val_fraction: float = 0.1,
    device: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    init_from: str | Path | None = None,
    contract: dict | None = None,
    force: bool = False,
) -> Trainer:
    """Set up a new run folder (config.json, classifier copy) and return its Trainer.

    ``init_from``: a trained run folder whose generator, encoder and discriminator weights start
    this run (fine-tuning, fresh optimisers); its generator config replaces ``size``. ``size``
    None: :func:`~stylex.training.networks.default_size` of the data's resolution and the
    device; a dict: some of :class:`ModelSize`'s fields over that default.
    ``contract``: classifier contract fields over the classifier's own (the resolved contract
    is stored in the run). The classifier is checked against the data
    (:func:`stylex.classifier.diagnose_classifier`): data whose class names are the
    classifier's in another order is used in the classifier's order (``config.json`` then
    holds the re-ordered spec), and a classifier at chance, with a reversed class order or a
    contract that another one beats by far raises :class:`ClassifierError` unless ``force``.
    """
    out = Path(out)
    source = RunConfig.read(init_from) if init_from is not None else None
    tc = train or TrainConfig()
    dev, info = device_and_ranks(device)
    if (out / CONFIG_FILE).exists() and not overwrite:
        raise RunError(f"{out} already holds a run: use --resume to continue it, or another --out")
    ds, train_set, val_set = prepare_data(data, resolution, channels, val_fraction, tc.seed)
    clf = load_classifier(classifier, contract=contract, device=dev)
    given_spec, order, check = data, None, None
    if not ds.labelled:  # the classifier's predictions are the labels
        ds, check = check_unlabelled(
            clf,
            ds,
            progress=progress and info.is_main,
            agree=lambda pred: distr.broadcast_from_main(pred, info, dev),
        )
        train_set, val_set = ds.split(val_fraction, seed=tc.seed)
    else:
        order = match_class_order(clf.class_names, ds.class_names)
    if order is not None:
        mapped = class_order_spec(data, order)
        if mapped is not None:
            ds, train_set, val_set = prepare_data(
                mapped, resolution, channels, val_fraction, tc.seed
            )
        if mapped is None or ds.class_names != order:
            raise ClassifierError(
                f"the classifier's classes are {clf.class_names} but {data}'s are "
                f"{ds.class_names}: same names in another order; select the classes in the "
                f"classifier's order (DATA:{','.join(order)})"
            )
        data = mapped
        if info.is_main:
            print(
                f"classes: {given_spec} is used in the classifier's order "
                f"({', '.join(order)}) as {mapped}"
            )
    if check is None:
        check = diagnose_classifier(clf, ds)
    if info.is_main:
        print(data_summary(ds, val_set, val_fraction))
        print(f"classifier check: {check.message}")
        for note in check.notes:
            print(f"note: {note}")
    if not force:
        check.raise_unless_fit("(--force trains anyway)")
    if not isinstance(size, ModelSize):
        size = dataclasses.replace(default_size(ds.resolution, dev.type), **(size or {}))
    num_classes = clf.num_classes
    if num_classes is None:
        raise ClassifierError(f"the classes of {classifier} are unknown after checking it")
    gen_cfg = GeneratorConfig(
        resolution=ds.resolution,
        img_channels=ds.channels,
        cond_dim=0 if tc.baseline else num_classes,
        z_dim=size.w_dim,
        w_dim=size.w_dim,
        mapping_layers=size.mapping_layers,
        channel_base=size.channel_base,
        channel_max=size.channel_max,
        cond_min_res=0 if tc.baseline else tc.cond_min_res,
    )
    if source is not None:
        gen_cfg = _init_generator_config(source, gen_cfg, init_from)
        if source.train.encoder_features != tc.encoder_features:
            raise RunError(
                f"--init-from {init_from}: its encoder reads "
                f"{source.train.encoder_features!r} features, this run's would read "
                f"{tc.encoder_features!r} (pass --encoder-features "
                f"{source.train.encoder_features})"
            )
    config = RunConfig(
        stylex_version=__version__,
        data=DataSection(
            spec=data,
            resolution=ds.resolution,
            channels=ds.channels,
            val_fraction=val_fraction,
            seed=tc.seed,
            num_images=len(ds),
            class_names=list(ds.class_names),
            spec_given=given_spec if given_spec != data else None,
            labels="classifier" if ds.label_source == "classifier" else None,
        ),
        classifier=ClassifierSection(
            file="classifier.pt",
            source=str(classifier),
            class_names=list(clf.class_names),
            contract=clf.contract.to_dict(),
            check={k: getattr(check, k) for k in ("verdict", "accuracy", "num_images")},
        ),
        generator=gen_cfg,
        train=tc,
    )
    if source is not None:
        config.init_from = InitFrom(
            run=str(init_from),
            data=source.data.spec,
            train=source.train.to_dict(),
            history=source.history or [],
        )
    if info.is_main:
        # the classifier is exported before the folder exists: a failure leaves nothing behind
        blob = _classifier_copy(classifier, clf, (1, ds.channels, ds.resolution, ds.resolution))
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / config.classifier.file, blob)
        if config.data.labels == "classifier":
            save_labels(out, ds)
        config.write(out)
    distr.barrier(info)
    if config.data.labels == "classifier" and not info.is_main:
        # every rank trains on rank 0's labels (a near tie can be predicted differently on
        # another device), so that all ranks share one split
        ds = load_labels(out, ds)
        train_set, val_set = ds.split(val_fraction, seed=tc.seed)
    trainer = Trainer(out, config, (train_set, val_set), clf, dev, info, progress)
    if init_from is not None:
        load_weights(trainer, init_from)
    else:
        trainer.fit_encoder_features()
    return trainer


def _init_generator_config(
    source: RunConfig, wanted: GeneratorConfig, init_from: str | Path | None
) -> GeneratorConfig:
    """The source run's generator config, checked against the data, classifier and mode."""
    src = source.generator
    for key in ("resolution", "img_channels", "cond_dim", "cond_min_res"):
        a, b = getattr(src, key), getattr(wanted, key)
        if a != b:
            raise RunError(
                f"--init-from {init_from}: its generator has {key}={a}, this run needs {b} "
                "(same resolution, image channels, classes, --baseline and --cond-min-res "
                "required)"
            )
    return src


def load_weights(trainer: Trainer, run_dir: str | Path) -> None:
    """Start ``trainer`` from another run's exported weights: its (EMA) generator and encoder
    become both the trained and the EMA copies; its discriminator too when it has one."""
    run_dir = Path(run_dir)
    pairs: dict[str, tuple[nn.Module, nn.Module]] = {
        "generator": (trainer.G, trainer.G_ema),
        "encoder": (trainer.E, trainer.E_ema),
    }
    for name, (live, ema) in pairs.items():
        path = run_dir / f"{name}.safetensors"
        if not path.is_file():
            raise RunError(f"--init-from {run_dir}: {path.name} missing")
        load_state(live, path)
        ema.load_state_dict(live.state_dict())
    d_path = run_dir / "discriminator.safetensors"
    if d_path.is_file():
        load_state(trainer.D, d_path)
    elif trainer.dist.is_main:
        print(f"note: {run_dir} has no discriminator; it starts from random weights")
    modules = [trainer.G, trainer.D, trainer.E, trainer.G_ema, trainer.E_ema]
    distr.broadcast_params(modules, trainer.dist)


def _classifier_copy(source: str, clf: Classifier, example_shape) -> bytes:
    """The bytes of the run's self-contained classifier: a TorchScript copy with its resolved
    contract (the file as is when its embedded contract is already that one)."""
    if Path(source).is_file():
        stored = load_classifier(source).contract
        if stored == clf.contract:
            return Path(source).read_bytes()
    return torchscript_bytes(
        clf.module, clf.contract, example_shape
    )  # module:callable, or a new contract
