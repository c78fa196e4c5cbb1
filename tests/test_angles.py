"""Joint angles on hand-made poses whose angles are known."""
import numpy as np
import pytest

from motionbert_cli.angles import ANGLES, joint_angles


def standing():
    """Upright, facing +z, Y up (left = +x), arms hanging, legs straight: every angle 0."""
    j = np.zeros((17, 3))
    j[0] = [0, 1.0, 0]
    j[1], j[2], j[3] = [-0.1, 1.0, 0], [-0.1, 0.55, 0], [-0.1, 0.1, 0]        # right hip, knee, ankle
    j[4], j[5], j[6] = [0.1, 1.0, 0], [0.1, 0.55, 0], [0.1, 0.1, 0]           # left
    j[7], j[8], j[9], j[10] = [0, 1.25, 0], [0, 1.5, 0], [0, 1.6, 0.1], [0, 1.65, 0.05]
    j[11], j[12], j[13] = [0.2, 1.5, 0], [0.2, 1.2, 0], [0.2, 0.95, 0]         # left shoulder, elbow, wrist
    j[14], j[15], j[16] = [-0.2, 1.5, 0], [-0.2, 1.2, 0], [-0.2, 0.95, 0]
    return j


def angles(j, up=(0, 1, 0)):
    return {k: float(v[0]) for k, v in joint_angles(j[None], up=up).items()}


def test_zero_pose():
    a = angles(standing())
    assert set(a) == set(ANGLES)
    for k, v in a.items():
        assert v == pytest.approx(0, abs=1e-6), k


def test_right_angles():
    j = standing()
    j[6] = j[5] + [0, 0, -0.45]        # left shin straight back: knee bent 90
    j[2] = j[1] + [0, 0, 0.45]         # right thigh straight forward: hip flexed 90
    j[3] = j[2] + [0, -0.45, 0]        # ... shin hanging: knee 90
    j[13] = j[12] + [0, 0, 0.25]       # left forearm forward: elbow 90
    j[15] = j[14] + [-0.3, 0, 0]       # right arm out sideways: shoulder elevation 90
    j[16] = j[15] + [-0.25, 0, 0]
    a = angles(j)
    assert a["knee_flexion_left"] == pytest.approx(90) and a["knee_flexion_right"] == pytest.approx(90)
    assert a["hip_flexion_right"] == pytest.approx(90) and a["hip_flexion_left"] == pytest.approx(0, abs=1e-6)
    assert a["elbow_flexion_left"] == pytest.approx(90) and a["elbow_flexion_right"] == pytest.approx(0, abs=1e-6)
    assert a["shoulder_elevation_right"] == pytest.approx(90)
    j2 = standing()
    j2[5] = j2[4] + [0, -0.3182, -0.3182]  # left thigh 45 degrees backwards: extension is negative
    j2[6] = j2[5] + [0, -0.45, 0]
    assert angles(j2)["hip_flexion_left"] == pytest.approx(-45, abs=0.05)


def test_trunk_lean_and_rotation_and_camera_frame():
    j = standing()
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    upper = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    rel = j[upper] - j[0]
    lean = rel @ np.array([[1, 0, 0], [0, c, s], [0, -s, c]]).T  # 30 degrees forward about x
    jl = j.copy()
    jl[upper] = j[0] + lean
    assert angles(jl)["trunk_lean"] == pytest.approx(30)
    # left shoulder turned 20 degrees forward against the hips (about the vertical)
    c, s = np.cos(np.radians(-20)), np.sin(np.radians(-20))
    jr = j.copy()
    jr[upper] = j[0] + rel @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
    assert jr[11, 2] > 0 and angles(jr)["trunk_rotation"] == pytest.approx(20)
    # the same poses seen by pose3d's camera (x right, y down, z away; the person faces the camera)
    to_cam = np.diag([-1.0, -1.0, 1.0])  # turned 180 degrees about z... then y down: a proper rotation
    for pose in (jl, jr):
        assert angles(pose @ to_cam.T, up=(0, -1, 0)) == pytest.approx(angles(pose), abs=1e-6)


def test_missing_joints_give_nan():
    j = np.stack([standing(), np.full((17, 3), np.nan)])
    a = joint_angles(j)
    assert all(np.isfinite(v[0]) and np.isnan(v[1]) for v in a.values())


def test_hip_flexion_is_continuous_through_the_frontal_plane_and_abduction_apart():
    """A thigh abducted 20 degrees swinging from 10 degrees behind to 10 degrees in front: flexion moves
    smoothly through 0 and abduction stays 20 (the old angle took its size from flexion and abduction together
    and its sign from front/behind, so it jumped from -22 to +22 in one frame; issue 28)."""
    frames = []
    for f in np.linspace(-10, 10, 21):
        j = standing()
        fr, ab = np.radians(f), np.radians(20)
        d = np.array([np.sin(ab), -np.cos(ab) * np.cos(fr), np.cos(ab) * np.sin(fr)])
        d /= np.linalg.norm(d)
        j[5] = j[4] + 0.45 * d
        j[6] = j[5] + [0, -0.45, 0]
        frames.append(j)
    a = joint_angles(np.stack(frames), up=(0, 1, 0))
    flex, abd = a["hip_flexion_left"], a["hip_abduction_left"]
    assert np.abs(np.diff(flex)).max() < 1.5 and flex[0] < -9 and flex[-1] > 9
    assert flex[10] == pytest.approx(0, abs=1e-6)
    assert np.abs(abd - abd[10]).max() < 1.0 and abd[10] == pytest.approx(20, abs=1e-6)
    assert a["hip_abduction_right"][10] == pytest.approx(0, abs=1e-6)
