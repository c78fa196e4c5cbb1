"""BVH animation of one person's H36M-17 joints: a skeleton with the person's own bone lengths and the joint
rotations that put it on the 3D joints frame by frame (Blender, MotionBuilder, Maya read it).

Conventions of the file:
- **Y up, metres**, the character facing +Z in its rest pose, its left on +X (Blender imports it upright with
  "Y up" / "-Z forward" left at their defaults... see README). World = the camera frame turned 180 degrees
  about x (x right, y up, z towards the camera), the same axes as `person_<id>.trc`, lifted by a constant
  `floor` so that the feet stand on Y = 0.
- **Rest pose** (all rotations zero): upright, legs straight down, arms straight out sideways (T-pose),
  hips, shoulders and neck where this person's median pose holds them relative to pelvis and chest.
- **Channels**: the root (Hips) has Xposition Yposition Zposition Zrotation Xrotation Yrotation, every other
  joint Zrotation Xrotation Yrotation (R = Rz Rx Ry, degrees). Ankles, wrists and head carry no data of
  their own (H36M-17 has no feet, hands or face direction): their rotation is zero and their end sites are
  short stubs so that every bone has a length.
- Frames where the person is not seen hold the nearest seen pose (BVH has no missing values).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ground import ANKLE_HEIGHT_M

# The BVH skeleton: (name, parent, H36M joint it sits on). Mixamo-like names, so retargeting tools guess the
# mapping. The collars start at the chest (H36M has no clavicle joint) and aim at the shoulders, so shoulders
# follow the joints exactly however the chest's three points deform.
SKELETON = [("Hips", -1, 0),
            ("RightUpLeg", 0, 1), ("RightLeg", 1, 2), ("RightFoot", 2, 3),
            ("LeftUpLeg", 0, 4), ("LeftLeg", 4, 5), ("LeftFoot", 5, 6),
            ("Spine", 0, 7), ("Chest", 7, 8), ("Neck", 8, 9), ("Head", 9, 10),
            ("LeftCollar", 8, 8), ("LeftArm", 11, 11), ("LeftForeArm", 12, 12), ("LeftHand", 13, 13),
            ("RightCollar", 8, 8), ("RightArm", 15, 14), ("RightForeArm", 16, 15), ("RightHand", 17, 16)]
BVH_NAMES = [n for n, _, _ in SKELETON]
PARENTS = [p for _, p, _ in SKELETON]
SOURCE = [h for _, _, h in SKELETON]                  # BVH joint -> H36M index
FEET = [BVH_NAMES.index("LeftFoot"), BVH_NAMES.index("RightFoot")]  # the ankles (H36M has no toes)
N = len(SKELETON)
_CHILDREN = {j: [c for c in range(N) if PARENTS[c] == j] for j in range(N)}
# Bones whose rest direction is fixed (T-pose): child -> direction from its parent.
_REST_DIR = {2: (0, -1, 0), 3: (0, -1, 0), 5: (0, -1, 0), 6: (0, -1, 0), 8: (0, 1, 0), 10: (0, 1, 0),
             13: (1, 0, 0), 14: (1, 0, 0), 17: (-1, 0, 0), 18: (-1, 0, 0)}
# End-site stubs (metres, in the end joint's frame): a foot forward, a hand along the forearm, a head top.
_END_SITES = {3: (0, 0, 0.1), 6: (0, 0, 0.1), 14: (0.08, 0, 0), 18: (-0.08, 0, 0), 10: (0, 0.05, 0)}
_MIRROR = {1: 4, 2: 5, 3: 6, 16: 12, 17: 13, 18: 14}   # right -> left
CAMERA_TO_YUP = np.array([1.0, -1.0, -1.0])


@dataclass
class BvhSkeleton:
    offsets: np.ndarray   # [N, 3] each BVH joint's rest offset from its parent (root: 0), metres
    floor: float          # metres added to Y so the feet stand on Y = 0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _frame(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Right-handed frames [T, 3, 3] (columns x, y, z) from a sideways x and a roughly-up y."""
    x = _unit(x)
    y = _unit(y - (y * x).sum(-1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], -1)


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations R [T, 3, 3] minimising sum_i |R a_i - b_i|^2; a [K, 3] fixed, b [T, K, 3]."""
    H = np.einsum("ki,tkj->tij", a, b)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, 1, 2) @ np.swapaxes(U, 1, 2)))
    D = np.tile(np.eye(3), (len(b), 1, 1))
    D[:, 2, 2] = d
    return np.swapaxes(Vt, 1, 2) @ D @ np.swapaxes(U, 1, 2)


def _swing(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotations [T, 3, 3] taking unit vectors u [T, 3] onto v [T, 3] (Rodrigues)."""
    axis = np.cross(u, v)
    s = np.linalg.norm(axis, axis=-1)
    c = (u * v).sum(-1)
    k = axis / np.maximum(s, 1e-12)[:, None]
    # Opposite vectors: any axis across u does; pick one that is not parallel to it.
    opp = (s < 1e-9) & (c < 0)
    if opp.any():
        alt = np.where(np.abs(u[opp, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        k[opp] = _unit(np.cross(u[opp], alt))
    angle = np.arctan2(s, c)
    K = np.zeros((len(u), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K = K - np.swapaxes(K, 1, 2)
    sa, ca = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + sa * K + (1 - ca) * (K @ K)


def to_euler_zxy(R: np.ndarray) -> np.ndarray:
    """R [T, 3, 3] = Rz(a) Rx(b) Ry(c) -> degrees [T, 3] as (a, b, c)."""
    b = np.arcsin(np.clip(R[:, 2, 1], -1, 1))
    a = np.arctan2(-R[:, 0, 1], R[:, 1, 1])
    c = np.arctan2(-R[:, 2, 0], R[:, 2, 2])
    return np.rad2deg(np.stack([a, b, c], -1))


def _fill_gaps(j: np.ndarray) -> np.ndarray:
    """[T, J, 3] with NaN frames -> each unseen frame holds the nearest earlier seen one (leading: the first)."""
    seen = np.isfinite(j).all(axis=(1, 2))
    idx = np.where(seen, np.arange(len(j)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.argmax(seen)
    return j[idx]


def fit_skeleton(b: np.ndarray) -> BvhSkeleton:
    """The person's rest skeleton from Y-up BVH-joint positions b [T, N, 3] (NaN where unseen): median bone
    lengths, left and right made equal; hips, spine, neck and shoulders placed as in the median pose."""
    lengths = np.nanmedian(np.linalg.norm(b - b[:, PARENTS], axis=-1), axis=0)  # [N] (root, collars: 0)
    for r, l in _MIRROR.items():
        lengths[r] = lengths[l] = 0.5 * (lengths[r] + lengths[l])
    offsets = np.zeros((N, 3))
    for c, d in _REST_DIR.items():
        offsets[c] = lengths[c] * np.array(d, float)
    # Hips and spine in the pelvis frame, neck and shoulders in the chest frame, as the median pose has them:
    # (origin, joints placed, x axis from - to, y axis from - to), BVH indices.
    for origin, kids, x_ax, y_ax in ((0, (1, 4, 7), (4, 1), (7, 0)), (8, (9, 12, 16), (12, 16), (8, 7))):
        F = _frame(b[:, x_ax[0]] - b[:, x_ax[1]], b[:, y_ax[0]] - b[:, y_ax[1]])
        local = np.einsum("tji,tkj->tki", F, b[:, list(kids)] - b[:, origin:origin + 1])  # F^T (joint - origin)
        offsets[list(kids)] = np.nanmedian(local, axis=0)
    for r, l in ((1, 4), (16, 12)):  # right = mirrored left, averaged
        m = 0.5 * (offsets[l] + offsets[r] * [-1, 1, 1])
        offsets[l], offsets[r] = m, m * [-1, 1, 1]
    return BvhSkeleton(offsets=offsets, floor=0.0)  # the floor: bvh_from_camera, once the skeleton is posed


def _aims(p: int, off: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """What joint p's rotation must point where: (rest offset from p, BVH joint) for each child, or for a
    child at p itself (a collar) its own children, reached through it unrotated."""
    out = []
    for c in _CHILDREN[p]:
        if np.linalg.norm(off[c]) > 1e-9:
            out.append((off[c], c))
        else:
            out += [(off[c] + off[g], g) for g in _CHILDREN[c]]
    return out


def solve_rotations(b: np.ndarray, skel: BvhSkeleton) -> tuple[np.ndarray, np.ndarray]:
    """Local joint rotations [T, N, 3, 3] and root positions [T, 3] (no floor added yet: bvh_from_camera adds it
    once the skeleton is posed) that put the skeleton on Y-up BVH-joint
    positions b [T, N, 3] (no NaN). A joint that aims at one point takes the smallest swing from its
    parent's frame (so bones do not spin) and follows the bone exactly; the pelvis and the chest, which aim
    at three, are fitted rigidly (the collars then carry the shoulders exactly)."""
    T = len(b)
    W = np.tile(np.eye(3), (T, N, 1, 1))
    off = skel.offsets
    for p in range(N):  # parents come before children
        aims = _aims(p, off)
        parent_W = W[:, PARENTS[p]] if p else np.tile(np.eye(3), (T, 1, 1))
        if len(aims) > 1:
            W[:, p] = _kabsch(np.stack([o for o, _ in aims]), b[:, [g for _, g in aims]] - b[:, p:p + 1])
        elif len(aims) == 1:
            o, g = aims[0]
            u = _unit(np.einsum("tij,j->ti", parent_W, o))
            W[:, p] = _swing(u, _unit(b[:, g] - b[:, p])) @ parent_W
        else:
            W[:, p] = parent_W
    local = W.copy()
    for p in range(1, N):
        local[:, p] = np.swapaxes(W[:, PARENTS[p]], 1, 2) @ W[:, p]
    return local, b[:, 0].copy()


def forward_kinematics(local: np.ndarray, root: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """BVH-joint positions [T, N, 3] from local rotations [T, N, 3, 3], root positions [T, 3], offsets [N, 3]."""
    T = len(root)
    W = np.empty((T, N, 3, 3))
    pos = np.empty((T, N, 3))
    W[:, 0], pos[:, 0] = local[:, 0], root
    for c in range(1, N):
        p = PARENTS[c]
        pos[:, c] = pos[:, p] + np.einsum("tij,j->ti", W[:, p], offsets[c])
        W[:, c] = W[:, p] @ local[:, c]
    return pos


def bvh_from_camera(joints_cam: np.ndarray) -> tuple[BvhSkeleton, np.ndarray, np.ndarray, np.ndarray]:
    """joints_cam [T, 17, 3] H36M, metres, camera frame (NaN where unseen) -> skeleton, local rotations
    [T, N, 3, 3], root positions [T, 3] and the Y-up BVH-joint positions [T, N, 3] they were fitted to (gaps
    held, floor added), all as written to the file."""
    if not np.isfinite(joints_cam).all(axis=(1, 2)).any():
        raise ValueError("no frame with the person seen: nothing to write")
    b = (joints_cam * CAMERA_TO_YUP)[:, SOURCE]
    skel = fit_skeleton(b)
    filled = _fill_gaps(b)
    local, root = solve_rotations(filled, skel)
    # Feet on the floor: the skeleton's lower ankle (its fixed legs, not the lifted ones, which vary in length)
    # at its height above the floor in the median seen frame (ground.py: a low percentile left the feet
    # floating by the ankles' noise).
    fk = forward_kinematics(local, root, skel.offsets)[np.isfinite(b).all(axis=(1, 2))]
    skel.floor = ANKLE_HEIGHT_M - float(np.median(fk[:, FEET, 1].min(1)))
    lift = np.array([0.0, skel.floor, 0.0])
    return skel, local, root + lift, filled + lift


def same_lengths(j: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """BVH-joint positions [T, N, 3] rebuilt from the pelvis outwards along their own bone directions with
    the skeleton's fixed bone lengths: what a fixed-length skeleton could reach at best."""
    out = j.copy()
    for c in range(1, N):
        p = PARENTS[c]
        out[:, c] = out[:, p] + _unit(j[:, c] - j[:, p]) * np.linalg.norm(offsets[c])
    return out


@dataclass
class BvhFit:
    floor: float        # metres added to Y (the TRC's axes) so the feet stand on Y = 0
    error: float        # mean distance (metres) of the file's joints from the 3D, seen frames, 16 joints
    fit_error: float    # the same from the 3D moved along its bones to the skeleton's fixed lengths:
                        # the fit's own error, without what a fixed-length skeleton cannot follow


def write_bvh(path: str | Path, joints_cam: np.ndarray, fps: float) -> BvhFit:
    """Write one person's BVH; joints_cam [T, 17, 3] H36M joints, metres in the camera frame (NaN where
    the person is not seen)."""
    skel, local, root, target = bvh_from_camera(joints_cam)
    seen = np.isfinite(joints_cam).all(axis=(1, 2))
    fk = forward_kinematics(local, root, skel.offsets)[seen]
    real = [k for k in range(1, N) if "Collar" not in BVH_NAMES[k]]  # the 16 H36M joints besides the pelvis
    err = float(np.linalg.norm(fk - target[seen], axis=-1)[:, real].mean())
    err_fit = float(np.linalg.norm(fk - same_lengths(target[seen], skel.offsets), axis=-1)[:, real].mean())

    lines = ["HIERARCHY"]

    def emit(jnt: int, depth: int) -> None:
        pad = "  " * depth
        o = skel.offsets[jnt]
        if jnt == 0:
            lines.append(f"ROOT {BVH_NAMES[0]}")
        else:
            lines.append(f"{pad}JOINT {BVH_NAMES[jnt]}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {o[0]:.5f} {o[1]:.5f} {o[2]:.5f}")
        ch = "6 Xposition Yposition Zposition" if jnt == 0 else "3"
        lines.append(f"{pad}  CHANNELS {ch} Zrotation Xrotation Yrotation")
        for c in _CHILDREN[jnt]:
            emit(c, depth + 1)
        if jnt in _END_SITES:
            e = _END_SITES[jnt]
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {e[0]:.5f} {e[1]:.5f} {e[2]:.5f}",
                          pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    T = len(root)
    euler = np.stack([to_euler_zxy(local[:, k]) for k in _channel_order()], 1)  # [T, N, 3]
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.8f}"]
    for t in range(T):
        vals = [f"{v:.5f}" for v in root[t]] + [f"{v:.4f}" for v in euler[t].reshape(-1)]
        lines.append(" ".join(vals))
    Path(path).write_text("\n".join(lines) + "\n")
    return BvhFit(floor=skel.floor, error=err, fit_error=err_fit)


def _channel_order() -> list[int]:
    """Joints in the order the hierarchy lists them (depth first), which is the order of the motion columns."""
    order = []

    def walk(j):
        order.append(j)
        for c in _CHILDREN[j]:
            walk(c)

    walk(0)
    return order
