"""Our checkpoint format round-trips, and bad files fail with one clear error."""
import numpy as np
import pytest
import torch

from conftest import FIXTURES, need
from motionbert_cli import CheckpointError, DSTformer, DSTformerConfig, load_model, save_model
from motionbert_cli.checkpoint import _read, official_state_dict

SMALL = DSTformerConfig(dim_feat=32, dim_rep=16, depth=2, num_heads=4, mlp_ratio=2, maxlen=27)


def test_round_trip_keeps_outputs_and_heads(tmp_path):
    torch.manual_seed(0)
    m = DSTformer(SMALL, residual_xy=True, box_ratio=1.3).eval()  # fields the shapes cannot reveal
    path = save_model(m, tmp_path / "ours.bin", meta={"note": "test"})
    m2 = load_model(path)  # num_heads comes from the file, not the default 8
    assert m2.cfg == m.cfg and m2.task == "pose3d" and m2.meta["note"] == "test"
    x = torch.randn(2, 27, 17, 3)
    with torch.no_grad():
        assert torch.equal(m(x), m2(x))
        assert m2.get_representation(x).shape == (2, 27, 17, 16)
    assert not list(tmp_path.glob("*.tmp")), "temporary file left behind"


def test_round_trip_action_and_mesh(tmp_path):
    need(FIXTURES / "action.bin")
    for task in ("action", "mesh"):
        m = load_model(FIXTURES / f"{task}.bin", num_heads=4)
        m2 = load_model(save_model(m, tmp_path / f"{task}.bin"))
        assert m2.task == task
        for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
            assert k == k2 and torch.equal(a, b)


def test_standardised_action_head_round_trips(tmp_path):
    """Our trained heads scale pooled features by stored training statistics; the scaling survives a save and
    load (official heads, without the buffers, load with standardize off)."""
    from motionbert_cli.heads import ActionConfig, ActionNet

    torch.manual_seed(0)
    m = ActionNet(DSTformer(SMALL), ActionConfig(num_classes=3, hidden_dim=8, pool="mean_std", standardize=True))
    feats = torch.randn(50, 17 * 32) * torch.logspace(-3, 1, 17 * 32) + 5
    m.head.set_standardization(feats)
    z = m.head._standardized(feats)
    assert torch.allclose(z.mean(0), torch.zeros(17 * 32), atol=2e-3)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(17 * 32), atol=1e-3)
    m.task = "action"
    m2 = load_model(save_model(m.eval(), tmp_path / "a.bin"))
    assert m2.head.standardize and m2.head_cfg.pool == "mean_std"
    x = torch.randn(2, 1, 27, 17, 3)
    with torch.no_grad():
        assert torch.equal(m(x), m2(x))


def test_box_ratio_sets_the_normalising_box():
    """pose3d normalises each window by the person's box enlarged by the model's box_ratio: official files
    have 1.0 (the official demo's crop_scale); the shipped lifter 1.2, the middle of what it was trained on."""
    from motionbert_cli.checkpoint import default_checkpoint
    from motionbert_cli.lift import lift_sequence

    if FIXTURES.is_dir():
        assert load_model(FIXTURES / "pose3d.bin", num_heads=4).cfg.box_ratio == 1.0
    assert load_model(default_checkpoint()).cfg.box_ratio == 1.2
    x = np.zeros((27, 17, 3), np.float32)
    x[:, :, 0] = np.linspace(100, 300, 17)  # 200 px wide, 100 px tall
    x[:, :, 1] = np.linspace(50, 150, 17)
    x[:, :, 2] = 1.0
    for ratio in (1.0, 1.25):
        seen = []
        m = DSTformer(SMALL, box_ratio=ratio).eval()
        lift_sequence(m, x, pixels=True, flip=False, fn=lambda t: seen.append(t) or m(t))
        assert seen[0][..., 0].abs().max().item() == pytest.approx(1 / ratio, abs=1e-6)


def test_default_lifter_is_the_shipped_pair_and_a_checkpoint_is_used_alone():
    """pose3d without -c averages the shipped 27-frame lifter and the 81-frame one trained on Human3.6M motion;
    -c FILE lifts with FILE alone. Both are plain checkpoints any command loads (box ratio 1.2); the pair's
    joints are half detector points, half mocap joint centres, which is what mesh fits the body to."""
    from motionbert_cli.checkpoint import DEFAULT_POSE3D_SECOND, default_checkpoint
    from motionbert_cli.lift import LifterEnsemble, detector_share, load_pose3d

    pair = load_pose3d(None, None, "cpu")
    assert isinstance(pair, LifterEnsemble)
    assert [m.cfg.maxlen for m in pair.members] == [27, 81] and {m.cfg.box_ratio for m in pair.members} == {1.2}
    assert pair.source.endswith(DEFAULT_POSE3D_SECOND) and "motionbert_cpu_pose3d.bin + " in pair.source
    assert [m.cfg.depth for m in pair.members] == [4, 6] and detector_share(pair) == 0.5
    second = load_model(default_checkpoint(name=DEFAULT_POSE3D_SECOND))
    assert second.state_dict().keys() == pair.members[1].state_dict().keys() and detector_share(second) == 0.0
    alone = load_pose3d(default_checkpoint(), None, "cpu")
    assert not isinstance(alone, LifterEnsemble) and alone.cfg.maxlen == 27 and detector_share(alone) == 1.0
    w81 = load_model(default_checkpoint(name="motionbert_cpu_pose3d_w81.bin"))  # the partner before: still shipped
    assert w81.cfg.maxlen == 81 and w81.state_dict().keys() == alone.state_dict().keys()


def test_too_long_input_is_a_clear_error():
    m = DSTformer(SMALL).eval()
    with pytest.raises(ValueError, match="exceed this model's maxlen 27"):
        m(torch.zeros(1, 28, 17, 3))


@pytest.mark.parametrize("content,match", [
    (b"hello, not a checkpoint\n", "not a"),
    (b"", "not a"),
])
def test_garbage_files(tmp_path, content, match):
    p = tmp_path / "bad.bin"
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_model(p)


def test_missing_and_truncated(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.bin")
    path = save_model(DSTformer(SMALL), tmp_path / "ok.bin")
    data = path.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(tmp_path / "cut.bin")


def test_unknown_keys_and_shape_mismatch(tmp_path):
    sd = DSTformer(SMALL).state_dict()
    torch.save({**sd, "extra.weight": torch.zeros(3)}, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="unexpected 1 keys"):
        load_model(tmp_path / "extra.pth", num_heads=4)
    bad = dict(sd)
    bad["blocks_ts.1.mlp_s.fc1.weight"] = torch.zeros(5, 32)
    torch.save(bad, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_model(tmp_path / "shape.pth", num_heads=4)
    torch.save({"foo": torch.zeros(2)}, tmp_path / "foreign.pth")
    with pytest.raises(CheckpointError, match="unrecognised weights"):
        load_model(tmp_path / "foreign.pth")


def test_wrong_task_is_named():
    need(FIXTURES / "action.bin")
    with pytest.raises(CheckpointError, match="is a action model, but a pose3d model is needed"):
        load_model(FIXTURES / "action.bin", task="pose3d", num_heads=4)


def test_heads_that_do_not_divide_the_width():
    need(FIXTURES / "pose3d.bin")
    with pytest.raises(CheckpointError, match="num_heads=5"):
        load_model(FIXTURES / "pose3d.bin", num_heads=5)


def test_mesh_checkpoint_without_smpl_buffers(tmp_path):
    need(FIXTURES / "mesh.bin")
    sd = official_state_dict(_read(FIXTURES / "mesh.bin"))
    sd = {k: v for k, v in sd.items() if not k.startswith("head.smpl.v_template")}
    torch.save({"model": sd}, tmp_path / "mesh_nosmpl.bin")
    with pytest.raises(CheckpointError, match="v_template.*smpl.is.tue.mpg.de"):
        load_model(tmp_path / "mesh_nosmpl.bin", num_heads=4)
    # with the SMPL files it loads, and since the files hold the same body model, gives the same output
    m = load_model(tmp_path / "mesh_nosmpl.bin", num_heads=4, smpl_dir=FIXTURES / "smpl")
    ref = load_model(FIXTURES / "mesh.bin", num_heads=4)
    x = torch.from_numpy(np.load(FIXTURES / "mesh_io.npz")["x"])
    with torch.no_grad():
        assert torch.allclose(m(x)["verts"], ref(x)["verts"], atol=1e-2)


def test_a_shipped_file_can_be_named_bare_and_a_local_file_wins(tmp_path, monkeypatch):
    """`-c motionbert_cpu_pose3d_h36m.bin` finds the shipped file (package data is deep in site-packages); a
    file of that name in the working folder is taken first; an unknown bare name is still 'not found'."""
    from motionbert_cli.checkpoint import WEIGHTS_DIR, CheckpointError

    monkeypatch.chdir(tmp_path)
    m = load_model("motionbert_cpu_pose3d_h36m.bin")
    assert m.source == str(WEIGHTS_DIR / "motionbert_cpu_pose3d_h36m.bin") and m.cfg.maxlen == 81
    (tmp_path / "motionbert_cpu_pose3d_h36m.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_model("motionbert_cpu_pose3d_h36m.bin")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model("no_such_model.bin")
