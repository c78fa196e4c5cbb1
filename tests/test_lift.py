"""Sliding-window lifting: short clips go through directly, long ones are covered and blended."""
import numpy as np
import torch

from motionbert_cli import DSTformer, DSTformerConfig
from motionbert_cli.keypoints import flip_h36m
from motionbert_cli.lift import blend_weights, lift_sequence, window_starts


def small_model():
    torch.manual_seed(0)
    return DSTformer(DSTformerConfig(dim_feat=32, dim_rep=16, depth=1, num_heads=4, maxlen=27)).eval()


def test_window_starts_cover_everything():
    for T in (27, 28, 50, 100, 1000):
        s = window_starts(T, 27, 18)
        covered = np.zeros(T, bool)
        for a in s:
            covered[a:a + 27] = True
        assert covered.all() and s[-1] == T - 27 and all(b > a for a, b in zip(s, s[1:]))
    assert window_starts(10, 27, 18) == [0]
    w = blend_weights(27)
    assert w[13] == 1 and w[0] < w[5] < w[13]


def test_short_clip_is_one_direct_call():
    m = small_model()
    x = np.random.default_rng(0).uniform(-1, 1, (20, 17, 3)).astype(np.float32)
    y = lift_sequence(m, x, flip=False)
    with torch.no_grad():
        np.testing.assert_allclose(y, m(torch.from_numpy(x)[None])[0].numpy(), atol=1e-6)


def test_flip_augmentation_averages_mirrored_prediction():
    m = small_model()
    x = np.random.default_rng(1).uniform(-1, 1, (20, 17, 3)).astype(np.float32)
    y = lift_sequence(m, x, flip=True)
    xt = torch.from_numpy(x)[None]
    with torch.no_grad():
        ref = (m(xt) + flip_h36m(m(flip_h36m(xt)))) / 2
    np.testing.assert_allclose(y, ref[0].numpy(), atol=1e-6)


def test_long_sequence_matches_windows_where_only_one_covers():
    m = small_model()
    x = np.random.default_rng(2).uniform(-1, 1, (100, 17, 3)).astype(np.float32)
    y = lift_sequence(m, x, flip=False, batch_size=3)
    assert y.shape == (100, 17, 3) and np.isfinite(y).all()
    with torch.no_grad():
        first = m(torch.from_numpy(x[:27])[None])[0].numpy()
    # frames 0..17 are covered by the first window only (the second starts at 18)
    np.testing.assert_allclose(y[:18], first[:18], atol=1e-5)


def test_pixel_mode_normalises_each_window_and_maps_back():
    from motionbert_cli.keypoints import apply_crop, crop_box

    m = small_model()
    rng = np.random.default_rng(3)
    px = np.concatenate([rng.uniform(100, 500, (60, 17, 2)), np.ones((60, 17, 1))], -1).astype(np.float32)
    px[30:, :, 0] += 800  # the person walks far across the frame
    y = lift_sequence(m, px, flip=False, pixels=True)
    box = crop_box(px[:27])
    with torch.no_grad():
        first = m(torch.from_numpy(apply_crop(px[:27], box))[None])[0].numpy()
    x0, y0, size = box
    expect = first * size / 2 + np.array([x0 + size / 2, y0 + size / 2, 0])
    np.testing.assert_allclose(y[:18], expect[:18], rtol=1e-5, atol=1e-3)
    assert np.isfinite(y).all() and y[40:, :, 0].mean() > y[:20, :, 0].mean() + 500  # follows the person


def test_ensemble_averages_members_lifted_with_their_own_windows():
    """pose3d's default lifter is a pair with different windows: each member lifts the whole sequence with
    its own windows and box, and the outputs are averaged; the progress bar counts every member's windows."""
    import pytest

    from motionbert_cli.lift import LifterEnsemble, lift_window_count

    torch.manual_seed(1)
    short = DSTformer(DSTformerConfig(dim_feat=32, dim_rep=16, depth=1, num_heads=4, maxlen=9)).eval()
    ens = LifterEnsemble([small_model(), short])
    rng = np.random.default_rng(4)
    px = np.concatenate([rng.uniform(100, 500, (70, 17, 2)), np.ones((70, 17, 1))], -1).astype(np.float32)
    done = []
    y = lift_sequence(ens, px, flip=True, pixels=True, progress=done.append)
    expect = [lift_sequence(m, px, flip=True, pixels=True) for m in ens.members]
    np.testing.assert_allclose(y, (expect[0] + expect[1]) / 2, atol=1e-5)
    assert not np.allclose(expect[0], expect[1], atol=1.0)  # the members differ, so the mean is not one of them
    assert sum(done) == lift_window_count(ens, 70) == lift_window_count(ens.members[0], 70) + 12 == 4 + 12
    assert ens.cfg.maxlen == 27
    with pytest.raises(TypeError):
        ens(torch.from_numpy(px[:9])[None])


def test_live_lifts_its_causal_window_as_pose3d_lifts_that_window():
    """live's newest-frame 3D is pose3d's lifting of the same window (one crop/flip/un-crop path), for people
    with windows of different lengths lifted together; a person with no confident joint gives None."""
    from motionbert_cli.live import lift_newest

    m = small_model()
    rng = np.random.default_rng(4)
    a = np.concatenate([rng.uniform(100, 500, (27, 17, 2)), np.ones((27, 17, 1))], -1).astype(np.float32)
    b = a[:12].copy()
    b[..., 0] += 300
    blank = np.zeros((27, 17, 3), np.float32)
    got = lift_newest(m, [a, blank, b], flip=True)
    assert got[1] is None
    for w, y in ((a, got[0]), (b, got[2])):
        np.testing.assert_array_equal(y, lift_sequence(m, w, flip=True, pixels=True)[-1])
    assert np.isnan(lift_sequence(m, blank, flip=True, pixels=True)).all()  # nothing to lift: unknown, not zeros


def test_openvino_lifter_gives_pytorchs_output(tmp_path, monkeypatch):
    """live's OpenVINO forward of the shipped 27-frame lifter equals PyTorch's to float32 rounding for every
    batch and window length (the IR has dynamic shapes), through live's whole newest-frame step; the IR is
    converted once and read from the cache after."""
    from motionbert_cli.checkpoint import load_model
    from motionbert_cli.lift_openvino import openvino_forward, openvino_ir
    from motionbert_cli.live import lift_newest

    monkeypatch.setenv("MOTIONBERT_CACHE", str(tmp_path))
    m = load_model()
    fwd = openvino_forward(m)
    ir = openvino_ir(m)
    assert ir.parent == tmp_path / "lifters" and ir.with_suffix(".bin").is_file()
    stamp = ir.stat().st_mtime_ns
    rng = np.random.default_rng(5)
    with torch.no_grad():
        for B, T in ((1, 27), (2, 27), (3, 9)):
            x = torch.from_numpy(rng.uniform(-1, 1, (B, T, 17, 3)).astype(np.float32))
            np.testing.assert_allclose(fwd(x).numpy(), m(x).numpy(), atol=1e-4)
    a = np.concatenate([rng.uniform(100, 500, (27, 17, 2)), np.ones((27, 17, 1))], -1).astype(np.float32)
    got, ref = lift_newest(m, [a, a[:10]], True, fwd), lift_newest(m, [a, a[:10]], True)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, atol=1e-2)  # pixels
    openvino_forward(m)
    assert openvino_ir(m).stat().st_mtime_ns == stamp  # read from the cache, not converted again


def test_openvino_lifter_sends_no_telemetry(tmp_path):
    """live's OpenVINO lifter imports openvino before the detector does: converting (first run) and reading the
    cached IR (second run) must not start OpenVINO's telemetry, which writes a client id under ~/intel."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "MOTIONBERT_CACHE": str(tmp_path / "cache")}
    code = ("from motionbert_cli.checkpoint import load_model\n"
            "from motionbert_cli.lift_openvino import openvino_forward\n"
            "openvino_forward(load_model())\n")
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert not (home / "intel").exists(), list(home.rglob("*"))
    assert len(list((tmp_path / "cache" / "lifters").glob("*.xml"))) == 1
