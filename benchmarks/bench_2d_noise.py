"""How far real YOLO keypoints lie from where the joints are: the numbers behind synth's detector-noise model.

The pose2sim clip is seen by four calibrated cameras; our detections (H36M order, after coco_to_h36m) are
triangulated robustly (bench_multiview.triangulate) and projected back into each view. The residual, as a
fraction of the person's height in that view, is what a detector adds to the true 2D (an underestimate: the
triangulation is fitted to the same detections). Printed per joint: median and 90th percentile of its length,
lag-1 autocorrelation of its x component (near 1: a slowly drifting bias; near 0: jitter), mean confidence.

    python benchmarks/bench_2d_noise.py [--shared ../shared] [--clip pose2sim_single]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console

from bench_multiview import project, read_qca, to_camera, triangulate
from motionbert_cli.keypoints import H36M_JOINTS
from motionbert_cli.pipeline import Pose3dOptions, run_pose3d

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--clip", default="pose2sim_single")
    args = ap.parse_args()
    folder = Path(args.shared) / "data/videos" / args.clip
    calib = read_qca(folder / "Calib.qca.txt")
    serials = sorted(calib)
    kps = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in serials:
            out = Path(tmp) / s
            run_pose3d(Pose3dOptions(video=folder / f"{s}.mp4", out=out, render=False), Console(stderr=True))
            k = np.load(out / "motion.npz")["keypoints2d"][0].astype(np.float64)
            kps.append(np.where(np.isfinite(k), k, 0.0))
    T = min(len(k) for k in kps)
    kps = [k[:T] for k in kps]
    ref = triangulate(kps, [calib[s] for s in serials])
    res, oks, confs = [], [], []
    for s, k in zip(serials, kps):
        uv = project(to_camera(ref, calib[s]), calib[s])
        height = np.nanmedian(np.ptp(uv[..., 1], axis=1))
        res.append((k[..., :2] - uv) / height)
        oks.append(np.isfinite(uv).all(-1) & (k[..., 2] > 0.3))
        confs.append(k[..., 2])
    print(f"{args.clip}: {len(serials)} views x {T} frames; residual in % of the person's height")
    print("| joint | median | p90 | lag-1 autocorr. | mean conf. |")
    print("|---|---|---|---|---|")
    for j, name in enumerate(H36M_JOINTS):
        e = np.concatenate([np.linalg.norm(r[:, j], axis=-1)[m[:, j]] for r, m in zip(res, oks)])
        a, b = [], []
        for r, m in zip(res, oks):  # lag-1 pairs within each view
            both = m[:-1, j] & m[1:, j]
            a.append(r[:-1, j, 0][both])
            b.append(r[1:, j, 0][both])
        a, b = np.concatenate(a), np.concatenate(b)
        ac = np.corrcoef(a - a.mean(), b - b.mean())[0, 1]
        c = np.concatenate([cf[:, j][m[:, j]] for cf, m in zip(confs, oks)])
        print(f"| {name} | {100 * np.median(e):.2f} | {100 * np.percentile(e, 90):.2f} | {ac:.2f} | {c.mean():.2f} |")
    e = np.concatenate([np.linalg.norm(r, axis=-1)[m] for r, m in zip(res, oks)])
    print(f"| all | {100 * np.median(e):.2f} | {100 * np.percentile(e, 90):.2f} | | |")
    print(f"share of keypoints more than 5% of the height off: {100 * (e > 0.05).mean():.1f}%")


if __name__ == "__main__":
    main()
