"""How well a lifter fits the motion it was trained on: underfitting or a gap to real footage? (issue 22)

Human3.6M training-subject motion (`../shared/data/mocap/h36m`, default S8) seen through Human3.6M's real
cameras, 50 fps, clean 2D of the mocap joints (no detector offsets, noise, masks, bone scaling or mirroring),
normalised by a box 1.2 times the person as pose3d does, 81-frame clips, flip test-time augmentation. The
network's output is compared with the target per frame after a similarity fit (P-MPJPE), in millimetres via the
clip's pelvis-to-thorax length (0.483 m on S1's skeleton, which every take of that folder carries).

If this error is close to the error on the held-out S9 clip with its ground-truth 2D (bench_h36m.py's "GT 2D"
row), the lifter does not fit its own training distribution any better than unseen footage: more capacity or
more optimisation steps, not more data or a closer domain, is what it needs. The samples are drawn with a
fixed seed, so two lifters see exactly the same clips.

    python benchmarks/bench_train_fit.py [--checkpoint F [F ...]] [--subject S8] [--clips 128] [--shared ../shared]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from motionbert_cli.checkpoint import DEFAULT_POSE3D_SECOND, default_checkpoint, load_model  # noqa: E402
from motionbert_cli.evaluate import procrustes_align  # noqa: E402
from motionbert_cli.lift import flip_h36m  # noqa: E402
from motionbert_cli.mocap import load_training_data  # noqa: E402
from motionbert_cli.synth import AugmentConfig, Sampler  # noqa: E402

TORSO_M = 0.4833  # pelvis to thorax of S1's skeleton (all takes in data/mocap/h36m)


def clean_sampler(shared: Path, subject: str) -> Sampler:
    motions, _ = load_training_data([str(shared / "data/mocap/h36m")])
    motions = [m for m in motions if m.name.startswith(subject + "_")]
    if not motions:
        raise SystemExit(f"no takes of {subject} in {shared / 'data/mocap/h36m'}")
    aug = AugmentConfig(fps_range=(50, 50), bone_scale=0.0, flip_p=0.0, noise_px=0.0, outlier_p=0.0,
                        mask_joint_p=0.0, mask_frame_p=0.0, box_ratio=(1.2, 1.2), h36m_targets=True,
                        detector_view_p=0.0, studio_cameras=str(shared / "data/eval/h36m_sample/cameras.pkl"),
                        studio_camera_p=1.0)
    return Sampler(motions, None, aug)


@torch.no_grad()
def fit_error(model, sampler: Sampler, clips: int, seed: int = 123) -> float:
    rng = np.random.default_rng(seed)
    errs = []
    for _ in range(0, clips, 16):
        x, y = sampler.batch(rng, 16, 81)
        T = min(model.cfg.maxlen, 81)
        xt = torch.from_numpy(x[:, :T])
        p = ((model(xt) + flip_h36m(model(flip_h36m(xt)))) / 2).numpy()
        pr = (p - p[..., :1, :]).reshape(-1, 17, 3)
        gt = (y[:, :T] - y[:, :T, :1]).reshape(-1, 17, 3)
        err = np.linalg.norm(procrustes_align(pr, gt) - gt, axis=-1).mean(-1)
        errs.append(err / np.linalg.norm(gt[:, 8] - gt[:, 0], axis=-1) * TORSO_M * 1000)
    return float(np.concatenate(errs).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", nargs="+", help="lifter file(s), each scored alone; default: both shipped")
    ap.add_argument("--subject", default="S8")
    ap.add_argument("--clips", type=int, default=128)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    ckpts = args.checkpoint or [str(default_checkpoint()), str(default_checkpoint(name=DEFAULT_POSE3D_SECOND))]
    sampler = clean_sampler(Path(args.shared), args.subject)
    print(f"Human3.6M {args.subject} (training motion), real cameras, clean 2D, 50 fps, {args.clips} clips of 81 frames")
    print("| lifter | window | P-MPJPE (mm) |\n|---|---|---|")
    for c in ckpts:
        model = load_model(c).eval()
        print(f"| {Path(c).name} | {model.cfg.maxlen} | {fit_error(model, sampler, args.clips):.1f} |")


if __name__ == "__main__":
    main()
