"""Choosing how pose3d holds a person's bones at one length (camera.steady_bones), on training-subject motion.

Human3.6M S8 (a training subject, `../shared/data/mocap/h36m`; every other take of sub-take 1, 30 s each) is put
in the studio and seen through one of S8's four real cameras; its 2D is what the lifters are trained on
(`synth.detector_view` + `synth.detector_noise` with the training's drift, bursts and swaps), at the chosen frame
rate; pose3d's lifting and placement (the default pair, the default focal length) give the camera-frame joints,
then steady_bones with each `across_ray` share is scored against the mocap (P-MPJPE, mm, 17 joints, per frame).
The S9 evaluation clip is not used: this is where ACROSS_RAY was chosen.

    python benchmarks/bench_steady_bones.py [--fps 25] [--shared ../shared]
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from motionbert_cli.camera import steady_bones  # noqa: E402
from motionbert_cli.evaluate import p_mpjpe  # noqa: E402
from motionbert_cli.lift import load_pose3d  # noqa: E402
from motionbert_cli.mocap import load_h36m_cameras, read_npz  # noqa: E402
from motionbert_cli.pipeline import Pose3dOptions, lift_people  # noqa: E402
from motionbert_cli.synth import AugmentConfig, detector_noise, detector_view, place_in_studio  # noqa: E402
from motionbert_cli.video import VideoInfo  # noqa: E402

from bench_h36m import h36m_tracks  # noqa: E402  (one person's keypoints as pose3d --keypoints reads them)

SHARES = (1.0, 0.5, 0.25, 0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    shared = Path(args.shared)
    files = sorted(glob.glob(str(shared / "data/mocap/h36m/S8_*_1.npz")))[::2]
    if not files:
        sys.exit(f"error: no S8 takes in {shared / 'data/mocap/h36m'}")
    rng = np.random.default_rng(5)
    aug = AugmentConfig(drift_px=0.015, burst_p=0.006, swap_p=0.003)  # the stage 16-20 training's detector errors
    cams = load_h36m_cameras(shared / "data/eval/h36m_sample/cameras.pkl", subjects=("S8",))
    model = load_pose3d(None, None, "cpu")
    errs: dict = {}
    print(f"lifter: {model.source}; {args.fps:g} fps")
    print("| take | frames | without | " + " | ".join(f"across_ray {s:g}" for s in SHARES) + " |")
    print("|---|---|---|" + "---|" * len(SHARES))
    for i, path in enumerate(files):
        m = read_npz(path)
        j = place_in_studio(m.joints[:1500:max(1, int(round(m.fps / args.fps)))].astype(np.float64), rng, 1.5)
        cam = cams[i % len(cams)]
        truth = (j - cam.centre) @ cam.R
        seen = (detector_view(j, "h36m") - cam.centre) @ cam.R
        uv, conf = detector_noise(cam.f * seen[..., :2] / seen[..., 2:] + np.asarray(cam.c), rng, aug)
        tracks = h36m_tracks(np.concatenate([uv, conf], -1).astype(np.float32))
        info = VideoInfo(path=None, fps=args.fps, width=1000, height=1000, frames=len(uv))
        opts = Pose3dOptions(video=None, steady_bones=False)  # placement without the step; each share below
        placed = lift_people(model, tracks, [0], info, opts).joints3d_camera[0].astype(np.float64)
        gt = (truth - truth[:, :1]) * 1000
        row = []
        for share in (None,) + SHARES:
            p = placed if share is None else steady_bones(placed, across_ray=share)
            e = p_mpjpe((p - p[:, :1]) * 1000, gt)
            errs.setdefault(share, []).append(e)
            row.append(f"{e.mean():.1f}")
        print(f"| {Path(path).stem} | {len(uv)} | " + " | ".join(row) + " |", flush=True)
    print("| all | " + str(sum(len(e) for e in errs[None])) + " | "
          + " | ".join(f"**{np.concatenate(errs[s]).mean():.1f}**" for s in (None,) + SHARES) + " |")


if __name__ == "__main__":
    main()
