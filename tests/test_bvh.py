"""BVH export: the file's forward kinematics (through our own BVH reader) lands on the 3D joints."""
import numpy as np
import pytest

from motionbert_cli.bvh import BVH_NAMES, CAMERA_TO_YUP, SOURCE, to_euler_zxy, write_bvh
from motionbert_cli.ground import ANKLE_HEIGHT_M
from motionbert_cli.mocap import _euler_matrix, read_bvh_positions

# A standing person in H36M order, metres, Y up, facing +Z (their left on +X).
REST = np.array([
    [0, 1.0, 0], [-0.12, 0.98, 0], [-0.12, 0.55, 0.02], [-0.12, 0.10, 0], [0.12, 0.98, 0], [0.12, 0.55, 0.02],
    [0.12, 0.10, 0], [0, 1.25, 0], [0, 1.50, 0], [0, 1.60, 0.08], [0, 1.75, 0.02], [0.18, 1.47, 0],
    [0.45, 1.47, 0], [0.70, 1.47, 0], [-0.18, 1.47, 0], [-0.45, 1.47, 0], [-0.70, 1.47, 0]])


def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def walking(T=60):
    """[T, 17, 3] camera-frame joints of a rigid-boned person walking towards the camera and turning, with
    bending knees and a swinging arm: every bone keeps its length, so a BVH can follow it exactly."""
    out = np.empty((T, 17, 3))
    for t in range(T):
        j = REST.copy()
        # right knee bends (shin swings back about the knee), left arm swings forward about the shoulder
        bend = _rot_x(-0.8 * np.sin(t / 6) ** 2)
        j[3] = j[2] + bend @ (REST[3] - REST[2])
        swing = _rot_x(-0.6 * np.sin(t / 8))
        j[12:14] = j[11] + (swing @ (REST[12:14] - REST[11]).T).T
        turn = _rot_y(0.5 * np.sin(t / 15))
        j = (turn @ (j - j[0]).T).T + [0.0, 0.0, 0.02 * t]  # walking along +Z, towards the camera
        out[t] = j * CAMERA_TO_YUP + [0.0, 0.0, 6.0]  # camera frame (y down, z forward), 6 m away
    return out


def test_euler_zxy_matches_the_reader():
    rng = np.random.default_rng(0)
    R = np.linalg.qr(rng.normal(size=(50, 3, 3)))[0]
    R *= np.sign(np.linalg.det(R))[:, None, None]
    np.testing.assert_allclose(_euler_matrix("ZXY", to_euler_zxy(R)), R, atol=1e-9)


def test_round_trip_through_our_reader(tmp_path):
    cam = walking()
    cam[20:25] = np.nan  # not seen: the file holds the last seen pose there
    fit = write_bvh(tmp_path / "p.bvh", cam, 30.0)
    assert fit.fit_error < 1e-6 and fit.error < 1e-6  # rigid bones: nothing a skeleton cannot follow
    pos, fps = read_bvh_positions(tmp_path / "p.bvh")
    assert fps == pytest.approx(30.0, rel=1e-6)
    P = np.stack([pos[n] for n in BVH_NAMES], 1)
    assert P.shape == (60, len(BVH_NAMES), 3)
    want = (cam * CAMERA_TO_YUP)[:, SOURCE] + [0, fit.floor, 0]
    seen = np.isfinite(cam).all((1, 2))
    np.testing.assert_allclose(P[seen], want[seen], atol=2e-4)  # 5 decimals in the file
    np.testing.assert_allclose(P[20:25], np.broadcast_to(P[19], (5,) + P[19].shape), atol=1e-9)
    # upright, feet on the floor, walking towards +Z (the camera) as the camera frame says
    assert (P[:, BVH_NAMES.index("Head"), 1] > P[:, 0, 1]).all() and (P[:, 0, 1] > P[:, 3, 1]).all()
    assert abs(np.median(P[:, [3, 6], 1].min(1)) - ANKLE_HEIGHT_M) < 1e-3  # the lower ankle's median height
    assert P[-1, 0, 2] - P[0, 0, 2] == pytest.approx(0.02 * 59, abs=1e-3)
    text = (tmp_path / "p.bvh").read_text()
    assert text.startswith("HIERARCHY\nROOT Hips") and "Frames: 60" in text and "Frame Time: 0.03333333" in text


def test_fixed_lengths_and_left_right_equal(tmp_path):
    """Bone lengths that wobble frame to frame (as lifted 3D does) get their median; left = right; the fit's
    own error (the joints moved to those lengths along their bones) stays near zero."""
    cam = walking()
    rng = np.random.default_rng(1)
    cam = cam + rng.normal(scale=0.01, size=cam.shape)
    fit = write_bvh(tmp_path / "p.bvh", cam, 30.0)
    assert fit.error < 0.03 and fit.fit_error < 0.012
    text = (tmp_path / "p.bvh").read_text().split("MOTION")[0].split()
    offs = {}
    for i, tok in enumerate(text):
        if tok in ("ROOT", "JOINT"):
            name = text[i + 1]
            k = text.index("OFFSET", i)
            offs[name] = np.array(text[k + 1:k + 4], float)
    for left, right in (("LeftLeg", "RightLeg"), ("LeftForeArm", "RightForeArm"), ("LeftUpLeg", "RightUpLeg")):
        np.testing.assert_allclose(offs[left] * [-1, 1, 1], offs[right], atol=1e-5)
    assert offs["LeftForeArm"][0] > 0.2 and offs["LeftLeg"][1] < -0.3  # T-pose rest: arm out, leg down


def test_no_frame_seen_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        write_bvh(tmp_path / "p.bvh", np.full((5, 17, 3), np.nan), 30.0)
