"""The 3D panel of skeleton3d.mp4: feet on the ground, readable figures, a moving view and a left/right legend."""
import numpy as np

from motionbert_cli.render import LEFT_COLOUR, RIGHT_COLOUR, PALETTE, SkeletonView


def standing(T=90, x=0.0, z=4.0, rise=0.0):
    """One person [T, 17, 3], camera frame (y down), 1.7 m tall, feet at y = 0.9 + rise * t / T."""
    j = np.zeros((T, 17, 3))
    ys = {0: 0.0, 1: 0.0, 2: 0.45, 3: 0.9, 4: 0.0, 5: 0.45, 6: 0.9, 7: -0.25, 8: -0.5, 9: -0.65, 10: -0.8,
          11: -0.5, 12: -0.2, 13: 0.05, 14: -0.5, 15: -0.2, 16: 0.05}
    xs = {1: -0.12, 2: -0.12, 3: -0.12, 4: 0.12, 5: 0.12, 6: 0.12, 11: 0.2, 12: 0.25, 13: 0.25, 14: -0.2,
          15: -0.25, 16: -0.25}
    for k, y in ys.items():
        j[:, k, 1] = y
        j[:, k, 0] = x + xs.get(k, 0.0)
    j[..., 2] = z
    j[..., 1] += rise * np.arange(T)[:, None] / T  # walking down a slope: the feet go lower in the frame
    return j


def test_ground_follows_the_feet_and_figures_stay_large():
    a = standing(rise=0.4)
    b = standing(x=5.0, z=9.0)  # a second person 5 m to the side and 5 m further away
    joints = np.stack([a, b])
    view = SkeletonView(joints, 600, fps=30)
    lowest = joints[..., [3, 6], 1].max((0, 2))
    # the grid is under the lowest foot within half a second: here at most 15 frames of the slope away
    assert (view.ground_y >= lowest - 1e-9).all() and (view.ground_y - lowest).max() < 0.4 * 15 / 90 + 1e-9
    flat = SkeletonView(standing()[None], 600, fps=30)
    np.testing.assert_allclose(flat.ground_y, 0.9)  # on flat ground: exactly at the feet
    # each figure at least a fifth of the panel, however far apart the people are
    uv = view._project(a[0], 0)
    assert np.ptp(uv[:, 1]) >= 0.2 * 600 * 0.95


def test_view_swings_and_draws_a_legend():
    joints = standing()[None]
    view = SkeletonView(joints, 400, fps=30, swing=40, period_s=4)
    p0 = view._project(np.array([[0.5, 0.0, 5.0]]), 0)
    p1 = view._project(np.array([[0.5, 0.0, 5.0]]), 30)  # a quarter period later: turned by 40 degrees
    assert np.abs(p0 - p1).max() > 10
    img = view.draw(joints[:, 0], [PALETTE[0]], 0, ["#1"])
    assert img.shape == (400, 400, 3)
    for colour in (LEFT_COLOUR, RIGHT_COLOUR):
        assert (np.abs(img.astype(int) - colour).sum(-1) < 30).sum() > 20  # limbs and legend in both hues
    assert all(np.abs(np.array(c) - LEFT_COLOUR).sum() > 150 and np.abs(np.array(c) - RIGHT_COLOUR).sum() > 150
               for c in PALETTE)  # no person is drawn in a limb colour
