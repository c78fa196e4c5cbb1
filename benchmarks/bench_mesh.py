"""How well `motionbert mesh`'s free body (Anny) fits, and how fast, on real clips (issue 23).

Runs the real command (default lifter and detector, no checkpoint, no render) per clip and prints, per clip:
the body's joints' mean distance to pose3d's lifted joints (mm, the 14 joints both skeletons define alike),
the median distance of its COCO keypoints, projected, to the confident detections (px), and the fitting time
per frame and person (ms; 2 CPU threads, the machine's own speed: say which CPU).

    python benchmarks/bench_mesh.py [--shared ../shared] [--pose-checkpoint FILE]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--pose-checkpoint")
    args = ap.parse_args()
    shared = Path(args.shared)
    clips = [("assets/lunge_portrait.mp4 (360x640)", ROOT / "assets" / "lunge_portrait.mp4", "auto"),
             ("pose2sim_single cam01 (1080x1920)", shared / "data/videos/pose2sim_single/cam01.mp4", "auto"),
             ("Sports2D demo, both people", shared / "data/videos/sports2d_demo.mp4", "all")]
    print("| clip | people | frames | joints to lifted (mm) | keypoints to detections (px, median) | fit ms/frame/person |")
    print("|---|---|---|---|---|---|")
    for name, video, person in clips:
        if not video.is_file():
            print(f"| {name} | missing: {video} | | | | |")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "motionbert_cli", "mesh", str(video), "-o", f"{tmp}/out", "--person", person]
            if args.pose_checkpoint:
                cmd += ["--pose-checkpoint", args.pose_checkpoint]
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if r.returncode:
                print(f"| {name} | failed: {r.stderr.strip().splitlines()[-1]} | | | | |")
                continue
            t = json.loads(Path(f"{tmp}/out/timing_mesh.json").read_text())
        per = t["fit body"] / max(1, t["frames"] * t["people"]) * 1000
        print(f"| {name} | {t['people']} | {t['frames']} | {t['joint_error_mm']:.1f} | {t['keypoint_error_px']:.1f} "
              f"| {per:.0f} |")


if __name__ == "__main__":
    main()
