"""``RUN/config.json``: the one schema of a run's configuration, its version, reader and writer.

Training writes it once when it creates the run folder (and again when ``--resume --steps``
changes the planned steps); every later stage reads it through :meth:`RunConfig.read`, and
:class:`~stylex.run.Run` holds it as ``run.config``. Layout (``format_version`` 1)::

    {"format_version": 1, "stylex_version": "...",
     "data":       DataSection        what the run was trained on
     "classifier": ClassifierSection  the copied classifier, its contract and check
     "generator":  GeneratorConfig    rebuilds the networks
     "train":      TrainConfig        the training recipe
     "init_from":  InitFrom           (fine-tuned runs only) the run it started from
     "history":    [{...}, ...]}      (optional) hand-written provenance notes, see below

``history`` is written by no stylex command: the shipped pretrained runs carry notes on each
training stage (device, minutes, what changed) there, the report counts them, and ``--init-from``
copies the source run's list into ``init_from.history``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stylex.errors import RunError
from stylex.models.config import GeneratorConfig
from stylex.training.config import TrainConfig
from stylex.utils.fs import atomic_write_json, read_versioned_json

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S", bound="DataclassInstance")


@dataclass
class DataSection:
    """The dataset of the run: the spec to reload it, its size and the held-out split."""

    spec: str = ""
    resolution: int = 0
    channels: int = 0
    val_fraction: float = 0.1
    seed: int = 0
    num_images: int = 0
    class_names: list[str] = field(default_factory=list)
    spec_given: str | None = None  # the spec as given, when re-ordered to the classifier's classes
    labels: str | None = None  # "classifier": unlabelled data labelled by it (labels.json)


@dataclass
class ClassifierSection:
    """The run's copy of the classifier (``file``, relative to the run folder) and where it came
    from; ``contract`` and ``check`` are absent in runs made before contracts existed."""

    file: str = "classifier.pt"
    source: str = ""
    class_names: list[str] = field(default_factory=list)
    contract: dict[str, Any] | None = None
    check: dict[str, Any] | None = None


@dataclass
class InitFrom:
    """The trained run a fine-tune started from (``--init-from``)."""

    run: str = ""
    data: str = ""
    train: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] | None = None


@dataclass
class RunConfig:
    """The typed content of ``RUN/config.json``."""

    data: DataSection
    classifier: ClassifierSection
    generator: GeneratorConfig
    train: TrainConfig
    stylex_version: str = ""
    init_from: InitFrom | None = None
    history: list[dict[str, Any]] | None = None
    format_version: int = FORMAT_VERSION

    # ----------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON object, in the file's key order; absent optional parts are left out."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "stylex_version": self.stylex_version,
            "data": _drop_none(dataclasses.asdict(self.data)),
            "classifier": _drop_none(dataclasses.asdict(self.classifier)),
            "generator": self.generator.to_dict(),
            "train": self.train.to_dict(),
        }
        if self.init_from is not None:
            out["init_from"] = _drop_none(dataclasses.asdict(self.init_from))
        if self.history is not None:
            out["history"] = self.history
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = CONFIG_FILE) -> RunConfig:
        """Parse a config.json object; raises :class:`RunError` naming ``where`` when it is not
        a stylex run config."""
        if "generator" not in d or "data" not in d:
            raise RunError(f"{where} is not a stylex run config (no 'generator'/'data' sections)")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise RunError(f"{where}: unknown run config sections {unknown}")
        init = d.get("init_from")
        try:
            return cls(
                data=_section(DataSection, d["data"], "data", where),
                classifier=_section(
                    ClassifierSection, d.get("classifier", {}), "classifier", where
                ),
                generator=GeneratorConfig.from_dict(_object(d["generator"], "generator", where)),
                train=TrainConfig.from_dict(_object(d.get("train", {}), "train", where)),
                stylex_version=str(d.get("stylex_version", "")),
                init_from=None if init is None else _section(InitFrom, init, "init_from", where),
                history=d.get("history"),
                format_version=int(d.get("format_version", 0)),
            )
        except (TypeError, ValueError) as e:
            raise RunError(f"{where} is not a valid stylex run config: {e}") from e

    # ----------------------------------------------------------------------------- files
    @classmethod
    def read(cls, run_dir: str | Path) -> RunConfig:
        """The config of the run folder ``run_dir``; :class:`RunError` when the folder or its
        config.json is missing, unreadable, not a run config, or of another format version."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise RunError(f"run folder not found: {run_dir}")
        path = run_dir / CONFIG_FILE
        if not path.is_file():
            raise RunError(f"{run_dir} is not a stylex run: {CONFIG_FILE} missing")
        raw = read_versioned_json(path, FORMAT_VERSION, what="run config")
        if "generator" not in raw or "data" not in raw:
            raise RunError(f"{path} is not a stylex run config (no 'generator'/'data' sections)")
        version = raw.get("format_version", 0)
        if version < 1:
            raise RunError(f"{path} has an unsupported format version {version}")
        return cls.from_dict(raw, str(path))

    def write(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/config.json`` atomically; returns its path."""
        path = Path(run_dir) / CONFIG_FILE
        atomic_write_json(path, self.to_dict())
        return path


def _object(d: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise RunError(f"{where}: section {name!r} is not a JSON object")
    return d


def _section(cls: type[S], d: Any, name: str, where: str) -> S:
    d = _object(d, name, where)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise RunError(f"{where}: unknown fields in {name!r}: {unknown}")
    return cls(**d)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "ClassifierSection",
    "DataSection",
    "InitFrom",
    "RunConfig",
]
