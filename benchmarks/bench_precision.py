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
from motionbert_cli.camera import unproject
from motionbert_cli.evaluate import p_mpjpe, videopose3d_views
from motionbert_cli.lift import lift_sequence
from motionbert_cli.mocap import H36M_OF_HUMANEVA
from motionbert_cli.checkpoint import default_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    he = Path(args.shared) / "data/eval/humaneva"
    model = load_model(args.checkpoint or default_checkpoint())
    acc = {"fp32": [], "bf16": []}
    dev, times, frames = [], {"fp32": 0.0, "bf16": 0.0}, 0
    for v in videopose3d_views(he / "data_3d_humaneva15.npz", he / "data_2d_humaneva15_gt.npz",
                               subjects=["Validate/"], actions=["Walking", "Jog", "Box"]):
        gt_rel = (v.gt - v.gt[:, :1]) * 1000
        to_mm = v.gt[:, :1, 2:3] / v.focal * 1000  # pixels -> mm at the true root depth
        outs = {}
        for prec in ("fp32", "bf16"):
            t = time.perf_counter()
            y = lift_sequence(model, v.kp, precision=prec, pixels=True)  # as the CLI lifts
            times[prec] += time.perf_counter() - t
            y = unproject(y, v.focal, v.centre)  # as pose3d's metric outputs and `eval pose3d`
            y = (y - y[:, :1])[:, H36M_OF_HUMANEVA]
            outs[prec] = y * to_mm
            acc[prec].append(p_mpjpe(y, gt_rel))
        dev.append(np.linalg.norm(outs["fp32"] - outs["bf16"], axis=-1).mean(-1))
        frames += len(v.kp)
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
