"""AttFind's joint check (``joint_check``, on by default): a class's attributes, applied together,
never flip fewer of its images than the attributes before them.

Why. The greedy selection (:mod:`stylex.attfind.select`) ranks every pair by its effect *alone*
on the images not yet flipped, but sufficiency, the report and the viewer apply a class's top-k
attributes *together* (cumulatively, in order). An attribute picked for the images that the
earlier ones left unflipped can, on top of those earlier edits, send some already flipped images
back, so the top-10 edit flips fewer images than the top-3 one (measured on the shipped
Fashion-MNIST run before this check: sufficiency 0.957 at k = 3, 0.836 at k = 10).

Rule. For class ``y`` the considered images (those the selection considers: stable, generated
image not predicted ``y``) carry the joint edit of the attributes accepted so far. When the
selection picks a pair, its edit is applied on top of that joint edit (AttFind's target and
shift size), the images are generated (constant noise) and classified; the pair is accepted when
the number predicted ``y`` does not fall (``joint_flipped ≥`` the count before it), and the
joint edit then includes it. A rejected pair is recorded in the class's ``rejected`` list with
its counts and the selection moves on to its next best pair. After ``max_rejections`` rejections
for one class the selection of that class stops (the class gets fewer attributes: no further
candidate adds to the joint edit without undoing it).

Recorded per attribute (``extra``): ``joint_flipped`` = considered images predicted ``y`` with
this attribute and every accepted one before it applied together, ``joint_before`` = the same
before it. The discriminator filter (:mod:`stylex.attfind.d_filter`) runs first when both are
on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from stylex.attfind.select import AcceptFn
from stylex.models.stylespace import EditContext, synthesize_batched

DEFAULT_MAX_REJECTIONS_PER_TOP_K = 2


def joint_check(
    ctx: EditContext,
    styles: Sequence[torch.Tensor],
    device: torch.device,
    batch: int = 64,
    top_k: int | None = None,
    max_rejections: int | None = None,
) -> Callable[[int], AcceptFn]:
    """The ``accept_factory`` of :func:`~stylex.attfind.select.select_attributes` for the joint
    check (module docstring), on the images whose per-layer ``styles`` are given. A fresh
    state per class. ``max_rejections`` (default ``DEFAULT_MAX_REJECTIONS_PER_TOP_K · top_k``
    when ``top_k`` is given, else no limit)."""
    targets = ctx.targets
    if max_rejections is None and top_k is not None:
        max_rejections = DEFAULT_MAX_REJECTIONS_PER_TOP_K * top_k

    @torch.no_grad()
    def count(st: Sequence[torch.Tensor], y: int) -> int:
        img = synthesize_batched(ctx.generator, st, batch)
        return int((ctx.probs(img).argmax(1) == y).sum())

    def factory(y: int) -> AcceptFn:
        joint: list[torch.Tensor] | None = None  # the joint edit so far (set on the first call)
        flips = rejections = 0

        def accept(d: int, i: int, idx: torch.Tensor) -> tuple[bool, dict[str, Any]]:
            nonlocal joint, flips, rejections
            if max_rejections is not None and rejections >= max_rejections:
                return False, {"stop": True}
            if joint is None:
                idx_d = idx.to(device)
                joint = [s.index_select(0, idx_d) for s in styles]
                flips = count(joint, y)
            edited = ctx.edit(joint, i, targets[d, i].item())
            after = count(edited, y)
            info = {"joint_flipped": after, "joint_before": flips}
            if after < flips:
                rejections += 1
                return False, info
            joint, flips = edited, after
            return True, info

        return accept

    return factory


def chain(
    *factories: Callable[[int], AcceptFn | None] | None,
) -> Callable[[int], AcceptFn | None] | None:
    """One ``accept_factory`` that runs the given ones in order (None entries skipped): a pair
    is accepted when every filter accepts it; a later filter is not asked once one rejects (so
    a stateful filter such as :func:`joint_check` only sees pairs the earlier ones passed)."""
    present = [f for f in factories if f is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def factory(y: int) -> AcceptFn:
        filters = [a for a in (f(y) for f in present) if a is not None]

        def accept(d: int, i: int, idx: torch.Tensor) -> tuple[bool, dict[str, Any]]:
            info: dict[str, Any] = {}
            for f in filters:
                verdict = f(d, i, idx)
                ok, more = verdict if isinstance(verdict, tuple) else (verdict, {})
                info.update(more)
                if not ok:
                    return False, info
            return True, info

        return accept

    return factory


def shortfall_note(c: Any, top_k: int, joint: bool) -> str:
    """The warning for a class (:class:`~stylex.attfind.select.ClassAttributes`) that got fewer
    than ``top_k`` attributes, saying why when the joint check stopped it."""
    note = (
        f"AttFind: class {c.name!r} got {len(c.attributes)} of {top_k} attributes "
        f"({c.num_considered} images considered)"
    )
    last = c.attributes[-1].extra.get("joint_flipped") if c.attributes else None
    # the joint check's own rejections (a pair the discriminator filter rejected has no count)
    undoing = sum("joint_flipped" in r.extra for r in c.rejected)
    if joint and last is not None and undoing >= DEFAULT_MAX_REJECTIONS_PER_TOP_K * top_k:
        note += (
            f": the joint check stopped it after {undoing} candidates that would have "
            f"undone flips; its attributes together flip {last} of those images"
        )
    return note


__all__ = ["DEFAULT_MAX_REJECTIONS_PER_TOP_K", "chain", "joint_check", "shortfall_note"]
