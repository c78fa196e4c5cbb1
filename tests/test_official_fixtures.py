"""Official MotionBERT checkpoints load as they are and reproduce the official code's outputs."""
import numpy as np
import pytest
import torch

from conftest import FIXTURES, need
from motionbert_cli import load_model
from motionbert_cli.checkpoint import official_state_dict, _read


@pytest.fixture(scope="module")
def models():
    need(FIXTURES / "pose3d.bin")
    return {t: load_model(FIXTURES / f"{t}.bin", num_heads=4) for t in ("pose3d", "action", "mesh")}


@pytest.mark.parametrize("T", [1, 27, 243])
def test_pose3d_matches_official(models, T):
    io = np.load(FIXTURES / "pose3d_io.npz")
    m = models["pose3d"]
    assert m.task == "pose3d" and not m.training
    x = torch.from_numpy(io[f"x_T{T}"])
    with torch.no_grad():
        y, rep = m(x).numpy(), m.get_representation(x).numpy()
    assert y.shape == io[f"pose3d_T{T}"].shape
    assert np.abs(y - io[f"pose3d_T{T}"]).max() < 1e-4
    assert np.abs(rep - io[f"rep_T{T}"]).max() < 1e-4


def test_inferred_architecture(models):
    cfg = models["pose3d"].cfg
    assert (cfg.dim_feat, cfg.dim_rep, cfg.depth, cfg.num_heads, cfg.mlp_ratio, cfg.maxlen) == (64, 32, 2, 4, 2.0, 243)
    assert models["action"].head_cfg.num_classes == 60 and models["action"].head_cfg.hidden_dim == 2048
    assert models["mesh"].head_cfg.hidden_dim == 64


def test_action_matches_official(models):
    io = np.load(FIXTURES / "action_io.npz")
    m = models["action"]
    assert m.task == "action"
    with torch.no_grad():
        logits = m(torch.from_numpy(io["x"])).numpy()
    assert logits.shape == (3, 60)
    assert np.abs(logits - io["logits"]).max() < 1e-4


def test_mesh_matches_official_without_smpl_files(models):
    io = np.load(FIXTURES / "mesh_io.npz")
    m = models["mesh"]
    assert m.task == "mesh"
    with torch.no_grad():
        out = m(torch.from_numpy(io["x"]))
    assert out["theta"].shape == (2, 16, 82) and out["verts"].shape == (2, 16, 6890, 3)
    assert np.abs(out["theta"].numpy() - io["theta"]).max() < 1e-4
    assert np.abs(out["verts"].numpy() - io["verts"]).max() < 1e-2  # mm
    assert np.abs(out["kp_3d"].numpy() - io["kp_3d"]).max() < 1e-2  # mm
    rep = m.get_representation(torch.from_numpy(io["x"]))
    assert rep.shape == (2, 16, 17, 32)


def test_bare_state_dict_without_prefix(tmp_path, models):
    """A state dict saved without the DataParallel prefix or wrapper keys loads to the same outputs."""
    sd = official_state_dict(_read(FIXTURES / "pose3d.bin"))
    torch.save(sd, tmp_path / "bare.pth")
    m = load_model(tmp_path / "bare.pth", num_heads=4)
    x = torch.from_numpy(np.load(FIXTURES / "pose3d_io.npz")["x_T27"])
    with torch.no_grad():
        assert torch.equal(m(x), models["pose3d"](x))
