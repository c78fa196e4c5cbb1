"""The SMPL body model as a plain `nn.Module`, skinned with `smplx.lbs`.

Why not `smplx.SMPL` itself: it can only be built from files on disk, while the official MotionBERT mesh
checkpoint already carries every SMPL buffer; this layer is built either from such a state dict or from the
user's SMPL files. Buffer names match `smplx.SMPL` (plus MotionBERT's `J_regressor_h36m` / `J_regressor_extra`),
so official `head.smpl.*` keys load unchanged.

Shapes: V = 6890 vertices, K = 24 SMPL joints, N = batch.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import UserError

NUM_VERTICES = 6890
NUM_SMPL_JOINTS = 24
NUM_BETAS = 10

SMPL_HELP = ("SMPL is licensed and not shipped: register at https://smpl.is.tue.mpg.de, download the SMPL model "
             "(SMPL_NEUTRAL.pkl), get J_regressor_h36m_correct.npy, J_regressor_extra.npy and the mean parameters "
             "from MotionBERT's mesh data (docs/mesh.md), put them in one folder and pass --smpl-dir "
             "(or set MOTIONBERT_SMPL_DIR)")

# Buffer name -> shape (None = any length along that axis). faces and parents are integer buffers.
_BUFFERS = {
    "v_template": (NUM_VERTICES, 3),
    "shapedirs": (NUM_VERTICES, 3, None),
    "posedirs": ((NUM_SMPL_JOINTS - 1) * 9, NUM_VERTICES * 3),
    "J_regressor": (NUM_SMPL_JOINTS, NUM_VERTICES),
    "parents": (NUM_SMPL_JOINTS,),
    "lbs_weights": (NUM_VERTICES, NUM_SMPL_JOINTS),
    "faces_tensor": (None, 3),
    "J_regressor_h36m": (17, NUM_VERTICES),
    "J_regressor_extra": (None, NUM_VERTICES),
}


class SMPLLayer(nn.Module):
    """SMPL skinning from rotation matrices.

    forward(betas [N, 10], rotmats [N, 24, 3, 3]) -> vertices [N, 6890, 3] in metres.
    `regress_h36m(vertices)` -> [N, 17, 3] with MotionBERT's H36M joint regressor.
    """

    def __init__(self, buffers: dict[str, torch.Tensor]):
        super().__init__()
        for name in _BUFFERS:
            if name == "J_regressor_extra" and name not in buffers:
                continue  # only used by training losses; optional
            t = buffers[name]
            t = t.long() if name in ("parents", "faces_tensor") else t.float()
            self.register_buffer(name, t.contiguous())

    @property
    def faces(self) -> np.ndarray:
        return self.faces_tensor.cpu().numpy()

    def forward(self, betas: torch.Tensor, rotmats: torch.Tensor) -> torch.Tensor:
        from smplx.lbs import lbs

        verts, _ = lbs(betas, rotmats.reshape(rotmats.shape[0], NUM_SMPL_JOINTS, 3, 3), self.v_template,
                       self.shapedirs[..., : betas.shape[-1]], self.posedirs, self.J_regressor, self.parents,
                       self.lbs_weights, pose2rot=False)
        return verts

    def regress_h36m(self, vertices: torch.Tensor) -> torch.Tensor:
        return torch.einsum("jv,nvc->njc", self.J_regressor_h36m, vertices)

    @staticmethod
    def buffer_shapes_ok(buffers: dict[str, torch.Tensor]) -> list[str]:
        """Names of required buffers that are missing or mis-shaped (empty when all is well)."""
        bad = []
        for name, shape in _BUFFERS.items():
            if name not in buffers:
                if name != "J_regressor_extra":
                    bad.append(f"{name} (missing)")
                continue
            got = tuple(buffers[name].shape)
            if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
                bad.append(f"{name} (shape {list(got)})")
        return bad


class _ChumpyFree(pickle.Unpickler):
    """Unpickles SMPL files saved with `chumpy` arrays without importing chumpy (broken on numpy >= 1.24).

    chumpy objects pickle their value in the state dict under 'x'; we rebuild them as plain numpy arrays.
    """

    def find_class(self, module, name):
        if module.startswith("chumpy"):
            return _ChArray
        if module.startswith("scipy.sparse"):
            import scipy.sparse  # the official J_regressor is a scipy sparse matrix
            return getattr(scipy.sparse, name)
        return super().find_class(module, name)


class _ChArray:
    def __new__(cls, *a, **k):
        return object.__new__(cls)

    def __setstate__(self, state):
        self.x = np.asarray(state.get("x")) if isinstance(state, dict) else np.asarray(state)


def _to_numpy(v):
    if isinstance(v, _ChArray):
        return v.x
    if hasattr(v, "toarray"):
        return v.toarray()
    return np.asarray(v)


def _read_smpl_pkl(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = _ChumpyFree(f, encoding="latin1").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the same user problem
        raise UserError(f"could not read SMPL model {path}: {e}. {SMPL_HELP}") from None
    return data


def find_smpl_dir(smpl_dir: str | os.PathLike | None) -> Path:
    """The folder with the SMPL files: the argument, else $MOTIONBERT_SMPL_DIR; raises UserError if absent."""
    d = smpl_dir or os.environ.get("MOTIONBERT_SMPL_DIR")
    if not d:
        raise UserError(f"this needs SMPL files but no SMPL folder was given. {SMPL_HELP}")
    d = Path(d).expanduser()
    if not (d / "SMPL_NEUTRAL.pkl").is_file():
        raise UserError(f"SMPL_NEUTRAL.pkl not found in {d}. {SMPL_HELP}")
    return d


def load_smpl_files(smpl_dir: str | os.PathLike | None) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """Read SMPL files into (layer buffers, mean parameters {'pose': [144] 6D, 'shape': [10]})."""
    d = find_smpl_dir(smpl_dir)
    data = _read_smpl_pkl(d / "SMPL_NEUTRAL.pkl")
    try:
        shapedirs = _to_numpy(data["shapedirs"])[:, :, :NUM_BETAS]
        posedirs = _to_numpy(data["posedirs"]).reshape(-1, (NUM_SMPL_JOINTS - 1) * 9).T
        parents = _to_numpy(data["kintree_table"])[0].astype(np.int64)
        parents[0] = -1
        buffers = {
            "v_template": _to_numpy(data["v_template"]),
            "shapedirs": shapedirs,
            "posedirs": posedirs,
            "J_regressor": _to_numpy(data["J_regressor"]),
            "parents": parents,
            "lbs_weights": _to_numpy(data["weights"]),
            "faces_tensor": _to_numpy(data["f"]).astype(np.int64),
        }
    except KeyError as e:
        raise UserError(f"{d / 'SMPL_NEUTRAL.pkl'} is not an SMPL model (no {e}). {SMPL_HELP}") from None
    for fname, key in (("J_regressor_h36m_correct.npy", "J_regressor_h36m"), ("J_regressor_extra.npy", "J_regressor_extra")):
        p = d / fname
        if p.is_file():
            buffers[key] = np.load(p)
        elif key == "J_regressor_h36m":
            raise UserError(f"{fname} not found in {d}. {SMPL_HELP}")
    mean = None
    for fname in ("smpl_mean_params.npz", "h36m_mean_smpl.npz"):
        if (d / fname).is_file():
            m = np.load(d / fname)
            mean = {"pose": np.asarray(m["pose"], np.float32).reshape(-1), "shape": np.asarray(m["shape"], np.float32).reshape(-1)}
            break
    if mean is None:
        raise UserError(f"smpl_mean_params.npz not found in {d}. {SMPL_HELP}")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in buffers.items()}
    bad = SMPLLayer.buffer_shapes_ok(tensors)
    if bad:
        raise UserError(f"SMPL files in {d} have unexpected arrays: {', '.join(bad)}. {SMPL_HELP}")
    return tensors, mean

