"""Joint angles from H36M-17 3D joints, in degrees, for sports science and biomechanics.

Input: joints [T, 17, 3] in any right-handed metric frame (NaN where a person is not seen); `up` is the
world's up direction in that frame (pose3d's camera frame has y down, so up = (0, -1, 0): a camera that
tilts makes "vertical" tilt with it). Definitions (zero pose: standing upright, arms hanging, legs straight):

- knee_flexion, elbow_flexion: 180 minus the angle at the joint (hip-knee-ankle, shoulder-elbow-wrist);
  0 = straight, 90 = a right angle.
- hip_flexion: the thigh (hip -> knee) in the pelvis' sagittal plane, measured from the trunk's downward
  axis (thorax -> pelvis): positive with the knee in front of the body, negative behind (extension). The
  pelvis' axes: lateral = right hip -> left hip, up = the trunk axis made perpendicular to it, forward =
  lateral x up. Continuous through 0 however far the leg is out to the side (the sagittal component alone:
  a thigh swinging past the frontal plane while abducted no longer flips sign).
- hip_abduction: the thigh's angle out of that sagittal plane, positive away from the body's midline.
- shoulder_elevation: angle between the upper arm (shoulder -> elbow) and the trunk's downward axis, any
  direction; 0 = arm down, 90 = horizontal, 180 = overhead.
- trunk_lean: angle between the trunk (pelvis -> thorax) and `up`; 0 = upright.
- trunk_rotation: twist of the shoulder line against the hip line about the trunk axis, positive when the
  left shoulder is turned forward relative to the left hip (the trunk rotated to the right).
Not given: ankle angles (H36M-17 has no foot points beyond the ankle), wrist and neck angles.
"""
from __future__ import annotations

import numpy as np

# H36M-17 indices
PELVIS, R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE, SPINE, THORAX = 0, 1, 2, 3, 4, 5, 6, 7, 8
L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST = 11, 12, 13, 14, 15, 16

ANGLES = ["knee_flexion_left", "knee_flexion_right", "hip_flexion_left", "hip_flexion_right",
          "hip_abduction_left", "hip_abduction_right", "elbow_flexion_left", "elbow_flexion_right", "shoulder_elevation_left", "shoulder_elevation_right",
          "trunk_lean", "trunk_rotation"]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors a and b [..., 3]."""
    return np.degrees(np.arccos(np.clip((_unit(a) * _unit(b)).sum(-1), -1.0, 1.0)))


def _flexion(j, a, b, c):
    return 180.0 - _between(j[:, a] - j[:, b], j[:, c] - j[:, b])


def joint_angles(joints: np.ndarray, up=(0.0, -1.0, 0.0)) -> dict[str, np.ndarray]:
    """joints [T, 17, 3] -> {name: [T] degrees} for every name in ANGLES (NaN where joints are missing)."""
    j = np.asarray(joints, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        trunk_up = _unit(j[:, THORAX] - j[:, PELVIS])
        lateral = _unit(j[:, L_HIP] - j[:, R_HIP])
        pelvis_up = _unit(trunk_up - (trunk_up * lateral).sum(-1, keepdims=True) * lateral)
        forward = np.cross(lateral, pelvis_up)  # left x up = forward (right-handed)
        out = {
            "knee_flexion_left": _flexion(j, L_HIP, L_KNEE, L_ANKLE),
            "knee_flexion_right": _flexion(j, R_HIP, R_KNEE, R_ANKLE),
            "elbow_flexion_left": _flexion(j, L_SHOULDER, L_ELBOW, L_WRIST),
            "elbow_flexion_right": _flexion(j, R_SHOULDER, R_ELBOW, R_WRIST),
        }
        for side, hip, knee, sho, elb, out_sign in (("left", L_HIP, L_KNEE, L_SHOULDER, L_ELBOW, 1.0),
                                                    ("right", R_HIP, R_KNEE, R_SHOULDER, R_ELBOW, -1.0)):
            thigh = _unit(j[:, knee] - j[:, hip])
            out[f"hip_flexion_{side}"] = np.degrees(np.arctan2((thigh * forward).sum(-1),
                                                               -(thigh * pelvis_up).sum(-1)))
            out[f"hip_abduction_{side}"] = np.degrees(np.arcsin(np.clip(out_sign * (thigh * lateral).sum(-1), -1, 1)))
            out[f"shoulder_elevation_{side}"] = _between(j[:, elb] - j[:, sho], -trunk_up)
        out["trunk_lean"] = _between(trunk_up, np.broadcast_to(np.asarray(up, np.float64), trunk_up.shape))

        def flat(v):  # v projected onto the plane across the trunk axis
            return v - (v * trunk_up).sum(-1, keepdims=True) * trunk_up

        hips, shoulders = flat(j[:, L_HIP] - j[:, R_HIP]), flat(j[:, L_SHOULDER] - j[:, R_SHOULDER])
        twist = np.degrees(np.arctan2((np.cross(hips, shoulders) * trunk_up).sum(-1), (hips * shoulders).sum(-1)))
        out["trunk_rotation"] = -twist  # counter-clockwise seen from above = left shoulder back: negative
    return {k: out[k] for k in ANGLES}
