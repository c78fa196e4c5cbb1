"""End-to-end `motionbert pose3d` speed and peak memory on the shared clips, split by stage.

Runs the real CLI in a subprocess per clip (so peak RSS is that run's alone) and prints one table:
decode (reading frames only), detect (decode + YOLO + tracking), lift, render, total, frames/s, peak MB, and
"lift + I/O overhead" = (total - detect) / detect. A 4x-looped copy of the short clip shows that memory does
not grow with video length.

    python benchmarks/bench_pipeline.py [--checkpoint PATH --heads N] [--shared ../shared] [--no-loop]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent


def decode_time(path: Path) -> tuple[float, int]:
    cap = cv2.VideoCapture(str(path))
    n, t = 0, time.perf_counter()
    while cap.read()[0]:
        n += 1
    return time.perf_counter() - t, n


def looped(src: Path, times: int, dst: Path) -> Path:
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for k in range(times):
        for f in (frames if k % 2 == 0 else frames[::-1]):  # ping-pong keeps the motion continuous
            out.write(f)
    out.release()
    return dst


# Runs the CLI in a fresh interpreter and records that process's own peak RSS (kB) to a file.
_WRAP = """import resource, runpy, sys
peak_file = sys.argv.pop(1)
sys.argv[0] = "motionbert"
try:
    runpy.run_module("motionbert_cli", run_name="__main__")
finally:
    open(peak_file, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def run(video: Path, extra: list[str], out: Path) -> dict:
    peak_file = out.with_suffix(".peak")
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _WRAP, str(peak_file), "pose3d", str(video), "-o", str(out), *extra],
                         capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    timing = json.loads((out / "timing_pose3d.json").read_text())
    return {**timing, "wall": wall, "peak_mb": int(peak_file.read_text()) / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--checkpoint")
    ap.add_argument("--heads")
    ap.add_argument("--no-loop", action="store_true")
    args = ap.parse_args()
    videos = Path(args.shared) / "data" / "videos"
    extra = []
    if args.checkpoint:
        extra += ["--checkpoint", args.checkpoint]
    if args.heads:
        extra += ["--heads", args.heads]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = [("pose2sim cam01 (1080x1920, 1 person)", videos / "pose2sim_single/cam01.mp4", []),
                 ("sports2d demo (1768x994, 2 people)", videos / "sports2d_demo.mp4", ["--person", "all"])]
        if not args.no_loop:
            clips.append(("cam01 looped 4x", looped(videos / "pose2sim_single/cam01.mp4", 4, Path(tmp) / "loop4.mp4"), []))
        for name, path, more in clips:
            dec, n = decode_time(path)
            r = run(path, extra + more, Path(tmp) / f"out{len(rows)}")
            rows.append((name, n, dec, r))
    print(f"motionbert pose3d end to end, {os.cpu_count()} CPU cores (render on; times in seconds)")
    print("| clip | frames | decode | detect (incl. decode) | lift | render | write | total | frames/s "
          "| lift+I/O overhead vs detect | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, n, dec, r in rows:
        over = (r["total"] - r["detect"]) / r["detect"]
        print(f"| {name} | {n} | {dec:.1f} | {r['detect']:.1f} | {r['lift']:.1f} | {r.get('render', 0):.1f} "
              f"| {r['write']:.1f} | {r['total']:.1f} | {n / r['total']:.1f} | {over:.0%} | {r['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
