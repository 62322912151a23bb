"""Weights as safetensors + JSON config. Never pickles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from safetensors.torch import load_file, save
from torch import nn

from stylex.errors import RunError
from stylex.utils.fs import atomic_write_bytes, atomic_write_json, read_versioned_json

FORMAT_VERSION = 1
_P = TypeVar("_P", bound="PretrainedMixin")


def save_state(
    module_or_state: nn.Module | dict[str, torch.Tensor],
    path: str | os.PathLike,
    metadata: dict[str, str] | None = None,
) -> None:
    """Save a module's state (parameters and persistent buffers) as safetensors, atomically."""
    state = (
        module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    )
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_state(module: nn.Module, path: str | os.PathLike, strict: bool = True) -> nn.Module:
    """Load safetensors weights into ``module``; a clear RunError if missing or mismatched."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"weights file not found: {path}")
    try:
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for torn/garbage files
        raise RunError(f"cannot read weights {path}: {e}") from e
    try:
        module.load_state_dict(state, strict=strict)
    except RuntimeError as e:
        raise RunError(f"weights in {path} do not fit the configured model: {e}") from e
    return module


class PretrainedMixin:
    """``save_pretrained(dir)`` / ``from_pretrained(dir)``: ``{name}.json`` + safetensors.

    The owning class sets ``config_class`` and ``default_name`` and keeps its config in
    ``self.config``.
    """

    config_class: Any  # a ConfigMixin dataclass (``from_dict`` / ``to_dict``)
    default_name: str
    config: Any

    def save_pretrained(self, directory: str | os.PathLike, name: str | None = None) -> Path:
        name = name or self.default_name
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_state(cast(nn.Module, self), directory / f"{name}.safetensors")
        atomic_write_json(
            directory / f"{name}.json",
            {
                "class": type(self).__name__,
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
            },
        )
        return directory

    @classmethod
    def from_pretrained(
        cls: type[_P], directory: str | os.PathLike, name: str | None = None, device: Any = "cpu"
    ) -> _P:
        name = name or cls.default_name
        directory = Path(directory)
        cfg_path = directory / f"{name}.json"
        meta = read_versioned_json(cfg_path, FORMAT_VERSION, what="model config")
        if meta.get("class") != cls.__name__:
            raise RunError(f"{cfg_path} holds a {meta.get('class')!r}, expected {cls.__name__}")
        try:
            config = cls.config_class.from_dict(meta["config"])
        except (KeyError, TypeError, ValueError) as e:
            raise RunError(f"model config {cfg_path} is incompatible: {e}") from e
        model = cls(config)  # type: ignore[call-arg]  # the owning nn.Module's __init__(config)
        module = cast(nn.Module, model)
        load_state(module, directory / f"{name}.safetensors")
        module.to(device)  # in place
        return model
