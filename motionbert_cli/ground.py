"""The floor under the people: which way is up for the Y-up files (BVH, TRC) and the angles.

With the camera pitched down, "up" in the camera frame (-y) is not the world's up: a person walking
towards the camera climbs or sinks through a level floor in Blender, and trunk lean carries the pitch.

1. `fit_floor`: the plane under the lower ankle of each frame (where a foot is on the ground), fitted in
   the camera frame (the highest third of those points left out), tilted only along directions the points
   spread over by FLOOR_SPREAD_M; when they do not spread (a person on one spot), the people's median trunk
   axis, if within UPRIGHT_DEG of the camera's -y (people mostly stand upright), else the camera's -y.
2. `level`: the rotation that turns the camera frame so the floor is horizontal.

Tried and not kept: placing each frame's person along the viewing ray so the lower ankle touches the floor
(stand_on_floor). For cameras near head height the ray to the person is within ~10 degrees of the floor, so
a centimetre of ankle error moves the person ~10 cm: on Human3.6M S9 the pelvis depth error grew from 0.56
to 1.32 m (benchmarks/bench_h36m.py), so the distance still comes from limb lengths (camera.py).

Shapes: joints [T, 17, 3] camera frame (x right, y down, z forward), metres, NaN where unseen. The floor:
unit normal n pointing up (roughly -y) and offset d, points on it satisfy n . x + d = 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The lower ankle's height above the floor, median over a take: Human3.6M's (its mocap joints, which our lifters
# and MotionBERT's learn; 0.048 m in the training subjects' takes, ../shared/README.md). The floor goes there
# under the lifted lower ankles' *median*: a foot is on the ground in most frames of nearly any footage, and a
# low quantile sinks the floor by the lifted ankles' noise (lowest tenth, as before: feet 9 cm too high on
# Human3.6M S9, whose true lower ankle spreads 1.3 cm from its lowest tenth to its median, the lifted one 6 cm).
ANKLE_HEIGHT_M = 0.048
FLOOR_SPREAD_M = 1.0    # contact points must spread this far across the floor to tell its tilt
MAX_TILT_DEG = 35.0     # a fitted floor tilted further than this from the camera's level is not trusted
UPRIGHT_DEG = 20.0      # a median trunk axis within this of the camera's -y is taken as the vertical


@dataclass
class Floor:
    normal: np.ndarray      # [3] unit, up, camera frame
    offset: float           # n . x + offset = 0 on the floor
    fitted: bool            # True: from the feet; False: from the people's upright trunks or the camera

    def height(self, x: np.ndarray) -> np.ndarray:
        return x @ self.normal + self.offset


def _lower_ankles(j: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[T, 3] the lower of the two ankles per frame (NaN where unseen)."""
    a = j[:, [3, 6]]
    h = a @ up
    k = np.where(np.nan_to_num(h[:, 0], nan=np.inf) <= np.nan_to_num(h[:, 1], nan=np.inf), 0, 1)
    return a[np.arange(len(a)), k]


def fit_floor(joints: list[np.ndarray]) -> Floor:
    """The floor under everyone in `joints` (a list of people's [T, 17, 3]): heights of the lower ankles
    (along the camera's -y) as a plane over the two horizontal camera axes, least squares with the highest
    third of the points left out (a foot in the air is above the floor, never below) and a ridge that keeps
    the tilt level along any direction the points do not spread over (FLOOR_SPREAD_M): a person walking
    towards the camera tells its pitch, one on a spot tells nothing."""
    up0 = np.array([0.0, -1.0, 0.0])
    pts = np.concatenate([_lower_ankles(j, up0) for j in joints]) if joints else np.zeros((0, 3))
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) < 3:
        return Floor(up0, ANKLE_HEIGHT_M, False)
    h, uw = pts @ up0, pts[:, [0, 2]]
    use = np.ones(len(pts), bool)
    ab = np.zeros(2)
    lam = 0.15 ** 2  # m^2: a tilt along a direction the points span less than ~0.3 m shrinks to level
    for _ in range(4):
        c = uw[use].mean(0)
        A = uw[use] - c
        ab = np.linalg.solve(A.T @ A + lam * use.sum() * np.eye(2), A.T @ (h[use] - h[use].mean()))
        r = h - (uw - c) @ ab
        use = r <= np.quantile(r, 0.67)
    n = up0 - ab[0] * np.array([1.0, 0, 0]) - ab[1] * np.array([0, 0, 1.0])
    n /= np.linalg.norm(n)
    spread = np.ptp(uw[use], axis=0).max() >= FLOOR_SPREAD_M
    fitted = bool(spread and np.degrees(np.arccos(np.clip(n @ up0, -1, 1))) <= MAX_TILT_DEG)
    if not fitted:
        trunks = np.concatenate([j[:, 8] - j[:, 0] for j in joints])
        trunks = trunks[np.isfinite(trunks).all(-1)]
        n = up0
        if len(trunks):
            t = np.median(trunks / np.linalg.norm(trunks, axis=-1, keepdims=True), axis=0)
            t /= np.linalg.norm(t)
            if np.degrees(np.arccos(np.clip(t @ up0, -1, 1))) <= UPRIGHT_DEG:
                n = t
    offset = ANKLE_HEIGHT_M - float(np.median(pts @ n))  # the median lower ankle at its height above the floor
    return Floor(n, offset, fitted)


def level(floor: Floor) -> np.ndarray:
    """The rotation R [3, 3] (x' = R x) turning the camera frame so the floor's normal is the camera's -y:
    the smallest turn, so the camera's heading is kept."""
    a, b = floor.normal, np.array([0.0, -1.0, 0.0])
    v, c = np.cross(a, b), float(a @ b)
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3)
    K = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + K + K @ K / (1 + c)
