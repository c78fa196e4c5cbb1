"""Lifting speed per frame: the shipped lifters alone and pose3d's default pair, flip on, fp32, on the CPU.

Lifts the longest HumanEva Validate S1 Walking take (camera 1, ground-truth 2D in pixels, as pose3d lifts a
person: windows, per-window box, flip) and prints ms per frame for each lifter. The issue-12 budget is <= 10
ms per frame on 2 cores with flip. Run on an idle machine:

    python benchmarks/bench_lift.py [--shared ../shared] [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from motionbert_cli.evaluate import videopose3d_views
from motionbert_cli.lift import lift_sequence, lift_window_count, load_pose3d, members

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--checkpoint", nargs="+", help="lifter file(s) (two: averaged); default: pose3d's default")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    he = Path(args.shared) / "data/eval/humaneva"
    views = videopose3d_views(he / "data_3d_humaneva15.npz", he / "data_2d_humaneva15_gt.npz",
                              subjects=["Validate/S1"], actions=["Walking"], cameras=[0])
    x = max((v.kp for v in views), key=len).astype(np.float32)  # the longest take
    T = len(x)
    lifter = load_pose3d([Path(c) for c in args.checkpoint] if args.checkpoint else None, None, "cpu")
    lifters = {f"{m.cfg.maxlen} frames ({Path(m.source).name})": m for m in members(lifter)}
    if len(lifters) > 1:
        lifters["averaged" + ("" if args.checkpoint else " (pose3d's default)")] = lifter
    print(f"HumanEva Validate/S1 Walking (longest take), {T} frames, flip on, fp32, {args.threads} threads, "
          f"best of {args.repeats}")
    print(f"{'lifter':44s} {'windows':>8s} {'ms/frame':>9s}")
    for name, model in lifters.items():
        batch = max(1, 1024 // model.cfg.maxlen)  # as pose3d batches windows
        lift_sequence(model, x[:200], pixels=True, batch_size=batch)  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            lift_sequence(model, x, pixels=True, batch_size=batch)
            best = min(best, time.perf_counter() - t)
        print(f"{name:44s} {lift_window_count(model, T):8d} {1000 * best / T:9.2f}")
    n = sum(p.numel() for m in members(lifter) for p in m.parameters())
    print(f"{n / 1e6:.2f} M parameters in {len(members(lifter))} file(s)")


if __name__ == "__main__":
    main()
