"""Keypoint conversions and normalisation, checked against values worked out by hand."""
import numpy as np

from motionbert_cli.keypoints import (H36M_FLIP_PERM, apply_crop, coco_to_h36m, crop_box, crop_scale, fill_gaps,
                                      flip_h36m, halpe_to_h36m, pixel_denormalise, pixel_normalise)


def test_coco_to_h36m_by_hand():
    coco = np.zeros((1, 17, 3))
    coco[0, :, 0] = np.arange(17) * 10.0  # x = 10 * COCO index
    coco[0, :, 2] = 1
    h = coco_to_h36m(coco)[0, :, 0]
    # pelvis = mean(hips 11, 12) = 115; thorax = mean(shoulders 5, 6) = 55; spine = mean(pelvis, thorax) = 85
    assert h[0] == 115 and h[8] == 55 and h[7] == 85
    assert h[1] == 120 and h[4] == 110  # right hip = COCO 12, left hip = COCO 11
    assert h[9] == 0 and h[10] == 15   # nose, head = mean(eyes 1, 2)
    assert list(h[11:17]) == [50, 70, 90, 60, 80, 100]


def test_halpe_to_h36m_by_hand():
    halpe = np.zeros((1, 26, 3))
    halpe[0, :, 0] = np.arange(26)
    h = halpe_to_h36m(halpe)[0, :, 0]
    assert h[0] == 19 and h[8] == 18 and h[7] == 18.5 and h[10] == 17 and h[9] == 0


def test_crop_scale_official_formula():
    # Box: x in [100, 300], y in [50, 100] -> size 200, x0 = 100, y0 = (150 - 200) / 2 = -25.
    m = np.array([[[100, 50, 1], [300, 100, 1], [200, 75, 1], [150, 60, 1], [0, 0, 0]]], float)
    out = crop_scale(m)
    assert crop_box(m) == (100.0, -25.0, 200.0)
    np.testing.assert_allclose(out[0, 0], [-1, (50 + 25) / 200 * 2 - 1, 1])
    np.testing.assert_allclose(out[0, 1], [1, (100 + 25) / 200 * 2 - 1, 1])
    assert out[0, 4, 2] == 0  # confidence kept
    assert crop_box(m[:, :3]) is None  # fewer than 4 confident joints


def test_depth_channel_scales_like_xy():
    out = apply_crop(np.array([[[0.0, 0.0, 50.0]]]), (0.0, 0.0, 100.0), depth=True)
    np.testing.assert_allclose(out[0, 0], [-1, -1, 1.0])


def test_flip_is_an_involution_and_swaps_sides():
    x = np.random.default_rng(0).normal(size=(5, 17, 3))
    np.testing.assert_array_equal(flip_h36m(flip_h36m(x)), x)
    f = flip_h36m(x)
    np.testing.assert_array_equal(f[:, 1, 0], -x[:, 4, 0])
    assert H36M_FLIP_PERM[11] == 14 and H36M_FLIP_PERM[0] == 0


def test_pixel_round_trip():
    x = np.array([[[960.0, 540.0, 0.0], [0.0, 0.0, 10.0]]])
    n = pixel_normalise(x, (1920, 1080))
    np.testing.assert_allclose(n[0, 0, :2], [0, 0])
    np.testing.assert_allclose(pixel_denormalise(n, (1920, 1080))[..., :2], x[..., :2])


def test_fill_gaps_interpolates_short_gaps_only():
    k = np.zeros((20, 1, 3), np.float32)
    k[0] = [0, 0, 1]
    k[4] = [40, 0, 0.8]
    k[19] = [0, 0, 1]  # gap of 14 frames: left alone with max_gap=10
    f = fill_gaps(k, max_gap=10)
    np.testing.assert_allclose(f[1:4, 0, 0], [10, 20, 30])
    np.testing.assert_allclose(f[2, 0, 2], 0.4)
    assert (f[5:19, 0, 2] == 0).all()
