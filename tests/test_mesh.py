"""`motionbert mesh` end to end with the official-format mesh checkpoint (synthetic SMPL inside)."""
import cv2
import numpy as np
import pytest
import torch

from conftest import FIXTURES, VIDEOS, need, run_cli
from motionbert_cli import load_model
from motionbert_cli.checkpoint import _read, official_state_dict
from motionbert_cli.mesh import flip_params, orthonormalise
from motionbert_cli.people import prepare_person
from test_cli_pose3d import one_line_error


@pytest.fixture(scope="module")
def keypoints(tmp_path_factory):
    """A COCO-17 keypoint file for cam01 (a fixed walking-like figure), so the test needs no detector."""
    rng = np.random.default_rng(0)
    T = 100
    base = np.array([[540, 700], [550, 690], [530, 690], [560, 700], [520, 700], [600, 800], [480, 800],
                     [620, 950], [460, 950], [630, 1080], [450, 1080], [580, 1100], [500, 1100], [590, 1350],
                     [490, 1350], [600, 1600], [480, 1600]], np.float32)
    kp = np.zeros((T, 17, 3), np.float32)
    kp[..., :2] = base + rng.normal(0, 3, (T, 17, 2)) + np.linspace(0, 60, T)[:, None, None]
    kp[..., 2] = 0.9
    p = tmp_path_factory.mktemp("kp") / "cam01_coco.npy"
    np.save(p, kp)
    return p, kp


@pytest.mark.slow
def test_mesh_cli_matches_direct_model_call(tmp_path, keypoints):
    kp_file, kp = keypoints
    ckpt = need(FIXTURES / "mesh.bin")
    video = need(VIDEOS / "pose2sim_single/cam01.mp4")
    out, render = tmp_path / "out", tmp_path / "render.mp4"
    res = run_cli("mesh", video, "-c", ckpt, "--heads", "4", "--keypoints", kp_file, "--no-flip", "--render",
                  render, "--save-verts", "-o", out)
    assert res.returncode == 0, res.stderr[-2000:]
    # its own timing file: pose3d's, in the same default folder, is not overwritten
    assert (out / "timing_mesh.json").is_file() and not (out / "timing.json").exists()
    d = np.load(out / "mesh.npz")
    assert d["poses"].shape == (1, 100, 72) and d["betas"].shape == (1, 100, 10) and d["transl"].shape == (1, 100, 3)
    assert d["joints3d"].shape == (1, 100, 17, 3) and d["verts"].shape == (1, 100, 6890, 3)
    model = load_model(ckpt, num_heads=4)
    _, x, _ = prepare_person(kp, (1080, 1920), pixel=False)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])
    np.testing.assert_allclose(d["poses"][0], ref["theta"][0, :, :72].numpy(), atol=1e-3)
    np.testing.assert_allclose(d["betas"][0], ref["theta"][0, :, 72:].numpy(), atol=1e-4)
    # joints and vertices: the model's (mm -> m) moved by SMPL's transl, which puts the pelvis where the lifter says
    kp3d = ref["kp_3d"][0].numpy() / 1000
    np.testing.assert_allclose(d["verts"][0], ref["verts"][0].numpy() / 1000 + d["transl"][0][:, None], atol=1e-4)
    np.testing.assert_allclose(d["joints3d"][0], kp3d + d["transl"][0][:, None], atol=1e-4)
    np.testing.assert_allclose(d["joints3d"][0, :, 0], d["pelvis"][0], atol=1e-5)
    assert np.isfinite(d["pelvis"]).all() and (d["pelvis"][0, :, 2] > 0.5).all()
    # the pelvis projects onto the 2D pelvis (between the hips) and follows it 60 px to the right
    f = float(d["focal_length"])
    uv = f * d["pelvis"][0, :, :2] / d["pelvis"][0, :, 2:] + np.array([540, 960])
    hips = kp[:, 11:13, :2].mean(1)
    # Near, not on: the default pair's Human3.6M-trained member puts the pelvis at the hip joints' centre,
    # ~2.4 cm above the detector's hip keypoints (synth.HIP_OFFSET), ~10 px on this 800 px figure; the last
    # frames, lifted from the edge of a window, stray most (17 px with stage 19, 2026-12-07).
    err = np.abs(uv - hips)
    assert np.median(err) < 10 and np.percentile(err, 95) < 15 and err.max() < 25, (np.median(err), err.max())
    assert 45 < uv[-10:, 0].mean() - uv[:10, 0].mean() < 75
    # the files work with smplx itself: SMPL(poses, betas, transl) gives the camera-frame vertices
    smpl_file = _smpl_pickle(model.head.smpl, tmp_path / "SMPL_NEUTRAL.pkl")
    import smplx

    body = smplx.SMPL(model_path=str(smpl_file))
    t = torch.from_numpy
    with torch.no_grad():
        v = body(global_orient=t(d["poses"][0, :, :3]), body_pose=t(d["poses"][0, :, 3:]), betas=t(d["betas"][0]),
                 transl=t(d["transl"][0])).vertices.numpy()
    np.testing.assert_allclose(v, d["verts"][0], atol=2e-3)
    # the render: the video's size and frame count, changed where the body is drawn
    cap, src = cv2.VideoCapture(str(render)), cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 100
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (1080, 1920)
    for _ in range(51):
        _, a = cap.read()
        _, b = src.read()
    u, v = uv[50].astype(int)
    diff = np.abs(a.astype(int) - b.astype(int)).sum(-1)
    assert diff[v - 5:v + 5, u - 5:u + 5].mean() > 20


def _smpl_pickle(layer, path):
    """Our SMPL layer's buffers written as an SMPL .pkl in the layout smplx reads."""
    import pickle

    a = {k: v.numpy() for k, v in layer.state_dict().items()}
    with open(path, "wb") as f:
        pickle.dump({"v_template": a["v_template"], "shapedirs": a["shapedirs"],
                     "posedirs": a["posedirs"].T.reshape(6890, 3, -1), "J_regressor": a["J_regressor"],
                     "weights": a["lbs_weights"], "kintree_table": np.stack([a["parents"], np.arange(24)]),
                     "f": a["faces_tensor"]}, f)
    return path


def test_flip_params_is_an_involution():
    rng = np.random.default_rng(0)
    R = orthonormalise(rng.normal(size=(5, 24, 3, 3)))
    p = torch.from_numpy(np.concatenate([R.reshape(5, -1), rng.normal(size=(5, 10))], -1))
    torch.testing.assert_close(flip_params(flip_params(p)), p)
    assert np.allclose(np.linalg.det(R), 1)


@pytest.mark.slow
def test_mesh_errors(tmp_path, keypoints):
    kp_file, _ = keypoints
    video = need(VIDEOS / "pose2sim_single/cam01.mp4")
    one_line_error(run_cli("mesh", video, "-c", FIXTURES / "pose3d.bin", "--heads", "4", "--keypoints", kp_file,
                           "-o", tmp_path / "o"), "pose3d model", "mesh model")
    # the lifter that places the body must be a pose3d model
    one_line_error(run_cli("mesh", video, "-c", FIXTURES / "mesh.bin", "--heads", "4", "--pose-checkpoint",
                           FIXTURES / "action.bin", "--keypoints", kp_file, "-o", tmp_path / "o"),
                   "action model", "pose3d model")
    sd = official_state_dict(_read(FIXTURES / "mesh.bin"))
    torch.save({"model": {k: v for k, v in sd.items() if not k.startswith("head.smpl.")}}, tmp_path / "nosmpl.bin")
    env_free = run_cli("mesh", video, "-c", tmp_path / "nosmpl.bin", "--heads", "4", "--keypoints", kp_file,
                       "-o", tmp_path / "o")
    one_line_error(env_free, "SMPL", "smpl.is.tue.mpg.de", "--smpl-dir")
    one_line_error(run_cli("mesh", video, "-c", tmp_path / "nosmpl.bin", "--smpl-dir", tmp_path / "nowhere",
                           "--keypoints", kp_file, "-o", tmp_path / "o"), "SMPL_NEUTRAL.pkl not found")
    assert not (tmp_path / "o").exists()
    ok = run_cli("mesh", video, "-c", tmp_path / "nosmpl.bin", "--heads", "4", "--smpl-dir", FIXTURES / "smpl",
                 "--keypoints", kp_file, "-o", tmp_path / "o2")
    assert ok.returncode == 0, ok.stderr[-2000:]
