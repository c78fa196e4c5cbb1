"""What bf16 costs in accuracy and buys in speed, on real motion, for the shipped lifter (or --checkpoint).

Lifts HumanEva-I Validate (Walking, Jog, Box; 3 cameras; ground-truth 2D) in fp32 and in bf16 autocast and
prints P-MPJPE for each, the mean joint deviation between the two outputs in mm (network output scaled to
metres with the true root depth) and the lifting time.

    python benchmarks/bench_precision.py [--checkpoint PATH] [--shared ../shared]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from motionbert_cli import load_model
from motionbert_cli.evaluate import _camera_frame, _extrinsics, _focal, p_mpjpe
from motionbert_cli.lift import lift_sequence
from motionbert_cli.mocap import H36M_OF_HUMANEVA, humaneva_to_h36m, load_humaneva_cameras
from motionbert_cli.pipeline import default_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    he = Path(args.shared) / "data/eval/humaneva"
    model = load_model(args.checkpoint or default_checkpoint())
    pos3d = np.load(he / "data_3d_humaneva15.npz", allow_pickle=True)["positions_3d"].item()
    pos2d = np.load(he / "data_2d_humaneva15_gt.npz", allow_pickle=True)["positions_2d"].item()
    cams = load_humaneva_cameras(he)
    ext, intr = cams["extrinsics"], cams["intrinsics"]
    acc = {"fp32": [], "bf16": []}
    dev, times, frames = [], {"fp32": 0.0, "bf16": 0.0}, 0
    for subject in sorted(s for s in pos3d if s.startswith("Validate/")):
        for action in sorted(pos3d[subject]):
            if action.split(" ")[0] not in ("Walking", "Jog", "Box"):
                continue
            for cam, kp in enumerate(pos2d[subject][action]):
                gt = pos3d[subject][action]
                T = min(len(kp), len(gt))
                kp = humaneva_to_h36m(np.asarray(kp[:T], np.float64))
                kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1)
                gt_cam = _camera_frame(np.asarray(gt[:T], np.float64), _extrinsics(ext, subject, cam))
                gt_rel = (gt_cam - gt_cam[:, :1]) * 1000
                to_mm = gt_cam[:, :1, 2:3] / _focal(intr, cam) * 1000  # pixels -> mm at the true root depth
                outs = {}
                for prec in ("fp32", "bf16"):
                    t = time.perf_counter()
                    y = lift_sequence(model, kp, precision=prec, pixels=True)  # as the CLI lifts
                    times[prec] += time.perf_counter() - t
                    y = (y - y[:, :1])[:, H36M_OF_HUMANEVA]
                    outs[prec] = y * to_mm
                    acc[prec].append(p_mpjpe(y, gt_rel))
                dev.append(np.linalg.norm(outs["fp32"] - outs["bf16"], axis=-1).mean(-1))
                frames += T
    print(f"{Path(model.source).name}, HumanEva Validate (Walking/Jog/Box, 3 cameras, GT 2D), {frames} frames, "
          f"{torch.get_num_threads()} threads, flip TTA on")
    print("| precision | P-MPJPE (mm) | lift time (s) | frames/s | mean joint deviation from fp32 (mm) |")
    print("|---|---|---|---|---|")
    d = np.concatenate(dev).mean()
    for prec in ("fp32", "bf16"):
        print(f"| {prec} | {np.concatenate(acc[prec]).mean():.1f} | {times[prec]:.1f} | {frames / times[prec]:.0f} "
              f"| {0.0 if prec == 'fp32' else d:.2f} |")


if __name__ == "__main__":
    main()
