"""AttFind's joint check: a class's attributes applied together never flip fewer images than the
attributes before them (stylex.attfind.joint_check)."""

import torch
from torch import nn

from stylex.attfind.joint_check import chain, joint_check
from stylex.attfind.select import select_class
from stylex.models.stylespace import EditContext, StyleSpace


class PixelsAreStyles:
    """A stand-in generator: the image is the one style layer itself, ``[B, 1, 1, S]``."""

    def synthesize(self, styles, noise_mode="const"):
        return styles[0][:, None, None, :]


class Interaction(nn.Module):
    """Class 1's logit ``s0 + s1 − 3·s0·s1 − 0.5``: coordinate 0 or 1 alone flips an image to
    class 1, both together send it back; coordinate 2 does nothing."""

    def forward(self, x):
        s = x.flatten(1)
        f = s[:, 0] + s[:, 1] - 3 * s[:, 0] * s[:, 1] - 0.5
        return torch.stack([torch.zeros_like(f), f], 1)


def _context(n=4):
    styles = [torch.zeros(n, 3)]
    space = StyleSpace([0], [3])
    ctx = EditContext(PixelsAreStyles(), Interaction(), space, torch.zeros(3), torch.ones(3))
    return ctx, styles


def test_joint_check_rejects_an_edit_that_undoes_the_earlier_ones():
    ctx, styles = _context()
    accept = joint_check(ctx, styles, torch.device("cpu"))(1)
    idx = torch.arange(4)
    ok, info = accept(1, 0, idx)  # coordinate 0 to its max: every image flips to class 1
    assert ok and info == {"joint_flipped": 4, "joint_before": 0}
    ok, info = accept(1, 1, idx)  # alone it would flip them too; on top of 0 it undoes them
    assert not ok and info == {"joint_flipped": 0, "joint_before": 4}
    ok, info = accept(1, 2, idx)  # neutral: the joint edit keeps its 4 flips
    assert ok and info == {"joint_flipped": 4, "joint_before": 4}
    # a fresh class starts from the un-edited images: coordinate 1 alone is accepted there
    ok, info = joint_check(ctx, styles, torch.device("cpu"))(1)(1, 1, idx)
    assert ok and info["joint_flipped"] == 4


def test_joint_check_stops_the_class_after_max_rejections():
    ctx, styles = _context()
    accept = joint_check(ctx, styles, torch.device("cpu"), max_rejections=1)(1)
    idx = torch.arange(4)
    assert accept(1, 0, idx)[0]
    assert not accept(1, 1, idx)[0]
    ok, info = accept(1, 2, idx)  # the limit is reached: no more synthesis, stop
    assert not ok and info == {"stop": True}


def test_select_class_with_the_joint_check_is_monotone_and_stops_cleanly():
    """Through the greedy selection: single-edit effects rank coordinate 1 above 0 (it helps the
    images 0 leaves unflipped); the joint check keeps only the edits that add up."""
    ctx, styles = _context(n=4)
    n, s = 4, 3
    base = torch.tensor([[0.6, 0.4]]).repeat(n, 1)
    delta = torch.zeros(n, 2, s, 2)
    delta[:, 1, 0, 1] = torch.tensor([0.5, 0.5, 0.0, 0.0])  # (max, 0): flips images 0, 1
    delta[:, 1, 1, 1] = torch.tensor([0.0, 0.0, 0.5, 0.5])  # (max, 1): flips images 2, 3
    delta[:, 1, 2, 1] = 0.05  # (max, 2): a little for everyone
    delta[:, :, :, 0] = -delta[:, :, :, 1]
    plain, _, _ = select_class(delta, base, 1, top_k=3)
    assert [(p["direction"], p["index"]) for p in plain][:2] in ([(1, 0), (1, 1)], [(1, 1), (1, 0)])
    picked, rejected, m = select_class(
        delta, base, 1, top_k=3, accept=joint_check(ctx, styles, torch.device("cpu"))(1)
    )
    assert m == 4
    counts = [p["joint_flipped"] for p in picked]
    assert counts == sorted(counts) and counts[0] == 4
    first_two = [(p["direction"], p["index"]) for p in picked][:2]
    assert first_two in ([(1, 0), (1, 2)], [(1, 1), (1, 2)])
    assert rejected and all(r["joint_flipped"] < r["joint_before"] for r in rejected)
    stopped, rej, _ = select_class(
        delta,
        base,
        1,
        top_k=3,
        accept=joint_check(ctx, styles, torch.device("cpu"), max_rejections=0)(1),
    )
    assert stopped == [] and rej == []  # "stop" ends the class without recording anything


def test_chain_runs_filters_in_order_and_skips_later_ones_after_a_rejection():
    calls = []

    def first(y):
        def accept(d, i, idx):
            calls.append(("first", i))
            return i != 1, {"first": i}

        return accept

    def second(y):
        def accept(d, i, idx):
            calls.append(("second", i))
            return True

        return accept

    assert chain(None, None) is None
    assert chain(None, first) is first
    accept = chain(first, None, second)(0)
    assert accept(0, 0, torch.arange(2)) == (True, {"first": 0})
    assert accept(0, 1, torch.arange(2)) == (False, {"first": 1})
    assert calls == [("first", 0), ("second", 0), ("first", 1)]


def test_attfind_joint_check_on_a_run_and_the_colab_selection_without_it(tiny_run):
    """On a real (tiny) run: by default every class's joint flip count never falls, and each
    rejected pair would have lowered it; ``joint=False`` is exactly the plain greedy selection
    on the same effects."""
    from stylex.attfind import AttFind, select_attributes
    from stylex.run import Run

    run = Run.load(tiny_run, device="cpu")
    af = AttFind(run, progress=False)
    kw = dict(num_images=16, top_k=3, screen=False, max_flip_fraction=None, resume=False)
    res = af.attribute(**kw)
    assert res.config["joint_check"] is True
    for c in res.classes:
        counts = [a.extra["joint_flipped"] for a in c.attributes]
        assert counts == sorted(counts)
        befores = [a.extra["joint_before"] for a in c.attributes]
        assert befores[1:] == counts[:-1]
        assert all(r.extra["joint_flipped"] < r.extra["joint_before"] for r in c.rejected)
    plain = af.attribute(**kw, joint=False)
    assert plain.config["joint_check"] is False
    expect, _ = select_attributes(plain.effects, 3, max_flip_fraction=None)
    got = [[(a.direction, a.index) for a in c.attributes] for c in plain.classes]
    assert got == [[(a.direction, a.index) for a in c.attributes] for c in expect]
    assert all("joint_flipped" not in a.extra for c in plain.classes for a in c.attributes)


def test_shortfall_note_says_when_the_joint_check_stopped_a_class():
    from stylex.attfind.joint_check import shortfall_note
    from stylex.attfind.select import Attribute, ClassAttributes

    def attr(i, joint):
        return Attribute(0, i, i, "max", 1.0, 0.1, 1, extra={"joint_flipped": joint})

    stopped = ClassAttributes("trouser", 1, [attr(0, 120), attr(1, 176)], 181)
    stopped.rejected = [attr(2 + j, 170) for j in range(2 * 3)]
    note = shortfall_note(stopped, 3, joint=True)
    assert "got 2 of 3 attributes (181 images considered)" in note
    assert "joint check stopped it after 6 candidates" in note and "flip 176 of" in note
    assert "joint check" not in shortfall_note(stopped, 3, joint=False)
    by_d = ClassAttributes("trouser", 1, [attr(0, 120), attr(1, 176)], 181)
    by_d.rejected = [
        Attribute(0, 2 + j, 2 + j, "max", 1.0, 0.1, 1, extra={"d_drop": 1.0}) for j in range(6)
    ]  # the discriminator filter's rejections: not the joint check's stop
    assert "joint check" not in shortfall_note(by_d, 3, joint=True)
    few = ClassAttributes("sneaker", 0, [attr(0, 3)], 4)  # ran out of candidates, no stop
    assert "joint check" not in shortfall_note(few, 3, joint=True)
