"""The frozen wrapper: a user's classifier taking stylex's image convention.

:meth:`Classifier.prepare` converts images (channels, size, range, normalisation: the steps
listed in :mod:`stylex.classifier`) and :meth:`Classifier.to_logits` reads its output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from stylex.classifier.contract import ClassifierContract
from stylex.errors import ClassifierError

LUMA = (0.299, 0.587, 0.114)


def binary_logits(score: torch.Tensor, output: str) -> torch.Tensor:
    """A binary classifier's single score ``[B, 1]`` (the second class's sigmoid logit, its
    probability or log-probability, as ``output`` declares) → two-class logits ``[B, 2]`` whose
    softmax is ``(1 − p, p)``: ``(0, z)`` for a logit ``z``, ``(log(1 − p), log p)`` for a
    probability."""
    if output == "logits":
        return torch.cat([torch.zeros_like(score), score], 1)
    log_p = score if output == "log_probs" else torch.log(score.clamp(1e-12, 1.0))
    log_p = log_p.clamp(max=-1e-7)  # log(1 − p) stays finite at p = 1
    return torch.cat([torch.log(-torch.expm1(log_p)), log_p], 1)


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
        """Its classes in the order of :meth:`forward`'s logits (the kept ones, when the
        contract keeps some ``outputs`` of a classifier with more classes)."""
        names, keep = self.contract.class_names, self.contract.outputs
        if keep and len(names) > len(keep):
            return [names[i] for i in keep]
        return names

    @class_names.setter
    def class_names(self, names: list[str]) -> None:
        self.contract.class_names = [str(n) for n in names]

    @property
    def num_classes(self) -> int | None:
        """K, when the class names are known (from the contract or :func:`check_classifier`)."""
        return len(self.class_names) or None

    @property
    def device(self) -> torch.device:
        t = next(self._tensors(), None)
        return torch.device("cpu") if t is None else t.device

    def _tensors(self) -> Iterator[torch.Tensor]:
        """The module's parameters, then its buffers (lazily: read on every forward)."""
        return itertools.chain(self.module.parameters(), self.module.buffers())

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Our ``[B, C, R, R]`` in ``[-1, 1]`` → the classifier's input convention."""
        c = self.contract
        x = images
        if x.ndim != 4:
            raise ClassifierError(f"classifier input must be [B, C, H, W], got {list(x.shape)}")
        if c.crop is not None and min(x.shape[-2:]) > c.crop:  # the data's padding off
            top, left = (x.shape[-2] - c.crop) // 2, (x.shape[-1] - c.crop) // 2
            x = x[..., top : top + c.crop, left : left + c.crop]
        if c.channels is not None and x.shape[1] != c.channels:
            if x.shape[1] == 1 and c.channels == 3:
                x = x.expand(-1, 3, -1, -1)
            elif x.shape[1] == 3 and c.channels == 1:
                w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
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
        half = self._half_dtype()
        if half is not None and x.dtype != half:  # a .half() / bfloat16 classifier
            x = x.to(half)
        return x

    def _half_dtype(self) -> torch.dtype | None:
        """The module's dtype when its weights are float16 or bfloat16, else None."""
        t = next((t for t in self._tensors() if t.is_floating_point()), None)
        return t.dtype if t is not None and t.dtype in (torch.float16, torch.bfloat16) else None

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
        if out.dtype in (torch.float16, torch.bfloat16) and self._half_dtype() is not None:
            out = out.float()  # a half-precision classifier: logits in float32
        if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
            return binary_logits(out.reshape(-1, 1), self.contract.output)
        if self.contract.output == "probs":
            out = torch.log(out.clamp_min(1e-12))
        keep = self.contract.outputs
        if keep is not None:
            if out.ndim != 2 or max(keep) >= out.shape[1]:
                raise ClassifierError(
                    f"the contract keeps outputs {keep} but the classifier returned shape "
                    f"{list(out.shape)}"
                )
            out = out[:, keep]
        return out

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[B, K]`` (softmax of the logits)."""
        return self(images).softmax(dim=1)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted class ``[B]`` (int64)."""
        return self(images).argmax(dim=1)

    def extra_repr(self) -> str:
        return f"contract={self.contract.to_dict()}"
