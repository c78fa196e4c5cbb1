"""motionbert-cli: MotionBERT from a video to 3D joints, action labels and SMPL meshes.

Python API (torch is imported on first use, so `import motionbert_cli` stays cheap):

    from motionbert_cli import load_model
    model = load_model("FT_MB_lite_MB_ft_h36m_global_lite/best_epoch.bin")   # official or ours
    y = model(x)                          # x [B, T<=243, 17, 3] -> [B, T, 17, 3]
    e = model.get_representation(x)       # -> [B, T, 17, dim_rep]
"""
__version__ = "0.1.0"

_LAZY = {
    "load_model": "checkpoint",
    "save_model": "checkpoint",
    "build_model": "checkpoint",
    "DSTformer": "model",
    "DSTformerConfig": "model",
    "ActionNet": "heads",
    "MeshNet": "heads",
    "UserError": "errors",
    "CheckpointError": "errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'motionbert_cli' has no attribute {name!r}")
