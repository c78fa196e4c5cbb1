"""Which --smooth to use: accuracy and smoothness of each filter, against ground truth and on real footage.

HumanEva Validate (Walking/Jog/Box, 3 cameras, 60 fps) is lifted twice: from its ground-truth 2D and from
that 2D with detector-like errors added (synth.detector_noise with the errors measured on real YOLO
keypoints, benchmarks/bench_2d_noise.py). Each filter is applied to the lifted 3D as pose3d applies it (to the
pixel output, which is then unprojected through the camera); we
report P-MPJPE and the acceleration error against the ground truth (mean |a_pred - a_gt| per joint,
mm/frame^2, the prediction scaled to mm at the true root depth). On the pose2sim clip (4 calibrated views,
real detections), the mean acceleration of the prediction and its P-MPJPE against the filtered triangulation
(bench_multiview).

    python benchmarks/bench_smoothing.py [--checkpoint PATH] [--shared ../shared] [--no-real]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from bench_multiview import BODY, associate, lift_views, read_qca, smooth_reference, to_camera, triangulate
from motionbert_cli.camera import default_intrinsics, unproject
from motionbert_cli.checkpoint import load_model
from motionbert_cli.evaluate import p_mpjpe, videopose3d_views
from motionbert_cli.filters import smooth
from motionbert_cli.lift import lift_sequence
from motionbert_cli.mocap import H36M_OF_HUMANEVA
from motionbert_cli.synth import AugmentConfig, detector_noise

ROOT = Path(__file__).resolve().parent.parent
FILTERS = [("none", {}), ("butterworth", {"cutoff": 6.0}), ("butterworth", {"cutoff": 3.0}),
           ("one-euro", {"min_cutoff": 1.0, "beta": 5.0})]


def accel(x: np.ndarray) -> np.ndarray:
    return x[2:] - 2 * x[1:-1] + x[:-2]


def name(method, kw):
    return method + "".join(f" {k}={v:g}" for k, v in kw.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--no-real", action="store_true", help="skip the pose2sim clip (detection takes ~1 min)")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    he = Path(args.shared) / "data/eval/humaneva"
    model = load_model(args.checkpoint)  # None: the shipped model
    aug = AugmentConfig(drift_px=0.015, burst_p=0.006)
    rng = np.random.default_rng(0)
    res = {(src, name(m, kw)): ([], []) for src in ("GT 2D", "noisy 2D") for m, kw in FILTERS}
    for v in videopose3d_views(he / "data_3d_humaneva15.npz", he / "data_2d_humaneva15_gt.npz",
                               subjects=["Validate/"], actions=["Walking", "Jog", "Box"]):
        gt = (v.gt - v.gt[:, :1]) * 1000
        to_mm = v.gt[:, :1, 2:3] / v.focal * 1000
        noisy = v.kp.copy()
        noisy[..., :2], noisy[..., 2:] = detector_noise(v.kp[..., :2], rng, aug)
        height = np.median(np.ptp(v.kp[..., 1], axis=1))
        for src, kp in (("GT 2D", v.kp), ("noisy 2D", noisy)):
            y = lift_sequence(model, kp, pixels=True)
            for m, kw in FILTERS:
                ys = smooth(y, m, 60.0, scale=height, **kw)
                ys = unproject(ys, v.focal, v.centre)
                rel = (ys - ys[:, :1])[:, H36M_OF_HUMANEVA]
                pe, ae = res[(src, name(m, kw))]
                pe.append(p_mpjpe(rel, gt))
                ae.append(np.linalg.norm(accel(rel * to_mm) - accel(gt), axis=-1).mean(-1))
    print(f"{Path(model.source).name}: HumanEva Validate (Walking/Jog/Box, 3 cameras, 60 fps)")
    print("| 2D | filter | P-MPJPE (mm) | accel. error (mm/frame^2) |")
    print("|---|---|---|---|")
    for (src, f), (pe, ae) in res.items():
        print(f"| {src} | {f} | {np.concatenate(pe).mean():.1f} | {np.concatenate(ae).mean():.2f} |")
    if args.no_real:
        return
    folder = Path(args.shared) / "data/videos/pose2sim_single"
    calib = read_qca(folder / "Calib.qca.txt")
    serials = sorted(calib)
    out = lift_views(folder, serials, args.checkpoint, Console(stderr=True), smooth="none")  # filtered below
    T = min(r["keypoints2d"].shape[1] for r in out.values())
    views = [[np.where(np.isfinite(k), k, 0.0) for k in out[s]["keypoints2d"][:, :T]] for s in serials]
    choice = associate(views, [calib[s] for s in serials])[0]
    used = [(s, i) for s, i in zip(serials, choice) if i is not None]
    ref = smooth_reference(triangulate([views[serials.index(s)][i] for s, i in used], [calib[s] for s, _ in used]),
                           out[used[0][0]]["fps"])
    print("\npose2sim_single, 4 views (real detections, 60 fps)")
    print("| filter | P-MPJPE (mm) | accel. pred (mm/frame^2) | accel. ref |")
    print("|---|---|---|---|")
    for m, kw in FILTERS:
        pes, acs, acr = [], [], []
        for s, i in used:
            pix, kp = out[s]["joints3d_pixels"][i][:T], out[s]["keypoints2d"][i][:T]
            height = np.nanmedian(np.ptp(np.where(kp[..., 2:] > 0, kp[..., 1:2], np.nan), axis=1))
            ys = unproject(smooth(pix, m, out[s]["fps"], scale=height, **kw), *default_intrinsics(out[s]["size"]))
            ref_c = to_camera(ref, calib[s])
            gt = (ref_c - ref_c[:, :1])[:, BODY] * 1000
            pr = (ys - ys[:, :1])[:, BODY]
            good = np.isfinite(gt).all((-1, -2)) & np.isfinite(pr).all((-1, -2))
            pes.append(p_mpjpe(pr[good], gt[good]).mean())
            scale = (pr[good] * gt[good]).sum() / (pr[good] ** 2).sum()
            acs.append(np.nanmean(np.linalg.norm(accel(np.where(good[:, None, None], pr * scale, np.nan)), axis=-1)))
            acr.append(np.nanmean(np.linalg.norm(accel(np.where(good[:, None, None], gt, np.nan)), axis=-1)))
        print(f"| {name(m, kw)} | {np.mean(pes):.1f} | {np.mean(acs):.2f} | {np.mean(acr):.2f} |")


if __name__ == "__main__":
    main()
