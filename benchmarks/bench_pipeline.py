"""End-to-end `motionbert pose3d` (and `live`) speed and peak memory, split by stage, per detector runtime.

Runs the real CLI in a subprocess per clip (so peak RSS is that run's alone) and prints one table: decode
(reading frames only), detect (decode + YOLO + tracking), lift, render, write, total, frames/s, wall, peak MB;
each clip with the PyTorch detector and with the default runtime (OpenVINO on CPU when installed), without
rendering, and with rendering for the default. Clips: a 1280x720 30 fps one-person clip made from the pose2sim
view, the Sports2D demo scaled to 720p, both at their own sizes, and a 4x-looped copy of the short clip (memory
must not grow with video length). Then `motionbert live` on the 720p clip played as a stream: frames dropped,
latency (capture -> 3D) and processed frames/s.

    python benchmarks/bench_pipeline.py [--checkpoint PATH --heads N] [--shared ../shared] [--runtimes pytorch,auto]
                                        [--detect-every 1,2] [--only-720p] [--no-loop] [--no-live]

--detect-every crosses each runtime with pose3d's --detect-every values (the detector on every Nth frame, 2D
interpolated between); --only-720p keeps the 1280x720 30 fps one-person clip (issue 24's target) alone.
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
import numpy as np

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


def canvas_720p(src: Path, dst: Path, times: int = 3, fps: float = 30.0) -> Path:
    """A 1280x720 30 fps clip of one person: the portrait pose2sim view scaled into a landscape frame and played
    forwards and backwards `times` times (the detector's cost depends on the frame size, not on its content)."""
    cap = cv2.VideoCapture(str(src))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        small = cv2.resize(f, (round(w * 720 / h), 720), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((720, 1280, 3), np.uint8)
        x0 = (1280 - small.shape[1]) // 2
        canvas[:, x0:x0 + small.shape[1]] = small
        frames.append(canvas)
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for k in range(times):
        for f in (frames if k % 2 == 0 else frames[::-1]):
            out.write(f)
    out.release()
    return dst


def resized(src: Path, dst: Path, size: tuple[int, int]) -> Path:
    cap = cv2.VideoCapture(str(src))
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS), size)
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.write(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
    out.release()
    return dst


def run(video: Path, extra: list[str], out: Path, command: str = "pose3d") -> dict:
    peak_file = out.with_suffix(".peak")
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _WRAP, str(peak_file), command, str(video), "-o", str(out), *extra],
                         capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    name = "timing_pose3d.json" if command == "pose3d" else "timing_live.json"
    timing = json.loads((out / name).read_text())
    return {**timing, "wall": wall, "peak_mb": int(peak_file.read_text()) / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--checkpoint")
    ap.add_argument("--heads")
    ap.add_argument("--runtimes", default="pytorch,auto", help="detector runtimes to compare (--detector-runtime)")
    ap.add_argument("--detect-every", default="auto",
                    help="pose3d --detect-every values to cross with the runtimes (default: auto, pose3d's default)")
    ap.add_argument("--only-720p", action="store_true", help="only the 1280x720 30 fps one-person clip")
    ap.add_argument("--no-loop", action="store_true")
    ap.add_argument("--no-live", action="store_true")
    args = ap.parse_args()
    videos = Path(args.shared) / "data" / "videos"
    extra = []
    if args.checkpoint:
        extra += ["--checkpoint", args.checkpoint]
    if args.heads:
        extra += ["--heads", args.heads]
    runtimes = args.runtimes.split(",")
    # (label, pose3d options) per detector setting; the last one is also timed with rendering
    settings = [(rt if ev == "1" else f"{rt}, every {ev}", ["--detector-runtime", rt, "--detect-every", ev])
                for rt in runtimes for ev in args.detect_every.split(",")]
    rows, live = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip720 = canvas_720p(videos / "pose2sim_single/cam01.mp4", tmp / "one_person_720p.mp4")
        clips = [("1280x720 30 fps, 1 person (pose2sim cam01 on a 720p canvas)", clip720, []),
                 ("sports2d demo at 1280x720 (2 people)", resized(videos / "sports2d_demo.mp4", tmp / "s2d720.mp4",
                                                                  (1280, 720)), ["--person", "all"]),
                 ("pose2sim cam01 (1080x1920, 1 person)", videos / "pose2sim_single/cam01.mp4", []),
                 ("sports2d demo (1768x994, 2 people)", videos / "sports2d_demo.mp4", ["--person", "all"])]
        if args.only_720p:
            clips = clips[:1]
        elif not args.no_loop:
            clips.append(("cam01 looped 4x", looped(videos / "pose2sim_single/cam01.mp4", 4, tmp / "loop4.mp4"), []))
        # one untimed run per runtime first: the OpenVINO export of each frame size is made once and cached
        for rt in runtimes:
            for _, path, more in clips[:min(4, len(clips))]:
                run(path, extra + more + ["--no-render", "--detector-runtime", rt, "--end", "15f"],
                    tmp / f"warm{rt}{path.stem}")
        for name, path, more in clips:
            dec, n = decode_time(path)
            for label, opts in settings:
                for render in (False, True):
                    if render and label != settings[-1][0]:
                        continue  # rendering costs the same whichever runtime detected
                    r = run(path, extra + more + opts + ([] if render else ["--no-render"]), tmp / f"out{len(rows)}")
                    rows.append((name, n, dec, label, render, r))
        if not args.no_live:
            for k, rt in enumerate(runtimes):
                live.append((rt, run(clip720, extra + ["--detector-runtime", rt, "--no-preview"], tmp / f"live{k}",
                                     command="live")))
    print(f"motionbert pose3d end to end, {os.cpu_count()} CPU cores (times in seconds; frames/s = frames / total, "
          f"the command's own time after its imports; wall adds Python start-up and imports)")
    print("| clip | frames | detector | render | decode | detect (incl. decode) | lift | render time | write | total "
          "| frames/s | wall | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, n, dec, rt, render, r in rows:
        print(f"| {name} | {n} | {rt} | {'on' if render else 'off'} | {dec:.1f} | {r['detect']:.1f} | {r['lift']:.1f} "
              f"| {r.get('render', 0):.1f} | {r['write']:.1f} | {r['total']:.1f} | {n / r['total']:.1f} "
              f"| {r['wall']:.1f} | {r['peak_mb']:.0f} |")
    if live:
        print()
        print("motionbert live on the 720p one-person clip played as a stream at its own speed (30 fps)")
        print("| detector | frames read | processed | dropped | processed frames/s | latency median ms | p90 ms |")
        print("|---|---|---|---|---|---|---|")
        for rt, r in live:
            print(f"| {rt} | {r['frames_read']} | {r['frames_processed']} | {r['frames_dropped']} "
                  f"| {r['processed_fps']:.1f} | {r['latency_ms_median']:.0f} | {r['latency_ms_p90']:.0f} |")


if __name__ == "__main__":
    main()
