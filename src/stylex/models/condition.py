"""The generator's condition ``c``: what the style affines read beside ``w``.

StylEx conditions every style affine on ``concat(w, c)`` with ``c`` the classifier's output on
the image; training, :class:`~stylex.run.Run` and every later stage compute ``c`` with this one
function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CONDITION_SIGNALS = ("probs", "logits")


def condition_from_logits(logits: torch.Tensor, signal: str) -> torch.Tensor:
    """The generator's condition c from classifier logits [B, K]: ``probs`` (softmax) or
    ``logits`` (as they are), float32 [B, K]."""
    if signal == "probs":
        return F.softmax(logits.float(), dim=1)
    if signal == "logits":
        return logits.float()
    raise ValueError(f"condition signal must be 'probs' or 'logits', got {signal!r}")


@torch.no_grad()
def condition_swap(
    generator,
    classifier,
    w: torch.Tensor,
    c: torch.Tensor,
    predicted: torch.Tensor,
    donors: torch.Tensor,
) -> float | None:
    """Share of ``G(w_i, c_j)`` (``j = donors[i]`` ≥ 0) that ``classifier`` (logits) puts in
    ``predicted[j]``; None when no image has a donor: how far the condition controls the class.
    The trainer's ``cond_flip`` and a check of the fitness verdict."""
    ok = (donors >= 0).to(w.device)
    if not bool(ok.any()):
        return None
    d = donors.to(w.device)[ok]
    x = generator.generate(w[ok], c[d], noise_mode="const").clamp(-1, 1)
    hit = classifier(x).float().argmax(1).cpu() == predicted.cpu()[d.cpu()]
    return float(hit.double().mean())
