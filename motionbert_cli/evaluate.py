"""Evaluation the way the field reports it: MPJPE, N-MPJPE (scale-aligned) and P-MPJPE (Procrustes), in mm.

`evaluate_videopose3d` runs a pose3d model over VideoPose3D-format data (HumanEva-15 or H36M-17), per camera,
with the 2D from the file (ground truth or detections) or projected from the 3D, and reports per action.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .camera import Camera, look_at, orbit_eye, to_pixels, unproject
from .errors import UserError
from .lift import lift_sequence
from .mocap import (H36M_OF_HUMANEVA, humaneva_camera_frame, humaneva_intrinsics, humaneva_to_h36m,
                    load_humaneva_cameras, read_npz)


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


def _extrinsics(table: dict | None, subject: str, cam: int):
    """HumanEva extrinsics json: {'S1': [ {orientation, translation}, ... per camera ]}."""
    cams = (table or {}).get(subject.split("/")[-1])
    return cams[cam] if isinstance(cams, list) and cam < len(cams) else None


@dataclass
class EvalView:
    """One sequence seen by one camera, ready to lift and score."""

    subject: str
    action: str                 # base action name ('Walking 1' -> 'Walking')
    camera: int
    kp: np.ndarray              # [T, 17, 3] H36M pixels + confidence
    gt: np.ndarray              # [T, J, 3] metres, the file's joints; camera frame when extrinsics are known
    focal: float | None         # pixels; None without extrinsics and intrinsics
    centre: tuple[float, float] | None


def videopose3d_views(data3d: str | Path, data2d: str | Path | None = None, *, subjects: list[str] | None = None,
                      actions: list[str] | None = None, cameras: list[int] | None = None) -> Iterator[EvalView]:
    """The sequences x cameras of VideoPose3D-format data (HumanEva-15 or H36M-17) that match the filters.

    subjects: names or prefixes ('Validate/' or 'Validate/*'); actions: base names. The HumanEva camera json
    files next to the data, when present, put the ground truth in each camera's frame.
    """
    data3d = Path(data3d)
    if not data3d.is_file():
        raise UserError(f"evaluation data not found: {data3d}")
    pos3d = np.load(data3d, allow_pickle=True)["positions_3d"].item()
    pos2d = np.load(data2d, allow_pickle=True)["positions_2d"].item() if data2d else None
    cams = load_humaneva_cameras(data3d.parent) or {}
    ext_table, int_table = cams.get("extrinsics"), cams.get("intrinsics")
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
                    kp = humaneva_to_h36m(kp).astype(np.float64)
                if kp.shape[-1] == 2:
                    kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1)
                ext = _extrinsics(ext_table, subject, cam)
                focal, centre = humaneva_intrinsics(int_table, cam) if ext is not None else (None, None)
                yield EvalView(subject, base, cam, kp, humaneva_camera_frame(gtw, ext) if ext is not None else gtw,
                               focal, centre)


def evaluate_videopose3d(model, data3d: str | Path, data2d: str | Path | None = None, *,
                         subjects: list[str] | None = None, actions: list[str] | None = None,
                         cameras: list[int] | None = None, flip: bool = True, precision: str = "fp32",
                         progress=None) -> dict:
    """Evaluate a pose3d model on VideoPose3D-format data.

    Returns {'overall': {mpjpe?, n_mpjpe, p_mpjpe, frames}, 'per_action': {action: {...}}} in mm. With camera
    parameters (the HumanEva json files next to the data) the network's pixel output is unprojected through
    the camera (camera.unproject, as pose3d's metric outputs are) and, for MPJPE, scaled to metres with the
    ground-truth root depth, as MotionBERT's own H36M evaluation does; without them the pixel output is
    compared as it is (P-MPJPE, N-MPJPE only).
    """

    sums = defaultdict(lambda: defaultdict(float))
    for v in videopose3d_views(data3d, data2d, subjects=subjects, actions=actions, cameras=cameras):
        pred = lift_sequence(model, v.kp, flip=flip, precision=precision, pixels=True)  # as the CLI lifts
        if v.focal is not None:  # the perspective undone through the camera, as pose3d's metric outputs are
            pred = unproject(pred, v.focal, v.centre)
        pred_j = pred[:, H36M_OF_HUMANEVA] if v.gt.shape[1] == 15 else pred
        gt_rel = (v.gt - v.gt[:, :1]) * 1000.0
        pred_rel = pred_j - pred_j[:, :1]
        if v.focal is not None:
            # pixels at the root's distance -> metres at the true root depth
            metric = pred_rel * v.gt[:, 0, 2][:, None, None] / v.focal * 1000.0
            sums[v.action]["mpjpe"] += mpjpe(metric, gt_rel).sum()
        sums[v.action]["n_mpjpe"] += n_mpjpe(pred_rel, gt_rel).sum()
        sums[v.action]["p_mpjpe"] += p_mpjpe(pred_rel, gt_rel).sum()
        sums[v.action]["frames"] += len(v.kp)
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


def _metrics(pred_rel: np.ndarray, gt_rel_mm: np.ndarray, metric_pred_mm: np.ndarray | None = None) -> dict:
    out = {"n_mpjpe": float(n_mpjpe(pred_rel, gt_rel_mm).mean()), "p_mpjpe": float(p_mpjpe(pred_rel, gt_rel_mm).mean()),
           "frames": int(len(gt_rel_mm))}
    if metric_pred_mm is not None:
        out["mpjpe"] = float(mpjpe(metric_pred_mm, gt_rel_mm).mean())
    return out


def evaluate_h36m_frames(model, path: str | Path, flip: bool = True) -> dict:
    """mmpose-style H36M samples: 'S' [N, 17, 3|4] camera-frame metres, 'part' [N, 17, 3] pixels (+ visibility).

    Each sample is lifted on its own (T = 1); MPJPE uses the ground-truth root depth and a focal length of
    1145 px (H36M's cameras are 1145-1150)."""

    d = np.load(path, allow_pickle=True)
    S, part = np.asarray(d["S"], np.float64)[..., :3], np.asarray(d["part"], np.float64)
    preds, metric = [], []
    for s, p in zip(S, part):
        p = p.copy()
        p[:, 2] = np.where(p[:, 2] > 0, 1.0, 0.0)
        y = lift_sequence(model, p[None], flip=flip, pixels=True)[0]
        rel = y - y[:1]
        preds.append(rel)
        metric.append(rel * s[0, 2] / 1145.0 * 1000.0)
    gt = (S - S[:, :1]) * 1000.0
    res = _metrics(np.stack(preds), gt, np.stack(metric))
    return {"overall": res, "per_action": {"h36m frames": res}}


def evaluate_motion_npz(model, path: str | Path, flip: bool = True, n_views: int = 4) -> dict:
    """Our npz (joints3d [T, 17, 3] metres, Y up): seen by `n_views` fixed virtual cameras around the person
    (5 m away, 10 degrees up); 2D projected exactly, so this measures lifting alone."""

    m = read_npz(path)
    j = m.joints.astype(np.float64)
    centre = j[:, 0].mean(0)
    rows = []
    for k in range(n_views):
        az, el = 2 * np.pi * k / n_views, np.deg2rad(10)
        eye = orbit_eye(centre, az, el, 5.0)
        cam = Camera(R=look_at(eye, centre).T, centre=eye, f=1000.0, c=(500.0, 500.0))
        cam_j = (j - cam.centre) @ cam.R
        uv, _ = to_pixels(cam_j, cam.f, cam.c)
        kp = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1)
        y = unproject(lift_sequence(model, kp, flip=flip, pixels=True), cam.f, cam.c)
        rel = y - y[:, :1]
        gt = (cam_j - cam_j[:, :1]) * 1000.0
        rows.append(_metrics(rel, gt, rel * cam_j[:, :1, 2:3] / cam.f * 1000.0))
    frames = sum(r["frames"] for r in rows)
    overall = {k: float(sum(r[k] * r["frames"] for r in rows) / frames) for k in ("mpjpe", "n_mpjpe", "p_mpjpe")}
    overall["frames"] = frames
    return {"overall": overall, "per_action": {m.name: overall}}


def evaluate_file(model, data: str | Path, data2d: str | Path | None = None, **kw) -> dict:
    """Dispatch on the file's content: VideoPose3D (positions_3d), H36M frames (S + part) or our npz (joints3d)."""
    data = Path(data)
    if not data.is_file():
        raise UserError(f"evaluation data not found: {data}")
    with np.load(data, allow_pickle=True) as d:
        keys = set(d.files)
    if "positions_3d" in keys:
        return evaluate_videopose3d(model, data, data2d, **kw)
    if {"S", "part"} <= keys:
        return evaluate_h36m_frames(model, data, flip=kw.get("flip", True))
    if "joints3d" in keys:
        return evaluate_motion_npz(model, data, flip=kw.get("flip", True))
    raise UserError(f"{data}: unrecognised evaluation data (expected VideoPose3D 'positions_3d', H36M 'S'+'part', "
                    f"or our 'joints3d')")
