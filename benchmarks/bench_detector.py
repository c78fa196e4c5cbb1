"""Detector runtimes side by side: ms per frame and how far their keypoints move from PyTorch's (issue 24).

On 720p frames (the Sports2D demo scaled to 1280x720, 120 frames, two people) each runtime detects and tracks
the same frames; rounds alternate between runtimes so drift of the machine's speed hits all alike. Prints the
median ms/frame per runtime (excluding the first 10 frames), its ratio to PyTorch, and the keypoint distance
from PyTorch's (median and 90th percentile, confident keypoints). Say which CPU it ran on (AVX2 or AVX-512).

    python benchmarks/bench_detector.py [--shared ../shared] [--frames 120] [--rounds 3]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main():
    import sys

    sys.path.insert(0, str(ROOT))
    from motionbert_cli.detect import PoseDetector
    from motionbert_cli.lift import cpu_has_native_bf16

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runtimes", default="pytorch,openvino,int8")
    args = ap.parse_args()
    cap = cv2.VideoCapture(str(Path(args.shared) / "data/videos/sports2d_demo.mp4"))
    frames = []
    while len(frames) < args.frames:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_AREA))
    runtimes = args.runtimes.split(",")
    dets = {rt: PoseDetector(runtime=rt) for rt in runtimes}
    times = {rt: [] for rt in runtimes}
    kps = {}
    for r in range(args.rounds):
        for rt in runtimes:
            det = dets[rt] = PoseDetector(runtime=rt)  # a fresh tracker each round
            out = []
            for i, f in enumerate(frames):
                t = time.perf_counter()
                ids, kp, _ = det(f)
                if i >= 10:
                    times[rt].append(time.perf_counter() - t)
                out.append(dict(zip(ids.tolist(), kp)))
            kps[rt] = out
    cpu = "AVX-512 + native bf16" if cpu_has_native_bf16() else "AVX2 (no native bf16)"
    print(f"CPU: {cpu}; {len(frames)} frames of 1280x720, {args.rounds} rounds")
    print("| runtime | ms/frame (median) | vs PyTorch | keypoints from PyTorch's: median / p90 px |")
    print("|---|---|---|---|")
    base = np.median(times["pytorch"]) if "pytorch" in times else None
    for rt in runtimes:
        ms = np.median(times[rt]) * 1000
        d = []
        if "pytorch" in kps and rt != "pytorch":
            for a, b in zip(kps["pytorch"], kps[rt]):
                for tid, k in a.items():
                    if tid in b:
                        m = k[:, 2] > 0.5
                        d.append(np.linalg.norm(k[m, :2] - b[tid][m, :2], axis=-1))
        dd = np.concatenate(d) if d else np.zeros(1)
        ratio = f"{ms / (base * 1000):.2f}" if base else ""
        print(f"| {rt} | {ms:.1f} | {ratio} | {np.median(dd):.2f} / {np.percentile(dd, 90):.2f} |")


if __name__ == "__main__":
    main()
