"""What the loop shows while it trains: held-out numbers of the EMA networks and sample grids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from stylex.models import Encoder, Generator
from stylex.models.condition import condition_swap
from stylex.utils.images import make_grid, save_png

Condition = Callable[[torch.Tensor], "torch.Tensor | None"]


@torch.no_grad()
def held_out_numbers(
    G_ema: Generator, E_ema: Encoder, classifier: nn.Module, x: torch.Tensor, condition: Condition
) -> dict[str, float]:
    """Classifier consistency and L1 of EMA reconstructions on the fixed held-out batch
    ``x`` [N, C, R, R] in [-1, 1]; with a condition, also how far it controls the class."""
    logits = classifier(x).float()
    c = condition(logits)
    w = E_ema(x)
    rec = G_ema.generate(w, c, noise_mode="const").clamp(-1, 1)
    p, q = torch.softmax(logits, 1), torch.softmax(classifier(rec).float(), 1)
    out = {
        "consistency": float((p.argmax(1) == q.argmax(1)).float().mean()),
        "prob_diff": float((p - q).abs().max(1).values.mean()),
        "rec_l1": float((rec - x).abs().mean()),
    }
    if c is not None:
        # the condition's control: reconstructions under the condition of another image
        # (rolled by one) that take that image's class
        pred = p.argmax(1).cpu()
        prev = torch.arange(len(pred)).roll(1)
        donors = torch.where(pred[prev] != pred, prev, -1)
        flip = condition_swap(G_ema, classifier, w, c, pred, donors)
        if flip is not None:
            out["cond_flip"] = flip
        out.update(G_ema.condition_usage())
    return out


@torch.no_grad()
def save_sample_grid(
    G_ema: Generator,
    E_ema: Encoder,
    classifier: nn.Module,
    x: torch.Tensor,
    condition: Condition,
    path: Path,
) -> Path:
    """Grid: 2 rows of random samples (fixed z), then originals above reconstructions."""
    n = min(8, len(x))
    x = x[:n]
    logits = classifier(x).float()
    c = condition(logits)
    gen = torch.Generator().manual_seed(1234)
    z = torch.randn(2 * n, G_ema.config.z_dim, generator=gen).to(x.device)
    cs = None if c is None else torch.cat([c, c.flip(0)])
    rand = G_ema(z, cs, noise_mode="const").clamp(-1, 1)
    rec = G_ema.generate(E_ema(x), c, noise_mode="const").clamp(-1, 1)
    grid = make_grid(torch.cat([rand, x, rec]).cpu(), nrow=n)
    return save_png(grid, path, scale=2)
