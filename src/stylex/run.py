"""A run folder: everything one StylEx training produced, and the object that loads it.

Layout::

    RUN/config.json              data spec, model configs, training config (rebuilds everything)
    RUN/classifier.pt            the user's classifier (TorchScript) + its contract
    RUN/generator.{json,safetensors}   EMA generator (used after training)
    RUN/encoder.{json,safetensors}     EMA encoder
    RUN/discriminator.{json,safetensors}
    RUN/checkpoints/step-NNNNNNN/      full training state (for --resume)
    RUN/log.jsonl, RUN/tb/, RUN/samples/
    RUN/attfind/, RUN/metrics.json, RUN/report/   written by later stages

:class:`Run` is what AttFind, explain, evaluate, report and serve work from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from stylex.classifier import Classifier, load_classifier
from stylex.data import StylexDataset
from stylex.errors import RunError
from stylex.models import Discriminator, Encoder, Generator
from stylex.models.condition import condition_from_logits
from stylex.runtime import resolve_device
from stylex.training.run_config import RunConfig
from stylex.training.setup import load_run_data


@dataclass
class Run:
    """A trained StylEx run, loaded for inference (EMA generator and encoder, frozen)."""

    path: Path
    config: RunConfig
    generator: Generator
    encoder: Encoder
    discriminator: Discriminator | None
    classifier: Classifier
    device: torch.device
    _data: StylexDataset | None = field(default=None, init=False, repr=False)

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        device: str | torch.device | None = None,
        discriminator: bool = True,
        contract: dict | None = None,
    ) -> Run:
        """Load a run folder. ``contract``: classifier contract fields that override the one
        stored in the run (``--input-range`` etc. on a run-based command)."""
        run_dir = Path(run_dir)
        cfg = RunConfig.read(run_dir)
        dev = resolve_device(device)
        if not (run_dir / "generator.safetensors").is_file():
            raise RunError(
                f"{run_dir} has no trained weights yet (generator.safetensors missing)"
                " — train it with `stylex train`, or --resume an interrupted run"
            )
        g = Generator.from_pretrained(run_dir, device=dev).eval().requires_grad_(False)
        e = Encoder.from_pretrained(run_dir, device=dev).eval().requires_grad_(False)
        d = None
        if discriminator and (run_dir / "discriminator.safetensors").is_file():
            d = Discriminator.from_pretrained(run_dir, device=dev).eval().requires_grad_(False)
        clf_path = run_dir / cfg.classifier.file
        clf = load_classifier(str(clf_path), contract=contract, device=dev)
        return cls(run_dir, cfg, g, e, d, clf, dev)

    # ----------------------------------------------------------------------------- helpers
    @property
    def baseline(self) -> bool:
        return self.config.train.baseline

    @property
    def class_names(self) -> list[str]:
        return list(self.classifier.class_names)

    @property
    def cond_signal(self) -> str:
        return self.config.train.cond_signal

    def dataset(self, split: str = "val") -> StylexDataset:
        """The run's data at its resolution/channels; ``split`` = "train" | "val" | "all".
        Decoded once and kept by this object (:meth:`forget_data` drops it)."""
        d = self.config.data
        if self._data is None:  # decoded once per loaded run (and its load warnings shown once)
            self._data = load_run_data(self.path, d)
        ds = self._data
        if split == "all":
            return ds
        train, val = ds.split(d.val_fraction, seed=d.seed)
        return {"train": train, "val": val}[split]

    def forget_data(self) -> None:
        """Drop the decoded data :meth:`dataset` keeps (the next call decodes it again)."""
        self._data = None

    def condition(self, logits: torch.Tensor) -> torch.Tensor | None:
        """Generator condition from classifier logits (None for a baseline run)."""
        if self.generator.config.cond_dim == 0:
            return None
        return condition_from_logits(logits, self.cond_signal)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """images [B, C, R, R] in [-1, 1] → (w [B, w_dim], c [B, cond_dim] or None)."""
        images = images.to(self.device)
        return self.encoder(images), self.condition(self.classifier(images))

    @torch.no_grad()
    def encode_styles(self, images: torch.Tensor) -> list[torch.Tensor]:
        w, c = self.encode(images)
        return self.generator.styles(w, c)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        w, c = self.encode(images)
        return self.generator.generate(w, c).clamp(-1, 1)

    @torch.no_grad()
    def probs(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(images.to(self.device).clamp(-1, 1)), dim=1)


__all__ = ["Run", "RunConfig"]
