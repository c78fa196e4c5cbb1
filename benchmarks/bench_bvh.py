"""How closely the BVH files follow the 3D: for each person of each pose3d output folder given, the mean
distance between the BVH's forward kinematics and the 3D joints (16 joints, seen frames), and the same with
the 3D moved along its bones to the BVH's fixed bone lengths (what is left is the fit's own error; the rest
is the lifted 3D's bone lengths changing from frame to frame, which no fixed skeleton follows).

    motionbert pose3d ../shared/videos/sports2d_demo.mp4 -o /tmp/s2d --no-render
    python benchmarks/bench_bvh.py /tmp/s2d [more output folders...]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from motionbert_cli.bvh import BVH_NAMES, PARENTS, SOURCE, write_bvh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="pose3d output folders (holding motion.npz)")
    args = ap.parse_args()
    table = Table(title="BVH against the 3D joints (mm)")
    for c in ("clip", "person", "frames", "to the 3D", "fit's own error", "bone length CV"):
        table.add_column(c)
    with tempfile.TemporaryDirectory() as tmp:
        for folder in args.folders:
            d = np.load(folder / "motion.npz")
            for p, tid in enumerate(d["track_ids"]):
                cam = d["joints3d_camera"][p]
                fit = write_bvh(Path(tmp) / "p.bvh", cam, float(d["fps"]))
                b = cam[:, SOURCE]
                bones = [k for k in range(1, len(SOURCE)) if "Collar" not in BVH_NAMES[k]]
                lengths = np.linalg.norm(b - b[:, PARENTS], axis=-1)[:, bones]
                cv = np.nanmean(np.nanstd(lengths, 0) / np.nanmean(lengths, 0))
                seen = int(np.isfinite(cam).all((1, 2)).sum())
                table.add_row(folder.name, str(int(tid)), str(seen), f"{fit.error * 1000:.1f}",
                              f"{fit.fit_error * 1000:.1f}", f"{cv * 100:.0f}%")
    Console().print(table)


if __name__ == "__main__":
    main()
