"""Evaluation the way the field reports it: MPJPE, N-MPJPE (scale-aligned) and P-MPJPE (Procrustes), in mm.

`evaluate_videopose3d` runs a pose3d model over VideoPose3D-format data (HumanEva-15 or H36M-17), per camera,
with the 2D from the file (ground truth or detections) or projected from the 3D, and reports per action.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .errors import UserError
from .keypoints import crop_box, apply_crop
from .mocap import H36M_OF_HUMANEVA, humaneva_to_h36m


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Mean per-joint position error per frame. pred, gt [N, J, 3] -> [N]."""
    return np.linalg.norm(pred - gt, axis=-1).mean(-1)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """MPJPE after the least-squares scale of pred to gt (per frame), both root-centred by the caller."""
    s = (pred * gt).sum((-1, -2), keepdims=True) / np.maximum((pred * pred).sum((-1, -2), keepdims=True), 1e-12)
    return mpjpe(pred * s, gt)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity transform (rotation, scale, translation) of each pred frame onto gt. [N, J, 3] -> [N, J, 3]."""
    mu_p, mu_g = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    norm_p = np.sqrt((p ** 2).sum((1, 2), keepdims=True))
    norm_g = np.sqrt((g ** 2).sum((1, 2), keepdims=True))
    p, g = p / np.maximum(norm_p, 1e-12), g / np.maximum(norm_g, 1e-12)
    H = np.einsum("nji,njk->nik", p, g)
    U, S, Vt = np.linalg.svd(H)
    V = Vt.transpose(0, 2, 1)
    R = V @ U.transpose(0, 2, 1)
    # Reflection fix: flip the last singular direction where det(R) < 0.
    sign = np.sign(np.linalg.det(R))[:, None]
    V[:, :, -1] *= sign
    S[:, -1] *= sign[:, 0]
    R = V @ U.transpose(0, 2, 1)
    scale = S.sum(-1)[:, None, None] * norm_g / np.maximum(norm_p, 1e-12)
    return scale * np.einsum("nij,nkj->nki", R, p * norm_p) + mu_g


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return mpjpe(procrustes_align(pred, gt), gt)


def _quat_to_matrix(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _camera_frame(world_zup: np.ndarray, ext: dict) -> np.ndarray:
    """HumanEva world (z up, metres) -> camera frame (metres): X_cam = R^T (X - t), t given in mm."""
    R = _quat_to_matrix(ext["orientation"])
    t = np.asarray(ext["translation"], float) / 1000.0
    return (world_zup - t) @ R


def _load_cameras(folder: Path):
    ext_f, int_f = folder / "humaneva_camera_extrinsics.json", folder / "humaneva_fitted_intrinsics.json"
    if not (ext_f.is_file() and int_f.is_file()):
        return None, None
    return json.loads(ext_f.read_text()), json.loads(int_f.read_text())


def _extrinsics(table: dict | None, subject: str, cam: int):
    """HumanEva extrinsics json: {'S1': [ {orientation, translation}, ... per camera ]}."""
    cams = (table or {}).get(subject.split("/")[-1])
    return cams[cam] if isinstance(cams, list) and cam < len(cams) else None


def _focal(table: dict | None, cam: int) -> float | None:
    """HumanEva intrinsics json: {'C1': {fx, fy, ...}, ...}."""
    c = (table or {}).get(f"C{cam + 1}")
    return None if c is None else (float(c["fx"]) + float(c["fy"])) / 2


def evaluate_videopose3d(model, data3d: str | Path, data2d: str | Path | None = None, *,
                         subjects: list[str] | None = None, actions: list[str] | None = None,
                         cameras: list[int] | None = None, flip: bool = True, precision: str = "fp32",
                         progress=None) -> dict:
    """Evaluate a pose3d model on VideoPose3D-format data.

    Returns {'overall': {mpjpe?, n_mpjpe, p_mpjpe, frames}, 'per_action': {action: {...}}} in mm. MPJPE needs
    camera parameters (the HumanEva json files next to the data): the network's output is scaled to metres
    with the ground-truth root depth, as MotionBERT's own H36M evaluation does.
    """
    from .lift import lift_sequence

    data3d = Path(data3d)
    if not data3d.is_file():
        raise UserError(f"evaluation data not found: {data3d}")
    pos3d = np.load(data3d, allow_pickle=True)["positions_3d"].item()
    pos2d = None
    if data2d:
        pos2d = np.load(data2d, allow_pickle=True)["positions_2d"].item()
    ext_table, int_table = _load_cameras(data3d.parent)
    sums = defaultdict(lambda: defaultdict(float))
    for subject in sorted(pos3d):
        if subjects and not any(subject == s or subject.startswith(s.rstrip("*")) for s in subjects):
            continue
        for action in sorted(pos3d[subject]):
            base = action.split(" ")[0]
            if actions and base not in actions:
                continue
            gt_world = np.asarray(pos3d[subject][action], np.float64)
            n_cams = len(pos2d[subject][action]) if pos2d else 3
            for cam in range(n_cams):
                if cameras is not None and cam not in cameras:
                    continue
                if pos2d is None:
                    raise UserError("projecting 2D from 3D needs data_2d; pass --data-2d")
                kp = np.asarray(pos2d[subject][action][cam], np.float64)
                T = min(len(kp), len(gt_world))
                if T < 2:
                    continue
                kp, gtw = kp[:T], gt_world[:T]
                if kp.shape[1] == 15:
                    kp = humaneva_to_h36m(kp)
                if kp.shape[-1] == 2:
                    kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1)
                box = crop_box(kp)
                x = apply_crop(kp, box)
                pred = lift_sequence(model, x, flip=flip, precision=precision)
                if gtw.shape[1] == 15:
                    pred_j = pred[:, H36M_OF_HUMANEVA]
                    root_idx = 0
                else:
                    pred_j, root_idx = pred, 0
                ext = _extrinsics(ext_table, subject, cam)
                gt_cam = _camera_frame(gtw, ext) if ext is not None else gtw
                gt_rel = (gt_cam - gt_cam[:, root_idx:root_idx + 1]) * 1000.0
                pred_rel = pred_j - pred_j[:, root_idx:root_idx + 1]
                f = _focal(int_table, cam)
                if ext is not None and f is not None:
                    # network units -> pixels (undo the box) -> metres at the true root depth
                    px = pred_rel * box[2] / 2
                    metric = px * gt_cam[:, root_idx, 2][:, None, None] / f * 1000.0
                    sums[base]["mpjpe"] += mpjpe(metric, gt_rel).sum()
                sums[base]["n_mpjpe"] += n_mpjpe(pred_rel, gt_rel).sum()
                sums[base]["p_mpjpe"] += p_mpjpe(pred_rel, gt_rel).sum()
                sums[base]["frames"] += T
                if progress:
                    progress(1)
    if not sums:
        raise UserError(f"no sequences matched subjects={subjects} actions={actions} in {data3d}")
    per_action = {a: {k: (v / s["frames"] if k != "frames" else int(v)) for k, v in s.items()}
                  for a, s in sums.items()}
    total = defaultdict(float)
    for s in sums.values():
        for k, v in s.items():
            total[k] += v
    overall = {k: (v / total["frames"] if k != "frames" else int(v)) for k, v in total.items()}
    # HumanEva papers average the per-action numbers; report that too.
    overall["p_mpjpe_action_mean"] = float(np.mean([v["p_mpjpe"] for v in per_action.values()]))
    return {"overall": overall, "per_action": per_action}
