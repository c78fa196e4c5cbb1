"""motionbert-cli: MotionBERT from a video to 3D joints, action labels and SMPL meshes.

Python API (torch is imported on first use, so `import motionbert_cli` stays cheap):

    from motionbert_cli import load_model, lift_sequence
    model = load_model()                  # the shipped 27-frame lifter; or an official .bin / one of ours
    y = model(x)                          # x [B, T<=model.cfg.maxlen, 17, 3] -> [B, T, 17, 3]
    e = model.get_representation(x)       # -> [B, T, 17, dim_rep]
    y = lift_sequence(model, x2d)         # x2d [T, 17, 3] numpy, any T: blended windows, as the CLI
    pair = LifterEnsemble([load_model(), load_model(default_checkpoint(name="motionbert_cpu_pose3d_h36m.bin"))])
    y = lift_sequence(pair, x2d)          # pose3d's default lifter: both shipped files, outputs averaged
"""
__version__ = "0.1.0"

_LAZY = {
    "load_model": "checkpoint",
    "default_checkpoint": "checkpoint",
    "lift_sequence": "lift",
    "LifterEnsemble": "lift",
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
