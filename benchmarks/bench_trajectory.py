"""How well each way of placing the person in the camera recovers the true root trajectory.

HumanEva-I Validate (Walking, Jog, Box; 3 real cameras; ground-truth 2D): the pose3d lifter is run as the
CLI runs it, and the pelvis is placed in the camera frame by
  lifter         depth from the lifter's limb lengths in pixels (motionbert_cli.camera), average adult limbs;
  lifter+body    the same with the subject's true limb lengths (what `mesh` does with the SMPL body's size);
  2D fit         the old way: least-squares perspective fit of the metric body to the 2D keypoints per frame.
Each is also shown smoothed over 10, 30 and 60 frames (1/6, 1/2, 1 s at 60 fps; the lifter's depth as
`mesh` and `pose3d` smooth it, the 2D fit by a moving mean). Printed per method: root position error, its depth (z) and in-image
(x, y) parts, and jitter (mean change of the error from frame to frame), all in mm; and the z swing: per
sequence, the standard deviation of log(distance / true distance) in % (how far the distance wanders once a
constant error from the person's unknown size is taken out: what makes a body slide in a still scene).

    python benchmarks/bench_trajectory.py [--checkpoint PATH] [--shared ../shared]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from motionbert_cli import load_model
from motionbert_cli.camera import camera_joints, limb_lengths, root_trajectory
from motionbert_cli.evaluate import videopose3d_views
from motionbert_cli.lift import lift_sequence
from motionbert_cli.mocap import humaneva_to_h36m
from motionbert_cli.checkpoint import default_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def fit_translation(joints_m: np.ndarray, kp2d: np.ndarray, focal: float, centre) -> np.ndarray:
    """Per-frame linear least squares of u (Z + tz) = f (X + tx) (and v) for the translation. -> [T, 3]"""
    out = np.full((len(joints_m), 3), np.nan)
    for t in range(len(joints_m)):
        X, Y, Z = joints_m[t].T
        u, v = kp2d[t, :, 0] - centre[0], kp2d[t, :, 1] - centre[1]
        n = len(u)
        A = np.concatenate([np.stack([np.full(n, focal), np.zeros(n), -u], 1),
                            np.stack([np.zeros(n), np.full(n, focal), -v], 1)])
        b = np.concatenate([u * Z - focal * X, v * Z - focal * Y])
        out[t] = np.linalg.lstsq(A, b, rcond=None)[0]
    return out


def smooth(x: np.ndarray, k: int) -> np.ndarray:
    ker = np.ones(k) / k
    pad = np.pad(x, ((k // 2, k - 1 - k // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(pad[:, c], ker, "valid") for c in range(x.shape[1])], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    he = Path(args.shared) / "data/eval/humaneva"
    model = load_model(args.checkpoint or default_checkpoint(), task="pose3d")
    errs: dict[str, list] = {}
    swing: dict[str, list] = {}  # per sequence: spread of the distance's relative error once its mean is removed
    for v in videopose3d_views(he / "data_3d_humaneva15.npz", he / "data_2d_humaneva15_gt.npz",
                               subjects=["Validate/"], actions=["Walking", "Jog", "Box"]):
        kp, f, c = v.kp, v.focal, v.centre
        gt = humaneva_to_h36m(v.gt)
        pix = lift_sequence(model, kp, flip=True, pixels=True)
        body = np.nanmedian(limb_lengths(gt.astype(np.float64)), axis=0)
        root_gt = gt[:, 0]
        est = {"lifter": root_trajectory(pix, f, c), "lifter+body": root_trajectory(pix, f, c, body)}
        # 2D fit of the lifter's metric body (true size) to the 2D keypoints
        rel = camera_joints(pix, f, c, body)
        rel = rel - rel[:, :1]
        est["2D fit"] = fit_translation(rel, kp, f, c)
        # the depth smoothed as the CLI smooths it (log, local line; the CLI uses 1 s), the 2D fit by a moving mean
        for k in (10, 30, 60):  # 1/6, 1/2, 1 s
            est[f"lifter, {k} frames"] = root_trajectory(pix, f, c, smooth_frames=k)
            est[f"lifter+body, {k} frames"] = root_trajectory(pix, f, c, body, smooth_frames=k)
            est[f"2D fit, {k} frames"] = smooth(est["2D fit"], k)
        for name, r in est.items():
            e = (r - root_gt) * 1000
            errs.setdefault(name, []).append(
                np.stack([np.linalg.norm(e, axis=-1), e[:, 2], np.abs(e[:, 2]), np.linalg.norm(e[:, :2], axis=-1),
                          np.r_[np.linalg.norm(np.diff(e, axis=0), axis=-1), np.nan]], 1))
            swing.setdefault(name, []).append(100 * float(np.nanstd(np.log(r[:, 2] / root_gt[:, 2]))))
    print(f"HumanEva-I Validate, Walking+Jog+Box, 3 cameras, GT 2D ({sum(len(a) for a in errs['lifter'])} frames)")
    print(f"{'method':<28}{'root err':>10}{'z bias':>8}{'|z err|':>9}{'x,y':>8}{'jitter':>9}   (mm){'z swing':>9} (%)")
    for name, rows in errs.items():
        a = np.concatenate(rows)
        m = np.nanmean(a, axis=0)
        print(f"{name:<28}{m[0]:>10.1f}{m[1]:>+8.1f}{m[2]:>9.1f}{m[3]:>8.1f}{m[4]:>9.2f}{np.mean(swing[name]):>14.2f}")


if __name__ == "__main__":
    main()
