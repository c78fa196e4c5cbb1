"""Reading 3D motion for training and evaluation, all mapped to H36M-17 joints.

Every reader returns `Motion` clips: joints [T, 17, 3] in metres, world frame with **Y up**, and fps.
Supported: BVH (CMU bvh11 and MotionBuilder naming), our `.npz` ([T, 17, 3] + fps), VideoPose3D's `.npz`
(HumanEva-15 and H36M-17 layouts, z up) and MotionBERT's preprocessed H36M clips (`MB3D_f243s81` folders of
pickles with `data_input` / `data_label`, already normalised: returned as `PairedClip`).
"""
from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .camera import Camera
from .errors import UserError

CMU_TO_METRES = 0.056444


@dataclass
class Motion:
    joints: np.ndarray  # [T, 17, 3] metres, Y up
    fps: float
    name: str
    meta: dict = field(default_factory=dict)


@dataclass
class PairedClip:
    """A clip that already holds normalised network input and target (MotionBERT's H36M format)."""

    x2d: np.ndarray  # [T, 17, 3]
    y3d: np.ndarray  # [T, 17, 3]
    name: str


# ------------------------------------------------------------------------------------------------ BVH

def _euler_matrix(order: str, angles_deg: np.ndarray) -> np.ndarray:
    """Rotation matrices [T, 3, 3] for BVH channel order (e.g. 'ZXY': R = Rz @ Rx @ Ry)."""
    a = np.deg2rad(angles_deg)
    T = a.shape[0]
    R = np.tile(np.eye(3), (T, 1, 1))
    for i, axis in enumerate(order):
        c, s = np.cos(a[:, i]), np.sin(a[:, i])
        M = np.tile(np.eye(3), (T, 1, 1))
        if axis == "X":
            M[:, 1, 1], M[:, 1, 2], M[:, 2, 1], M[:, 2, 2] = c, -s, s, c
        elif axis == "Y":
            M[:, 0, 0], M[:, 0, 2], M[:, 2, 0], M[:, 2, 2] = c, s, -s, c
        else:
            M[:, 0, 0], M[:, 0, 1], M[:, 1, 0], M[:, 1, 1] = c, -s, s, c
        R = R @ M
    return R


def read_bvh_positions(path: str | Path) -> tuple[dict[str, np.ndarray], float]:
    """Forward kinematics of a BVH file: {joint name: [T, 3] positions in file units}, fps.
    End sites are named '<parent>_end'."""
    text = Path(path).read_text(errors="replace")
    if "HIERARCHY" not in text or "MOTION" not in text:
        raise UserError(f"{path} is not a BVH file (no HIERARCHY/MOTION sections)")
    head, motion = text.split("MOTION", 1)
    tokens = head.split()
    joints, stack, i = [], [], 0
    while i < len(tokens):
        t = tokens[i]
        if t in ("ROOT", "JOINT"):
            joints.append({"name": tokens[i + 1], "parent": stack[-1] if stack else None, "channels": []})
            i += 2
        elif t == "End":
            joints.append({"name": joints[stack[-1]]["name"] + "_end", "parent": stack[-1], "channels": []})
            i += 2
        elif t == "{":
            stack.append(len(joints) - 1)
            i += 1
        elif t == "}":
            stack.pop()
            i += 1
        elif t == "OFFSET":
            joints[stack[-1]]["offset"] = np.array(tokens[i + 1:i + 4], float)
            i += 4
        elif t == "CHANNELS":
            n = int(tokens[i + 1])
            joints[stack[-1]]["channels"] = tokens[i + 2:i + 2 + n]
            i += 2 + n
        else:
            i += 1
    lines = motion.strip().splitlines()
    n_frames = int(re.search(r"Frames:\s*(\d+)", lines[0]).group(1))
    frame_time = float(re.search(r"Frame Time:\s*([\d.eE+-]+)", lines[1]).group(1))
    data = np.array([ln.split() for ln in lines[2:2 + n_frames] if ln.strip()], dtype=float)
    T = data.shape[0]
    pos, rot, col = {}, {}, 0
    for idx, j in enumerate(joints):
        ch = j["channels"]
        vals = data[:, col:col + len(ch)]
        col += len(ch)
        offset = np.broadcast_to(j.get("offset", np.zeros(3)), (T, 3)).copy()
        for k, c in enumerate(ch):
            if c.endswith("position"):
                offset[:, "XYZ".index(c[0])] = vals[:, k]
        rot_ch = [c[0] for c in ch if c.endswith("rotation")]
        rot_vals = np.stack([vals[:, k] for k, c in enumerate(ch) if c.endswith("rotation")], 1) if rot_ch else None
        local = _euler_matrix("".join(rot_ch), rot_vals) if rot_ch else np.tile(np.eye(3), (T, 1, 1))
        p = j["parent"]
        if p is None:
            pos[idx], rot[idx] = offset, local
        else:
            pos[idx] = pos[p] + np.einsum("tij,tj->ti", rot[p], offset)
            rot[idx] = rot[p] @ local
    return {j["name"]: pos[i] for i, j in enumerate(joints)}, 1.0 / frame_time


# Candidate BVH names per H36M joint (first match wins): CMU bvh11, then MotionBuilder naming.
_BVH_NAMES = {
    "pelvis": ["Hips"], "right_hip": ["RightHip", "RightUpLeg"], "right_knee": ["RightKnee", "RightLeg"],
    "right_ankle": ["RightAnkle", "RightFoot"], "left_hip": ["LeftHip", "LeftUpLeg"],
    "left_knee": ["LeftKnee", "LeftLeg"], "left_ankle": ["LeftAnkle", "LeftFoot"],
    "left_shoulder": ["LeftShoulder", "LeftArm"], "left_elbow": ["LeftElbow", "LeftForeArm"],
    "left_wrist": ["LeftWrist", "LeftHand"], "right_shoulder": ["RightShoulder", "RightArm"],
    "right_elbow": ["RightElbow", "RightForeArm"], "right_wrist": ["RightWrist", "RightHand"],
    "head": ["Head"], "head_end": ["Head_end"],
}


def _pick(positions: dict, key: str, path) -> np.ndarray:
    for n in _BVH_NAMES[key]:
        # bvh11 "LeftShoulder" is the upper-arm start, MotionBuilder "LeftShoulder" the collar: prefer "Arm".
        if key.endswith("shoulder") and n.endswith("Shoulder") and n.replace("Shoulder", "Arm") in positions:
            continue
        if n in positions:
            return positions[n]
    raise UserError(f"{path}: BVH skeleton has no joint for {key} (looked for {_BVH_NAMES[key]})")


def skeleton_extras(pelvis, thorax, head_base, head_top, lsho, rsho) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spine, nose, head) for skeletons that lack them, placed as the COCO conversion sees them:
    spine halfway pelvis-thorax, head near the eyes, nose in front of the face."""
    up = head_top - head_base
    up /= np.linalg.norm(up, axis=-1, keepdims=True) + 1e-9
    across = lsho - rsho
    fwd = np.cross(across, up)  # Y-up, right-handed: left x up points forward
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True) + 1e-9
    torso = np.linalg.norm(thorax - pelvis, axis=-1, keepdims=True)  # ~0.45 m; head offsets scale with it
    head = head_base + 0.30 * torso * up + 0.20 * torso * fwd
    nose = head_base + 0.12 * torso * up + 0.28 * torso * fwd
    return (pelvis + thorax) / 2, nose, head


def to_detector_joints(j: np.ndarray) -> np.ndarray:
    """H36M-17 [T, 17, 3] with a mocap skeleton's neck and head top -> the joints a 2D detector gives after
    `coco_to_h36m`: pelvis = mid hips, thorax = mid shoulders, spine between them, head near the eyes and the
    nose in front of the face. Clips that already follow these definitions come back unchanged.

    The face points sit at fixed fractions of the neck -> head-top vector L (eyes 62% up it and 25% of |L|
    forward, nose tip 50% up and 40% forward), which puts them where the Bandai clips (made from the
    detector's definitions) have them relative to the shoulders."""
    out = np.array(j, np.float32, copy=True)
    pelvis = (j[:, 1] + j[:, 4]) / 2
    thorax = (j[:, 11] + j[:, 14]) / 2
    if np.abs(j[:, 8] - thorax).max() < 1e-3 and np.abs(j[:, 0] - pelvis).max() < 1e-3:
        return out
    neck, L = j[:, 8], j[:, 10] - j[:, 8]
    fwd = np.cross(j[:, 11] - j[:, 14], L)  # Y-up, right-handed: left x up points forward
    fwd *= np.linalg.norm(L, axis=-1, keepdims=True) / (np.linalg.norm(fwd, axis=-1, keepdims=True) + 1e-9)
    out[:, 0], out[:, 7], out[:, 8] = pelvis, (pelvis + thorax) / 2, thorax
    out[:, 9] = neck + 0.50 * L + 0.40 * fwd
    out[:, 10] = neck + 0.62 * L + 0.25 * fwd
    return out


def joint_definitions(j: np.ndarray) -> str:
    """What a clip's H36M-17 joints [T, 17, 3] are: 'detector' when the thorax is mid-shoulders and the pelvis
    mid-hips (the definitions YOLO + coco_to_h36m give: Bandai, our BVH reader), else 'mocap' (a mocap
    skeleton's neck base and head top: DeepMimic, HumanEva). Human3.6M's own files are tagged 'h36m' by
    read_npz, from their `source`."""
    pelvis, thorax = (j[:, 1] + j[:, 4]) / 2, (j[:, 11] + j[:, 14]) / 2
    if np.abs(j[:, 8] - thorax).max() < 1e-3 and np.abs(j[:, 0] - pelvis).max() < 1e-3:
        return "detector"
    return "mocap"


def target_mask(definitions: str) -> list[int]:
    """H36M-17 joints a clip with these definitions does not give the Human3.6M way, to leave out of a loss
    scored on Human3.6M's joints: a detector-defined clip's spine, thorax, nose and head (mid-shoulders, face
    points); a mocap skeleton's nose (made up from the neck and head top by our readers)."""
    return {"h36m": [], "mocap": [9], "detector": [7, 8, 9, 10]}[definitions]


def read_bvh(path: str | Path) -> Motion:
    pos, fps = read_bvh_positions(path)
    g = {k: _pick(pos, k, path) for k in _BVH_NAMES}
    thorax = (g["left_shoulder"] + g["right_shoulder"]) / 2
    spine, nose, head = skeleton_extras(g["pelvis"], thorax, g["head"], g["head_end"], g["left_shoulder"],
                                        g["right_shoulder"])
    order = [g["pelvis"], g["right_hip"], g["right_knee"], g["right_ankle"], g["left_hip"], g["left_knee"],
             g["left_ankle"], spine, thorax, nose, head, g["left_shoulder"], g["left_elbow"], g["left_wrist"],
             g["right_shoulder"], g["right_elbow"], g["right_wrist"]]
    joints = np.stack(order, axis=1) * CMU_TO_METRES
    return Motion(joints.astype(np.float32), fps, Path(path).stem, {"source": "bvh", "joints": "detector"})


# ------------------------------------------------------------------------------------------ npz formats

HUMANEVA_JOINTS = ["pelvis", "thorax", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
                   "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "head"]
# H36M-17 index of each HumanEva-15 joint (for evaluation on the 15 real joints).
H36M_OF_HUMANEVA = [0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10]


def humaneva_to_h36m(x: np.ndarray) -> np.ndarray:
    """HumanEva-15 [..., 15, C] -> H36M-17 [..., 17, C]; spine and nose are interpolated."""
    y = np.zeros(x.shape[:-2] + (17, x.shape[-1]), dtype=np.float32)
    for he, h36 in enumerate(H36M_OF_HUMANEVA):
        y[..., h36, :] = x[..., he, :]
    y[..., 7, :] = (x[..., 0, :] + x[..., 1, :]) / 2
    y[..., 9, :] = x[..., 1, :] + 0.5 * (x[..., 14, :] - x[..., 1, :])
    return y


def zup_to_yup(x: np.ndarray) -> np.ndarray:
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def quat_to_matrix(q) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> rotation matrix [3, 3]."""
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def humaneva_intrinsics(table: dict | None, cam: int) -> tuple[float | None, tuple[float, float] | None]:
    """HumanEva intrinsics json: {'C1': {fx, fy, cx, cy, ...}, ...} -> (focal px, principal point) or Nones."""
    c = (table or {}).get(f"C{cam + 1}")
    if c is None:
        return None, None
    return (float(c["fx"]) + float(c["fy"])) / 2, (float(c["cx"]), float(c["cy"]))


def humaneva_extrinsics(e: dict) -> tuple[np.ndarray, np.ndarray]:
    """One HumanEva camera's extrinsics json entry -> (R: camera axes in the z-up world, i.e. camera -> world;
    centre t in metres). The file's convention: X_cam = R^T (X_world - t), t given in mm."""
    return quat_to_matrix(e["orientation"]), np.asarray(e["translation"], float) / 1000.0


def humaneva_camera_frame(world_zup: np.ndarray, e: dict) -> np.ndarray:
    """HumanEva world points [..., 3] (z up, metres) -> that camera's frame (metres)."""
    R, t = humaneva_extrinsics(e)
    return (world_zup - t) @ R


def humaneva_cameras(folder: Path, subject: str) -> list | None:
    """The subject's real cameras (camera.Camera, Y-up world) from the HumanEva json files beside the data."""
    cams = load_humaneva_cameras(folder)
    if cams is None:
        return None
    ext = cams["extrinsics"].get(subject.split("/")[-1])
    if not ext:
        return None
    out = []
    for k, e in enumerate(ext):
        f, c = humaneva_intrinsics(cams["intrinsics"], k)
        if f is None:
            continue
        R, t = humaneva_extrinsics(e)                   # camera -> world (z-up), centre
        # Our Y-up world is (x, z, -y) of theirs: fold that change of axes into R and the camera centre.
        A = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # y-up -> z-up
        out.append(Camera(R=A.T @ R, centre=zup_to_yup(t), f=f, c=c))
    return out or None


def read_videopose3d(path: str | Path, subjects: list[str] | None = None, fps: float | None = None) -> list[Motion]:
    """VideoPose3D `data_3d_*.npz` ({'positions_3d': {subject: {action: [T, J, 3]}}}, z up, metres).
    When the HumanEva camera files lie beside it, each clip carries its subject's real cameras."""
    d = np.load(path, allow_pickle=True)
    if "positions_3d" not in d:
        raise UserError(f"{path} is not a VideoPose3D 3D file (no 'positions_3d')")
    pos = d["positions_3d"].item()
    fps = fps or (60.0 if "humaneva" in Path(path).name.lower() else 50.0)
    out = []
    for subject, actions in pos.items():
        if subjects and not any(subject == s or subject.startswith(s.rstrip("*")) for s in subjects):
            continue
        for action, arr in actions.items():
            arr = np.asarray(arr, np.float32)
            if arr.shape[1] == 15:
                arr = humaneva_to_h36m(arr)
            elif arr.shape[1] == 32:  # full H36M skeleton -> the 17 MotionBERT uses
                arr = arr[:, [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]]
            elif arr.shape[1] != 17:
                raise UserError(f"{path}: {subject}/{action} has {arr.shape[1]} joints; expected 15, 17 or 32")
            defs = "h36m" if np.asarray(pos[subject][action]).shape[1] in (17, 32) else "mocap"
            out.append(Motion(zup_to_yup(arr), fps, f"{subject}/{action}",
                              {"subject": subject, "action": action, "joints": defs,
                               "cameras": humaneva_cameras(Path(path).parent, subject)}))
    return out


def read_npz(path: str | Path) -> Motion:
    d = np.load(path, allow_pickle=False)
    if "joints3d" not in d:
        raise UserError(f"{path}: expected an array 'joints3d' [T, 17, 3] (metres, Y up) and 'fps'")
    j = np.asarray(d["joints3d"], np.float32)
    if j.ndim != 3 or j.shape[1:] != (17, 3):
        raise UserError(f"{path}: joints3d has shape {list(j.shape)}, expected [T, 17, 3]")
    up = str(d["up_axis"]) if "up_axis" in d else "y"
    if up.lower() == "z":
        j = zup_to_yup(j)
    source = str(d["source"]) if "source" in d else ""
    defs = "h36m" if "Human3.6M" in source else joint_definitions(j)
    return Motion(j, float(d["fps"]) if "fps" in d else 30.0, Path(path).stem, {"source": "npz", "joints": defs})


def read_mb3d_folder(path: str | Path, split: str = "train") -> list[PairedClip]:
    """MotionBERT's preprocessed clips: <path>/<split>/*.pkl with data_input [243,17,3], data_label [243,17,3]."""
    files = sorted((Path(path) / split).glob("*.pkl"))
    clips = []
    for f in files:
        with open(f, "rb") as fh:
            d = pickle.load(fh)
        clips.append(PairedClip(np.asarray(d["data_input"], np.float32), np.asarray(d["data_label"], np.float32),
                                f.stem))
    return clips


def load_training_data(paths: list[str | Path], humaneva_subjects: tuple[str, ...] = ("Train/",)) -> tuple[list[Motion], list[PairedClip]]:
    """Every supported file under `paths` (files or folders, searched recursively)."""
    motions: list[Motion] = []
    paired: list[PairedClip] = []
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise UserError(f"training data not found: {p}")
        if p.is_dir() and (p / "train").is_dir() and list((p / "train").glob("*.pkl")):
            paired += read_mb3d_folder(p, "train")
            continue
        files += sorted(p.rglob("*")) if p.is_dir() else [p]
    for f in files:
        name = f.name.lower()
        if name.endswith(".bvh"):
            motions.append(read_bvh(f))
        elif name.endswith(".npz"):
            with np.load(f, allow_pickle=True) as d:
                keys = set(d.files)
            if "positions_3d" in keys:
                motions += read_videopose3d(f, list(humaneva_subjects))
            elif "joints3d" in keys:
                motions.append(read_npz(f))
            # other npz files (2D detections, metadata) are not motion: skip them
    if not motions and not paired:
        raise UserError(f"no training motion found in {', '.join(map(str, paths))}: expected .bvh, .npz "
                        f"(joints3d or VideoPose3D positions_3d) or MotionBERT MB3D clip folders")
    return motions, paired


# Human3.6M's training subjects: their cameras may be used to make training 2D (S9 and S11 are its test subjects).
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")


def load_h36m_cameras(path: str | Path, subjects: tuple[str, ...] = H36M_TRAIN_SUBJECTS) -> list[Camera]:
    """Human3.6M's calibrated cameras (`cameras.pkl`: {(subject, serial): {R, T, f, c, ...}}) in our Y-up world.

    The file's convention is X_cam = R^T (X_world - T) (world Z up, metres; R's columns are the camera axes),
    so in the Y-up world (x, z, -y) the camera is Camera(R = A R, centre = A T). The four cameras stand 4-5.5 m
    from the capture area's centre, 1.5-1.6 m high, pitched 11-16 degrees down, f ~1147 px on 1000x1000 frames.
    Distortion (k1 ~ -0.2) is left out: the lifter is fed undistorted-looking 2D either way."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"camera file not found: {p}")
    with open(p, "rb") as fh:
        table = pickle.load(fh)
    A = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # z-up -> y-up
    out = []
    for (subject, _serial), c in sorted(table.items()):
        if subject not in subjects:
            continue
        R, T = np.asarray(c["R"], float), np.asarray(c["T"], float).ravel()
        out.append(Camera(R=A @ R, centre=A @ T, f=float(np.mean(c["f"])), c=tuple(np.ravel(c["c"]).astype(float))))
    if not out:
        raise UserError(f"{p} holds no camera of the subjects {', '.join(subjects)}")
    return out


def load_humaneva_cameras(folder: str | Path) -> dict | None:
    """HumanEva camera parameters from humaneva_camera_extrinsics.json + humaneva_fitted_intrinsics.json."""
    folder = Path(folder)
    ext, intr = folder / "humaneva_camera_extrinsics.json", folder / "humaneva_fitted_intrinsics.json"
    if not (ext.is_file() and intr.is_file()):
        return None
    return {"extrinsics": json.loads(ext.read_text()), "intrinsics": json.loads(intr.read_text())}
