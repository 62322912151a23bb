"""Visible strength of attributes (stylex.attfind.visibility)."""

import pytest
import torch

from stylex.attfind.visibility import (
    Visibility,
    attribute_visibility,
    difference_image,
    ladder_for,
    pixel_change,
)


def test_pixel_change_counts_a_small_region_and_ignores_one_pixel():
    before = torch.zeros(2, 3, 20, 20)
    after = before.clone()
    after[0, 0, :5, :5] = 1.0  # 25 of 400 pixels (6 %), one channel: a visible local change
    after[1, :, 0, 0] = 2.0  # one pixel only
    ch = pixel_change(before, after)
    assert ch[0] == pytest.approx(1.0)
    assert ch[1] == pytest.approx(0.0)
    # the mean over pixels would have called the local change invisible
    assert float((after[0] - before[0]).abs().amax(0).mean()) < 0.1


def test_pixel_change_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        pixel_change(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4))


def test_difference_image_fixed_scale():
    before = torch.zeros(1, 1, 2, 2)
    after = torch.tensor([[[[0.0, 2.0], [-0.6, 1.0]]]])
    d = difference_image(before, after)
    assert d.shape == (1, 3, 2, 2)
    assert torch.all(d[0, :, 0, 0] == -1)  # unchanged: black
    assert torch.all(d[0, :, 0, 1] == 1)  # the largest change: white
    # a moderate change is red-ish: red channel above green above blue
    r, g, b = d[0, :, 1, 0]
    assert r > g >= b


def _toy(gain: float):
    """Images are the style value painted on a quarter of the image; class 1's probability
    rises with the mean intensity."""

    def generate(styles):
        img = torch.zeros(styles[0].shape[0], 1, 8, 8)
        img[:, :, :4, :4] = styles[0][:, :1, None, None]
        return img.clamp(-1, 1)

    def probs(images):
        z = images.mean((1, 2, 3)) * 20
        return torch.stack([torch.sigmoid(-z), torch.sigmoid(z)], 1)

    def edit(styles, t):
        s = styles[0].clone()
        s[:, 0] = s[:, 0] + t * gain
        return [s]

    return generate, probs, edit


def test_attribute_visibility_climbs_until_visible():
    generate, probs, edit = _toy(gain=0.11)  # change 0.11 per unit of strength
    styles = [torch.full((4, 2), -0.5)]
    v = attribute_visibility(generate, probs, edit, styles, 1, ladder=[1, 1.5, 2, 3])
    assert v.shift == 2.0  # 0.11, 0.165 are below 0.2; 0.22 is visible
    assert v.visible and v.acts and v.extrapolated
    assert v.change == pytest.approx(0.22, abs=1e-5)
    assert v.base_change == pytest.approx(0.11, abs=1e-5)
    assert v.delta_p > 0
    assert Visibility.from_dict(v.to_dict()) == v


def test_attribute_visibility_reports_invisible_at_top_of_ladder():
    generate, probs, edit = _toy(gain=0.01)
    v = attribute_visibility(generate, probs, edit, [torch.full((3, 2), -0.5)], 1)
    assert not v.visible
    assert v.shift == 4.0  # the top of the default ladder
    assert v.flip_rate == 0.0


def test_attribute_visibility_stays_at_first_rung_when_visible():
    generate, probs, edit = _toy(gain=1.0)
    v = attribute_visibility(generate, probs, edit, [torch.full((3, 2), -0.5)], 1)
    assert v.shift == 1.0 and v.visible and not v.extrapolated
    assert v.flip_rate == 1.0  # -0.5 → 0.5 on a quarter: mean > 0 → class 1


def test_attribute_visibility_waits_for_the_classifier():
    generate, probs, edit = _toy(gain=0.5)  # visible from the first rung
    styles = [torch.full((4, 2), -0.5)]
    # class 1's probability rises 0.5·t·(16/64)·20·σ' … demand a large rise: later rung
    strict = attribute_visibility(generate, probs, edit, styles, 1, min_delta_p=0.5)
    loose = attribute_visibility(generate, probs, edit, styles, 1, min_delta_p=0.0)
    assert loose.shift == 1.0 and loose.visible and loose.acts
    assert strict.shift > loose.shift and strict.delta_p >= 0.5
    assert strict.base_delta_p == pytest.approx(loose.delta_p)


def test_ladder_for_scales_with_attfind_strength():
    assert ladder_for(0.5) == [0.5, 0.75, 1.0, 1.5, 2.0]
    with pytest.raises(ValueError):
        attribute_visibility(*_toy(1.0), [torch.zeros(1, 2)], 1, ladder=[])
