"""Reading and writing checkpoints: official MotionBERT files and our own format.

Everything that knows about foreign key names lives here (`official_state_dict`). Architecture sizes are read
from tensor shapes (`infer_config`), so any official size (full, Lite, custom) loads without a config file.
Only the number of attention heads leaves no trace in the shapes: it defaults to 8 (every official model) and
our own files record it.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CheckpointError
from .heads import ActionConfig, ActionNet, MeshConfig, MeshNet
from .model import DSTformer, DSTformerConfig
from .smpl import SMPL_HELP, SMPLLayer, load_smpl_files

# models/ beside the package (editable installs and source checkouts).
# The shipped weights are package data, so a plain `pip install .` or wheel carries them (model cards: models/).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_POSE3D = "motionbert_cpu_pose3d.bin"
# pose3d's default lifter averages DEFAULT_POSE3D (27-frame window) with this 81-frame one trained on Human3.6M
# motion (models/README.md); motionbert_cpu_pose3d_w81.bin, the partner before, still ships (-c both: faster)
DEFAULT_POSE3D_SECOND = "motionbert_cpu_pose3d_h36m.bin"
DEFAULT_ACTION = "motionbert_cpu_action.bin"   # everyday actions, trained from the Bandai mocap (model card)
OFFICIAL_HELP = ("official MotionBERT weights: https://github.com/Walter0807/MotionBERT#model-zoo "
                 "(e.g. FT_MB_lite_MB_ft_h36m_global_lite/best_epoch.bin)")


def default_checkpoint(task: str = "pose3d", name: str | None = None) -> Path:
    """The model shipped with the package for `task` ('pose3d' or 'action'; motionbert_cli/weights/, model
    cards in models/), or the shipped file `name`."""
    name = name or (DEFAULT_ACTION if task == "action" else DEFAULT_POSE3D)
    p = WEIGHTS_DIR / name
    if p.is_file():
        return p
    raise CheckpointError(f"no --checkpoint given and the default model {name} is not installed; "
                          f"reinstall motionbert-cli or pass --checkpoint ({OFFICIAL_HELP})")


FORMAT = "motionbert-cli"
FORMAT_VERSION = 1
_NOT_IN_SHAPES = ("norm_eps", "residual_xy", "box_ratio")
TASKS = ("pose3d", "action", "mesh")

# smplx.SMPL keeps these in its state dict; the official mesh checkpoint has them but nothing reads them.
_UNUSED_OFFICIAL_KEYS = re.compile(
    r"^head\.smpl\.(betas|global_orient|body_pose|transl|vertex_joint_selector\.extra_joints_idxs)$")


def shipped_or_path(path: str | os.PathLike) -> Path:
    """`path` as given, or a shipped weights file named bare (`-c motionbert_cpu_pose3d_h36m.bin`) when no such
    file is here: package data sits deep in site-packages, where nobody wants to type it."""
    p = Path(path)
    if not p.exists() and p.parent == Path(".") and (WEIGHTS_DIR / p.name).is_file():
        return WEIGHTS_DIR / p.name
    return p


def _read(path: str | os.PathLike) -> Any:
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}. Check the path (official weights: see README, "
                              f"'Official checkpoints')")
    if p.is_dir():
        raise CheckpointError(f"{p} is a folder, not a checkpoint file: pass the .bin/.pt file inside it")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "numpy" not in str(e):
            raise CheckpointError(f"{p} is not a PyTorch checkpoint ({_first_line(e)}). "
                                  f"Pass a MotionBERT .bin file or one written by 'motionbert train'") from None
        # Older official files store numpy scalars next to the weights; allow exactly those.
        import numpy as np

        allowed = [np.core.multiarray.scalar, np.dtype, type(np.dtype("float64")), type(np.dtype("float32")),
                   type(np.dtype("int64"))]
        try:
            with torch.serialization.safe_globals(allowed):
                return torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e2:  # noqa: BLE001
            raise CheckpointError(f"{p} could not be read safely ({_first_line(e2)})") from None
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for a file that is not a checkpoint
        raise CheckpointError(f"{p} is not a readable checkpoint, or is truncated ({_first_line(e)}). "
                              f"Download or copy it again") from None


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:200] if s else type(e).__name__


def official_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model's state dict from any supported container, with wrapper prefixes removed.

    Accepts our format ({'format': 'motionbert-cli', 'state_dict': ...}), official training checkpoints
    ({'model_pos': ...} for pose3d, {'model': ...} for action and mesh), {'state_dict': ...}, or a bare state
    dict; keys may carry DataParallel/DDP's 'module.' prefix.
    """
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state dict. "
                              f"Pass a MotionBERT checkpoint (.bin) or one written by 'motionbert train'")
    for key in ("state_dict", "model_pos", "model", "model_state_dict"):
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    sd = {}
    for k, v in obj.items():
        if not isinstance(k, str) or not torch.is_tensor(v):
            raise CheckpointError(f"{source} does not look like a MotionBERT checkpoint: found key {k!r} "
                                  f"holding a {type(v).__name__}, expected tensors under 'model_pos' or 'model'")
        for prefix in ("module.", "_orig_mod."):  # DataParallel/DDP and torch.compile wrappers
            if k.startswith(prefix):
                k = k[len(prefix):]
        if not _UNUSED_OFFICIAL_KEYS.match(k):
            sd[k] = v
    if not sd:
        raise CheckpointError(f"{source} holds no weights")
    return sd


def detect_task(sd: dict[str, torch.Tensor]) -> str:
    if any(k.startswith("head.smpl.") or k.startswith("head.head_pose.") for k in sd):
        return "mesh"
    if "head.fc1.weight" in sd and any(k.startswith("backbone.") for k in sd):
        return "action"
    if "joints_embed.weight" in sd:
        return "pose3d"
    if "backbone.joints_embed.weight" in sd:
        return "backbone"
    sample = ", ".join(list(sd)[:4])
    raise CheckpointError(f"unrecognised weights (keys like {sample}): expected a MotionBERT DSTformer "
                          f"('joints_embed.weight', 'blocks_st.*', ...), optionally under 'backbone.'")


def infer_config(sd: dict[str, torch.Tensor], prefix: str = "", num_heads: int = 8) -> DSTformerConfig:
    """DSTformer sizes from tensor shapes (prefix is '' or 'backbone.')."""

    def get(name):
        if prefix + name not in sd:
            raise CheckpointError(f"checkpoint lacks '{prefix + name}': it is not a complete MotionBERT model")
        return sd[prefix + name]

    dim_feat, dim_in = get("joints_embed.weight").shape
    depth = len({int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"blocks_st\.(\d+)\.", k))})
    hidden = get("blocks_st.0.mlp_s.fc1.weight").shape[0]
    rep_key = prefix + "pre_logits.fc.weight"
    dim_rep = sd[rep_key].shape[0] if rep_key in sd else 0
    head_key = prefix + "head.weight"
    dim_out = sd[head_key].shape[0] if head_key in sd else 0
    cfg = DSTformerConfig(
        dim_in=dim_in, dim_out=dim_out, dim_feat=dim_feat, dim_rep=dim_rep, depth=depth, num_heads=num_heads,
        mlp_ratio=hidden / dim_feat, num_joints=get("pos_embed").shape[1], maxlen=get("temp_embed").shape[1],
        qkv_bias=prefix + "blocks_st.0.attn_s.qkv.bias" in sd, att_fuse=prefix + "ts_attn.0.weight" in sd)
    if dim_feat % num_heads:
        raise CheckpointError(f"dim_feat {dim_feat} is not divisible by num_heads={num_heads}: pass the number "
                              f"of heads the model was trained with (--heads)")
    return cfg


def _strict_load(model: nn.Module, sd: dict[str, torch.Tensor], source: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    mismatched = [f"{k} {list(sd[k].shape)} vs {list(own[k].shape)}" for k in own
                  if k in sd and sd[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:3])})")
    if mismatched:
        problems.append(f"shape mismatch in {len(mismatched)} (e.g. {'; '.join(mismatched[:2])}; "
                        f"checkpoint vs model)")
    if problems:
        raise CheckpointError(f"{source} does not match the {getattr(model, 'task', 'model')} architecture: "
                              + "; ".join(problems))
    model.load_state_dict(sd, strict=True)


def build_model(task: str, backbone_cfg: DSTformerConfig, head_cfg: dict | None = None,
                smpl_dir: str | os.PathLike | None = None,
                smpl_buffers: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """A freshly initialised model for `task`. Mesh models need SMPL: buffers, or files in `smpl_dir`."""
    head_cfg = dict(head_cfg or {})
    if task == "pose3d":
        return DSTformer(backbone_cfg)
    if task == "action":
        return ActionNet(DSTformer(backbone_cfg), ActionConfig(**head_cfg))
    if task == "mesh":
        if smpl_buffers is None:
            smpl_buffers, mean = load_smpl_files(smpl_dir)
            init_pose, init_shape = torch.from_numpy(mean["pose"]), torch.from_numpy(mean["shape"])
        else:
            init_pose, init_shape = torch.zeros(144), torch.zeros(10)  # overwritten by the state dict
        return MeshNet(DSTformer(backbone_cfg), SMPLLayer(smpl_buffers), init_pose, init_shape, MeshConfig(**head_cfg))
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def load_model(path: str | os.PathLike | None = None, *, num_heads: int | None = None, task: str | None = None,
               device: str | torch.device = "cpu", smpl_dir: str | os.PathLike | None = None,
               **overrides) -> nn.Module:
    """Load an official MotionBERT checkpoint or one of ours, as an eval-mode module with `.task` set.

    path: official `.bin` (keys under 'model_pos' or 'model', with or without 'module.'), a bare state dict,
        or a file written by `save_model`; a shipped file may be named bare (`shipped_or_path`); None: the
        pose3d model shipped in motionbert_cli/weights/ (`default_checkpoint`).
    num_heads: attention heads (not recoverable from shapes; default: from our file, else 8).
    task: expected task ('pose3d', 'action', 'mesh'); a different one raises CheckpointError.
    smpl_dir: SMPL files for a mesh checkpoint that does not carry the SMPL buffers (official ones do);
        default $MOTIONBERT_SMPL_DIR.
    overrides: DSTformerConfig fields that shapes do not determine (e.g. norm_eps, drop_path_rate).
    """
    path = default_checkpoint() if path is None else shipped_or_path(path)
    source = str(path)
    obj = _read(path)
    ours = isinstance(obj, dict) and obj.get("format") == FORMAT
    if ours and obj.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{source} was written by a newer motionbert-cli (format "
                              f"{obj['format_version']}); upgrade with: pip install -U motionbert-cli")
    sd = official_state_dict(obj, source)
    found = detect_task(sd)
    if ours and num_heads is None:
        num_heads = obj.get("config", {}).get("num_heads")
    num_heads = num_heads or 8
    if found == "backbone":
        sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
        found = "pose3d"
    if task is not None and task != found:
        raise CheckpointError(f"{source} is a {found} model, but a {task} model is needed here")
    prefix = "" if found == "pose3d" else "backbone."
    cfg = infer_config(sd, prefix, num_heads)
    if ours:  # what shapes cannot show comes from our file
        saved = obj.get("config", {})
        cfg = DSTformerConfig(**{**cfg.to_dict(), **{k: saved[k] for k in _NOT_IN_SHAPES if k in saved}})
    if overrides:
        cfg = DSTformerConfig(**{**cfg.to_dict(), **overrides})
    head_cfg: dict = {}
    smpl_buffers = None
    if found == "action":
        version = "class" if "head.fc2.weight" in sd else "embed"
        head_cfg = {"version": version, "hidden_dim": sd["head.fc1.weight"].shape[0]}
        if version == "class":
            head_cfg["num_classes"] = sd["head.fc2.weight"].shape[0]
            head_cfg["standardize"] = "head.feat_mean" in sd
    elif found == "mesh":
        head_cfg = {"hidden_dim": sd["head.fc1.weight"].shape[0]} if "head.fc1.weight" in sd else {}
        smpl_buffers = {k[len("head.smpl."):]: v for k, v in sd.items() if k.startswith("head.smpl.")}
        bad = SMPLLayer.buffer_shapes_ok(smpl_buffers)
        if bad and (smpl_dir or os.environ.get("MOTIONBERT_SMPL_DIR")):
            files, _ = load_smpl_files(smpl_dir)  # the checkpoint lacks the body model: take it from the files
            smpl_buffers = {**files, **{k: v for k, v in smpl_buffers.items() if k not in files}}
            sd = {k: v for k, v in sd.items() if not k.startswith("head.smpl.")}
            sd.update({f"head.smpl.{k}": v for k, v in smpl_buffers.items() if k in files})
        elif bad:
            raise CheckpointError(f"{source}: this mesh checkpoint does not carry the SMPL body model "
                                  f"({', '.join(bad[:3])}). {SMPL_HELP}")
    if ours:
        head_cfg = {**head_cfg, **{k: v for k, v in obj.get("head_config", {}).items() if k in ("dropout", "pool")}}
    model = build_model(found, cfg, head_cfg, smpl_buffers=smpl_buffers)
    _strict_load(model, sd, source)
    model.task = found
    model.source = source
    model.meta = obj.get("meta", {}) if ours else {}
    return model.to(device).eval()


def save_model(model: nn.Module, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write `model` in our format, atomically. `meta` (JSON-like) is kept, e.g. training data and metrics."""
    task = getattr(model, "task", "pose3d")
    backbone = model if task == "pose3d" else model.backbone
    obj = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": task,
        "config": backbone.cfg.to_dict(),
        "head_config": model.head_cfg.to_dict() if hasattr(model, "head_cfg") else {},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    from .fileio import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
