"""The classifier StylEx explains: loading, its input contract, a frozen wrapper, a small CNN.

stylex's own image convention is float ``[B, C, R, R]`` in ``[-1, 1]`` at the run's resolution
and channels. A user's classifier may expect something else; it declares that in a
:class:`ClassifierContract` and :class:`Classifier` converts our images to it on the fly
(differentiably, so gradients reach the images):

1. channels: 1 → 3 repeats the grey value; 3 → 1 takes ITU-R 601 luminance;
2. size: ``F.interpolate(bilinear, antialias when shrinking)`` to ``contract.resolution``;
3. range: ``[-1, 1]`` mapped linearly to ``contract.input_range``;
4. normalisation: ``(x - mean) / std`` per channel when ``mean``/``std`` are given.

The classifier returns **logits** ``[B, K]`` (``output="logits"``, the default). A model that
returns probabilities declares ``output="probs"`` (stylex takes their log, which softmaxes back
to the same probabilities); ``"log_probs"`` is used as is. A tuple/list output uses its first
element, a dict output its ``"logits"`` entry.

Contract defaults: ``input_range=(-1, 1)``, ``resolution=None`` (any size), ``channels=None``
(the data's), no normalisation, ``class_names=[]`` (taken from the data), ``output="logits"``.
Where it comes from, first found wins: the ``contract`` argument (a dict is merged over the
others), the ``stylex_contract.json`` extra file of a TorchScript archive, a
``stylex_contract`` attribute (dict) on the module, the defaults.

Loading never unpickles: a classifier is a TorchScript file (``torch.jit.load``) or
``module:callable`` / ``path/to/file.py:callable`` returning an ``nn.Module``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import io
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from stylex.errors import ClassifierError
from stylex.utils.fs import atomic_write_bytes

CONTRACT_FILE = "stylex_contract.json"
OUTPUTS = ("logits", "probs", "log_probs")
_LUMA = (0.299, 0.587, 0.114)


# --------------------------------------------------------------------------------------------
# contract


@dataclass
class ClassifierContract:
    """What a classifier expects as input and returns (see the module docstring).

    Attributes:
        input_range: ``(lo, hi)`` the pixel range it expects; stylex maps ``[-1, 1]`` onto it.
        resolution: the square input size it expects, or None for any size.
        channels: 1 or 3, or None for "whatever the data has".
        mean, std: per-channel normalisation applied after the range mapping, or None.
        class_names: its K classes in output order (empty: take the data's).
        output: ``"logits"`` (default), ``"probs"`` or ``"log_probs"``.
    """

    input_range: tuple[float, float] = (-1.0, 1.0)
    resolution: int | None = None
    channels: int | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    class_names: list[str] = field(default_factory=list)
    output: str = "logits"

    def __post_init__(self):
        self.validate()

    @classmethod
    def for_data(cls, dataset) -> ClassifierContract:
        """The contract of a classifier trained on ``dataset`` as stylex feeds it: images in
        [-1, 1] at the data's resolution and channels, its class names, logits out."""
        return cls(
            input_range=(-1.0, 1.0),
            resolution=dataset.resolution,
            channels=dataset.channels,
            class_names=list(dataset.class_names),
            output="logits",
        )

    def validate(self) -> ClassifierContract:
        try:
            lo, hi = (float(v) for v in self.input_range)
        except (TypeError, ValueError):
            raise ClassifierError(
                f"contract input_range must be two numbers (lo, hi), got {self.input_range!r}"
            ) from None
        if not lo < hi:
            raise ClassifierError(f"contract input_range must have lo < hi, got {self.input_range}")
        self.input_range = (lo, hi)
        if self.resolution is not None and (
            not isinstance(self.resolution, int) or self.resolution < 1
        ):
            raise ClassifierError(
                f"contract resolution must be a positive int or null, got {self.resolution!r}"
            )
        if self.channels is not None and self.channels not in (1, 3):
            raise ClassifierError(f"contract channels must be 1, 3 or null, got {self.channels!r}")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is None:
                continue
            v = [float(x) for x in (v if isinstance(v, list | tuple) else [v])]
            if len(v) not in (1, 3) or (
                self.channels is not None and len(v) not in (1, self.channels)
            ):
                raise ClassifierError(
                    f"contract {name} must have 1 or `channels` entries, got {len(v)}"
                )
            setattr(self, name, v)
        if (self.mean is None) != (self.std is None):
            raise ClassifierError("contract needs both mean and std, or neither")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ClassifierError(f"contract std must be positive, got {self.std}")
        self.class_names = [str(c) for c in self.class_names]
        if self.output not in OUTPUTS:
            raise ClassifierError(
                f"contract output must be one of {', '.join(OUTPUTS)}, got {self.output!r}"
            )
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["input_range"] = list(self.input_range)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierContract:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ClassifierError(
                f"unknown contract field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        d = dict(d)
        if "input_range" in d and d["input_range"] is not None:
            d["input_range"] = tuple(d["input_range"])
        return cls(**d)

    def merged(self, overrides: dict) -> ClassifierContract:
        """A copy with the fields in ``overrides`` replaced."""
        return ClassifierContract.from_dict({**self.to_dict(), **overrides})


def _contract_dict(contract) -> dict:
    """ClassifierContract | dict | JSON path | JSON text → dict of fields."""
    if isinstance(contract, ClassifierContract):
        return contract.to_dict()
    if isinstance(contract, dict):
        return dict(contract)
    if isinstance(contract, str | os.PathLike):
        text = str(contract)
        if text.lstrip().startswith("{"):
            src = "inline JSON"
        else:
            src = text
            try:
                text = Path(text).read_text()
            except OSError as e:
                raise ClassifierError(f"cannot read contract file {src}: {e}") from e
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ClassifierError(f"contract {src} is not valid JSON: {e}") from e
        if not isinstance(d, dict):
            raise ClassifierError(f"contract {src} must be a JSON object")
        return d
    raise ClassifierError(
        f"contract must be a ClassifierContract, dict or JSON path, got {contract!r}"
    )


# --------------------------------------------------------------------------------------------
# the frozen wrapper


class Classifier(nn.Module):
    """A user's classifier, frozen, taking stylex's image convention.

    ``forward(images [B, C, R, R] in [-1, 1]) -> logits [B, K]``; ``probs`` gives softmax.
    Always in eval mode (``train()`` is a no-op) and its parameters never require grad;
    gradients still flow to the input images.
    """

    def __init__(self, module: nn.Module, contract: ClassifierContract | dict | None = None):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ClassifierError(f"expected an nn.Module, got {type(module).__name__}")
        if contract is None:
            contract = ClassifierContract()
        elif isinstance(contract, dict):
            contract = ClassifierContract.from_dict(contract)
        self.module = module
        self.contract: ClassifierContract = contract
        self._freeze()

    def _freeze(self) -> None:
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> Classifier:
        """Ignored: a Classifier stays in eval mode."""
        return super().train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Classifier:
        """Ignored: the classifier's weights never require grad."""
        return self

    @property
    def class_names(self) -> list[str]:
        return self.contract.class_names

    @class_names.setter
    def class_names(self, names: list[str]) -> None:
        self.contract.class_names = [str(n) for n in names]

    @property
    def num_classes(self) -> int | None:
        """K, when the class names are known (from the contract or :func:`check_classifier`)."""
        return len(self.contract.class_names) or None

    @property
    def device(self) -> torch.device:
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            return t.device
        return torch.device("cpu")

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Our ``[B, C, R, R]`` in ``[-1, 1]`` → the classifier's input convention."""
        c = self.contract
        x = images
        if x.ndim != 4:
            raise ClassifierError(f"classifier input must be [B, C, H, W], got {list(x.shape)}")
        if c.channels is not None and x.shape[1] != c.channels:
            if x.shape[1] == 1 and c.channels == 3:
                x = x.expand(-1, 3, -1, -1)
            elif x.shape[1] == 3 and c.channels == 1:
                w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
                x = (x * w).sum(1, keepdim=True)
            else:
                raise ClassifierError(
                    f"images have {x.shape[1]} channels; the classifier expects {c.channels}"
                )
        if c.resolution is not None and tuple(x.shape[-2:]) != (c.resolution, c.resolution):
            shrink = c.resolution < max(x.shape[-2:])
            x = F.interpolate(
                x,
                size=(c.resolution, c.resolution),
                mode="bilinear",
                align_corners=False,
                antialias=shrink,
            )
        lo, hi = c.input_range
        if (lo, hi) != (-1.0, 1.0):
            x = (x + 1.0) * (0.5 * (hi - lo)) + lo
        if c.mean is not None:
            mean = torch.tensor(c.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(c.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images [B, C, R, R]`` in ``[-1, 1]`` → logits ``[B, K]``."""
        for p in self.module.parameters():  # stay frozen even if a parent module unfroze us
            if p.requires_grad:
                p.requires_grad_(False)
        return self.to_logits(self.module(self.prepare(images)))

    def to_logits(self, out) -> torch.Tensor:
        """The wrapped module's raw output → logits (see the module docstring)."""
        if isinstance(out, dict):
            out = out.get("logits", next(iter(out.values()), None))
        elif isinstance(out, tuple | list):
            out = out[0] if out else None
        if not isinstance(out, torch.Tensor):
            raise ClassifierError(f"classifier returned {type(out).__name__}, expected a tensor")
        if self.contract.output == "probs":
            out = torch.log(out.clamp_min(1e-12))
        return out

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[B, K]`` (softmax of the logits)."""
        return self(images).softmax(dim=1)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted class ``[B]`` (int64)."""
        return self(images).argmax(dim=1)

    def extra_repr(self) -> str:
        return f"contract={self.contract.to_dict()}"


# --------------------------------------------------------------------------------------------
# loading


@contextlib.contextmanager
def _quiet_jit():
    """Silence torch's "TorchScript is deprecated" warnings: TorchScript is our file format."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning
        )
        yield


def _import_callable(spec: str):
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
            with _quiet_jit():
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
        module = _import_callable(spec_s)
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
        fields.update(_contract_dict(contract))
    clf = Classifier(module, ClassifierContract.from_dict(fields))
    return clf.to(device)


def save_torchscript(
    module: nn.Module, contract: ClassifierContract, out_path: str | os.PathLike
) -> Path:
    """Script (or, failing that, trace) ``module`` and write it atomically with the contract."""
    out = Path(out_path)
    module = module.eval()
    with _quiet_jit():
        if isinstance(module, torch.jit.ScriptModule):
            scripted = module
        else:
            try:
                scripted = torch.jit.script(module)
            except Exception:
                if contract.resolution is None or contract.channels is None:
                    raise
                shape = (1, contract.channels, contract.resolution, contract.resolution)
                scripted = torch.jit.trace(module, torch.zeros(shape))
        buf = io.BytesIO()
        torch.jit.save(scripted, buf, _extra_files={CONTRACT_FILE: contract.to_json()})
    atomic_write_bytes(out, buf.getvalue())  # temp file + fsync + os.replace
    return out


# --------------------------------------------------------------------------------------------
# checking a classifier against a dataset


def check_classifier(clf: Classifier, dataset, batch: int = 64, seed: int = 0) -> float:
    """Check ``clf`` against ``dataset`` on up to ``batch`` images; return their accuracy.

    Raises :class:`ClassifierError` if the channels cannot be converted, the forward pass
    fails, the output is not ``[B, K]`` with K = ``dataset.num_classes``, the output is not
    finite, declared probabilities are not probabilities (or the reverse), or the contract's
    class names are the dataset's in another order. Warns when the accuracy is near chance or
    the names differ. A classifier without class names takes the dataset's. The full check,
    with a verdict and alternatives, is :func:`stylex.classifier_check.diagnose_classifier`.
    """
    from stylex.classifier_check import diagnose_classifier

    report = diagnose_classifier(clf, dataset, num_images=batch, seed=seed, alternatives=False)
    for note in report.notes:
        warnings.warn(note, stacklevel=2)
    if report.verdict != "fit":
        warnings.warn(
            f"classifier accuracy on {report.num_images} images of {dataset.name} is "
            f"{report.accuracy:.0%}, near chance ({report.chance:.0%}) or below: "
            f"{report.message}",
            stacklevel=2,
        )
    return report.accuracy


# --------------------------------------------------------------------------------------------
# the built-in small CNN


class SmallCNN(nn.Module):
    """A small CNN: ``[B, C, R, R]`` → logits ``[B, K]``; any input size (global pooling).

    Per stage: 3x3 conv → BatchNorm → ReLU → 2x2 max-pool, widths ``width·2^i`` (capped at
    256); ``log2(R) - 2`` stages (2 … 6) bring R down to about 4; then one more conv, global
    average pooling, dropout and a linear head.
    """

    def __init__(self, channels: int, num_classes: int, resolution: int = 32, width: int = 32):
        super().__init__()
        stages = min(6, max(2, int(round(math.log2(max(resolution, 8)))) - 2))
        layers: list[nn.Module] = []
        c = channels
        for i in range(stages):
            w = min(256, width * 2**i)
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c = w
        layers += [
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        ]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        return self.head(self.dropout(x))


def build_small_cnn(
    channels: int, num_classes: int, resolution: int = 32, width: int = 32
) -> nn.Module:
    """A small TorchScript-able CNN: ``[B, channels, R, R]`` → logits ``[B, K]``."""
    if channels < 1 or num_classes < 2:
        raise ClassifierError(
            f"need channels >= 1 and num_classes >= 2, got {channels}, {num_classes}"
        )
    return SmallCNN(channels, num_classes, resolution, width)


# --------------------------------------------------------------------------------------------
# training


def _evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int, device):
    model.eval()
    correct, loss, n = 0, 0.0, len(labels)
    with torch.no_grad():
        for s in range(0, n, batch):
            x = images[s : s + batch].to(device).float() / 127.5 - 1.0
            y = labels[s : s + batch].to(device)
            out = model(x)
            loss += float(F.cross_entropy(out, y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
    return correct / max(n, 1), loss / max(n, 1)


def train_classifier(
    dataset,
    out_path: str | os.PathLike,
    epochs: int = 5,
    batch: int = 128,
    lr: float = 2e-3,
    val_fraction: float = 0.1,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    augment: bool = False,
    width: int = 32,
) -> dict:
    """Train :func:`build_small_cnn` on ``dataset`` and save it as TorchScript with its contract.

    Adam with a one-cycle learning-rate schedule, cross-entropy, a stratified validation split
    by ``seed``. ``augment`` adds random ±2 px shifts (off by default: it is label-preserving
    only when the label does not depend on exact position). The file is written atomically
    and reloaded through :func:`load_classifier` + :func:`check_classifier` as a final check.

    Returns ``{"val_accuracy", "val_loss", "train_accuracy", "train_time_s", "epochs",
    "steps", "num_train", "num_val", "path", "contract", "history"}``.
    """
    from tqdm.auto import tqdm

    from stylex.runtime import resolve_device

    dev = resolve_device(device)
    torch.manual_seed(seed)
    if val_fraction > 0:
        train_set, val_set = dataset.split(val_fraction, seed)
    else:
        train_set, val_set = dataset, dataset.subset([])
    if len(train_set) == 0:
        raise ClassifierError(f"{dataset.name}: no training images")
    model = build_small_cnn(dataset.channels, dataset.num_classes, dataset.resolution, width).to(
        dev
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(train_set) / batch)
    total = max(1, epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    images, labels = train_set.images, train_set.labels
    if dev.type != "cpu":
        images, labels = images.to(dev), labels.to(dev)
    history = []
    t0 = time.perf_counter()
    step = 0
    bar = tqdm(total=total, disable=not progress, desc="train-classifier", unit="step")
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(train_set), generator=gen).to(images.device)
        seen, correct, loss_sum = 0, 0, 0.0
        for s in range(0, len(perm), batch):
            idx = perm[s : s + batch]
            x = images[idx].float() / 127.5 - 1.0
            y = labels[idx]
            if augment:
                dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += len(y)
            correct += int((out.argmax(1) == y).sum())
            loss_sum += float(loss.detach()) * len(y)
            bar.update(1)
            bar.set_postfix(
                epoch=epoch + 1, loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}"
            )
        val_acc, val_loss = (
            _evaluate(model, val_set.images, val_set.labels, 512, dev)
            if len(val_set)
            else (float("nan"),) * 2
        )
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(seen, 1),
                "train_accuracy": correct / max(seen, 1),
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "time_s": time.perf_counter() - t0,
            }
        )
        if progress:
            bar.write(
                f"epoch {epoch + 1}/{epochs}: train acc {correct / max(seen, 1):.4f}, "
                f"val acc {val_acc:.4f}, val loss {val_loss:.4f}"
            )
    bar.close()
    train_time = time.perf_counter() - t0
    model = model.cpu().eval()
    contract = ClassifierContract.for_data(dataset)
    path = save_torchscript(model, contract, out_path)
    # final check: the saved file loads and agrees with the data
    check_set = val_set if len(val_set) else train_set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_classifier(load_classifier(path), check_set, batch=min(64, len(check_set)))
    last = history[-1] if history else {}
    return {
        "val_accuracy": last.get("val_accuracy", float("nan")),
        "val_loss": last.get("val_loss", float("nan")),
        "train_accuracy": last.get("train_accuracy", float("nan")),
        "train_time_s": train_time,
        "epochs": epochs,
        "steps": step,
        "num_train": len(train_set),
        "num_val": len(val_set),
        "path": str(path),
        "contract": contract.to_dict(),
        "history": history,
    }
