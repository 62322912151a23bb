"""Loading and saving classifiers: TorchScript files (with the contract inside) and
``module:callable`` / ``path/to/file.py:callable``. Loading never unpickles.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylex.classifier.alternatives import first_line
from stylex.classifier.contract import CONTRACT_FILE, ClassifierContract, contract_dict
from stylex.classifier.wrapper import Classifier
from stylex.errors import ClassifierError
from stylex.utils.fs import atomic_write_bytes


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence torch's "TorchScript is deprecated" warnings: TorchScript is our file format."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning
        )
        yield


def import_callable(spec: str) -> nn.Module:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ClassifierError(f"classifier {spec!r}: expected module:callable or file.py:callable")
    if target.endswith(".py") or os.sep in target or Path(target).is_file():
        path = Path(target)
        if not path.is_file():
            raise ClassifierError(f"classifier {spec!r}: file {path} not found")
        mod_name = f"stylex_user_classifier_{abs(hash(str(path.resolve())))}"
        ispec = importlib.util.spec_from_file_location(mod_name, path)
        if ispec is None or ispec.loader is None:
            raise ClassifierError(f"classifier {spec!r}: cannot import {path}")
        module = importlib.util.module_from_spec(ispec)
        sys.modules[mod_name] = module
        try:
            ispec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(mod_name, None)
            raise ClassifierError(f"classifier {spec!r}: importing {path} failed: {e!r}") from e
    else:
        added = False
        if os.getcwd() not in sys.path:  # `stylex` console scripts do not put cwd on the path
            sys.path.insert(0, os.getcwd())
            added = True
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise ClassifierError(
                f"classifier {spec!r}: cannot import module {target!r}: {e}"
            ) from e
        finally:
            if added:
                sys.path.remove(os.getcwd())
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ClassifierError(f"classifier {spec!r}: {target} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise ClassifierError(f"classifier {spec!r}: {attr} is not callable")
    try:
        made = obj()
    except Exception as e:
        raise ClassifierError(f"classifier {spec!r}: calling {attr}() failed: {e!r}") from e
    if not isinstance(made, nn.Module):
        raise ClassifierError(
            f"classifier {spec!r}: {attr}() returned {type(made).__name__}, expected an nn.Module"
        )
    return made


def load_classifier(
    spec: str | os.PathLike,
    contract: ClassifierContract | dict | str | None = None,
    device: str | torch.device | None = None,
) -> Classifier:
    """Load a classifier as a frozen :class:`Classifier`.

    Args:
        spec: a TorchScript file (its ``stylex_contract.json`` extra file, if any, is the
            contract), or ``module:callable`` / ``path/to/file.py:callable`` returning an
            ``nn.Module`` (called with no arguments; an ``nn.Module`` instance is used as is).
        contract: overrides: a :class:`ClassifierContract`, a dict of fields (merged over the
            stored contract), or a JSON file path / JSON text.
        device: where to put it (default CPU).
    """
    spec_s = str(spec)
    device = torch.device(device) if device is not None else torch.device("cpu")
    stored: dict = {}
    path = Path(spec_s)
    if path.suffix.lower() == ".onnx":
        raise ClassifierError(
            f"{path}: ONNX classifiers are not loaded directly (the converter onnx2torch "
            "requires torchvision, which would replace this CPU torch). Convert it once "
            "elsewhere: onnx2torch.convert(path) → torch.jit.trace(model, example) → "
            "torch.jit.save(…, 'clf.pt'), then pass clf.pt with the contract options "
            "(--input-range, --input-size, --input-channels, --mean/--std)."
        )
    if path.is_file() and path.suffix != ".py":
        extra = {CONTRACT_FILE: ""}
        try:
            with quiet_jit():
                module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except Exception as e:
            raise ClassifierError(
                f"{path}: not a TorchScript file ({type(e).__name__}: {str(e).splitlines()[0]}). "
                "stylex never unpickles models: export yours with torch.jit.script(model) or "
                "torch.jit.trace(model, example) and torch.jit.save, or pass module:callable."
            ) from e
        if extra[CONTRACT_FILE]:
            try:
                stored = json.loads(extra[CONTRACT_FILE])
            except json.JSONDecodeError as e:
                raise ClassifierError(f"{path}: embedded {CONTRACT_FILE} is not valid JSON") from e
    elif ":" in spec_s:
        module = import_callable(spec_s)
        attr = getattr(module, "stylex_contract", None)
        if isinstance(attr, dict):
            stored = dict(attr)
        elif isinstance(attr, ClassifierContract):
            stored = attr.to_dict()
    elif path.suffix == ".py" or not path.exists():
        raise ClassifierError(
            f"classifier {spec_s!r} not found: give a TorchScript file or module:callable"
        )
    else:
        raise ClassifierError(f"classifier {spec_s!r}: not a file")
    fields = dict(stored)
    if contract is not None:
        fields.update(contract_dict(contract))
    clf = Classifier(module, ClassifierContract.from_dict(fields))
    return clf.to(device)


def save_torchscript(
    module: nn.Module,
    contract: ClassifierContract,
    out_path: str | os.PathLike,
    example_shape: tuple[int, int, int, int] | None = None,
) -> Path:
    """Write :func:`torchscript_bytes` of ``module`` atomically to ``out_path``."""
    out = Path(out_path)
    atomic_write_bytes(out, torchscript_bytes(module, contract, example_shape))
    return out


def torchscript_bytes(
    module: nn.Module,
    contract: ClassifierContract,
    example_shape: tuple[int, int, int, int] | None = None,
) -> bytes:
    """Script (or, failing that, trace) ``module`` and serialise it with the contract.

    Tracing needs an input: the contract's channels and resolution, else ``example_shape``
    (the data's ``(1, C, R, R)``), on the module's device. A module that can be neither
    scripted nor traced raises :class:`ClassifierError` saying how to export it."""
    module = module.eval()
    with quiet_jit():
        if isinstance(module, torch.jit.ScriptModule):
            scripted = module
        else:
            try:
                scripted = torch.jit.script(module)
            except Exception as script_error:
                scripted = _trace(module, contract, example_shape, script_error)
        buf = io.BytesIO()
        torch.jit.save(scripted, buf, _extra_files={CONTRACT_FILE: contract.to_json()})
    return buf.getvalue()


def _trace(module, contract, example_shape, script_error: Exception):
    shape = example_shape
    if contract.resolution is not None and contract.channels is not None:
        shape = (1, contract.channels, contract.resolution, contract.resolution)
    why = f"torch.jit.script failed ({first_line(script_error)})"
    if shape is None:
        raise ClassifierError(
            f"cannot save the classifier into the run: {why} and no input shape is known to "
            "trace it; pass --input-size and --input-channels, or export it yourself "
            "(torch.jit.trace(model, example) and torch.jit.save) and pass the file"
        ) from script_error
    device = next((t.device for t in [*module.parameters(), *module.buffers()]), None)
    try:
        return torch.jit.trace(module, torch.zeros(shape, device=device), check_trace=False)
    except Exception as e:
        raise ClassifierError(
            f"cannot save the classifier into the run: {why}, and tracing it on an input of "
            f"shape {list(shape)} failed ({first_line(e)}); export it yourself "
            "(torch.jit.trace(model, example) and torch.jit.save, e.g. on a wrapper whose "
            "forward takes one image tensor and returns the logits) and pass the file"
        ) from e
