"""Action recognition: official logits through our preparation path and API, the CLI, and one-shot galleries."""
import json
import shutil

import numpy as np
import pytest
import torch

from conftest import FIXTURES, VIDEOS, need, run_cli
from motionbert_cli import load_model
from motionbert_cli.action import (ClipKeypoints, class_names, classify, embed, prepare_ntu, resample_indices,
                                   window_clips)
from test_cli_pose3d import one_line_error


@pytest.fixture(scope="module")
def action_model():
    return load_model(need(FIXTURES / "action.bin"), num_heads=4)


def test_fixture_logits_through_api_and_cli_path(action_model):
    io = np.load(FIXTURES / "action_io.npz")
    with torch.no_grad():
        logits = action_model(torch.from_numpy(io["x"])).numpy()
    assert np.abs(logits - io["logits"]).max() < 1e-4
    scores = classify(action_model, io["x"])  # what the CLI calls on prepared input
    ref = torch.softmax(torch.from_numpy(io["logits"]), -1).numpy()
    assert np.abs(scores - ref).max() < 1e-5


def test_prepare_ntu_by_hand():
    kp = np.zeros((10, 17, 3), np.float32)
    kp[:, :, 0] = np.linspace(100, 300, 17)
    kp[:, :, 1] = np.linspace(50, 450, 17)
    kp[:, :, 2] = np.linspace(0.1, 0.9, 17)  # distinct confidences reveal their joint order
    x = prepare_ntu([kp], (640, 480), n_frames=243)
    # the fake second person: confidence 0; like the official crop_scale, its (0, 0) is mapped too
    assert x.shape == (2, 243, 17, 3) and (x[1, ..., 2] == 0).all() and np.ptp(x[1, ..., :2].reshape(-1, 2), axis=0).max() == 0
    assert x[0, :, :, :2].min() >= -1 and x[0, :, :, :2].max() <= 1
    # the official pipeline keeps confidences in COCO order next to H36M coordinates
    np.testing.assert_allclose(x[0, 0, :, 2], kp[0, :, 2], rtol=1e-6)
    np.testing.assert_array_equal(resample_indices(10, 5), [0, 2, 4, 6, 8])


def test_class_names():
    assert class_names(60)[0] == "drink water" and len(class_names(120)) == 120
    assert class_names(120)[119].startswith("finger-guessing")


@pytest.mark.slow
def test_cli_on_ntu_clip(tmp_path):
    out = tmp_path / "scores.json"
    res = run_cli("action", need(VIDEOS / "ntu_A001_drink_water.avi"), "-c", FIXTURES / "action.bin", "--heads",
                  "4", "--top-k", "3", "--json", out, "--window", "1.5")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "top-3 of 60 classes" in res.stdout and "timeline" in res.stdout
    d = json.loads(out.read_text())
    top = d["top_k"][0]
    assert len(d["top_k"]) == 3 and d["prediction"] == (top["label"] if top["score"] >= 0.4 else "unsure")
    assert d["top_k"][0]["score"] >= d["top_k"][1]["score"] >= d["top_k"][2]["score"]
    assert len(d["windows"]) >= 2 and d["windows"][0]["start_s"] == 0


def test_pose_checkpoint_needs_gallery(tmp_path):
    one_line_error(run_cli("action", need(VIDEOS / "ntu_A001_drink_water.avi"), "-c", FIXTURES / "pose3d.bin",
                           "--heads", "4"), "pose3d model", "--gallery")


@pytest.mark.slow
def test_gallery_each_clip_matches_itself(tmp_path):
    gal = tmp_path / "gallery"
    clips = {"drink": VIDEOS / "ntu_A001_drink_water.avi", "lunge": VIDEOS / "pose2sim_single/cam01.mp4",
             "walk": VIDEOS / "sports2d_demo.mp4"}
    for name, src in clips.items():
        (gal / name).mkdir(parents=True)
        shutil.copy(need(src), gal / name / src.name)
    ckpt = FIXTURES / "pose3d.bin"
    for i, (name, src) in enumerate(clips.items()):
        if name == "walk":
            continue  # the index is what is under test here; two queries cover it
        out = tmp_path / f"{name}.json"
        res = run_cli("action", src, "--gallery", gal, "--build-index", "-c", ckpt, "--heads", "4", "--json", out)
        assert res.returncode == 0, res.stderr[-2000:]
        d = json.loads(out.read_text())
        assert d["prediction"] == name, d
        assert d["matches"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)
        assert (gal / ".motionbert_index.npz").is_file()


def test_embedding_is_unit_and_ignores_missing_person():
    m = load_model(need(FIXTURES / "pose3d.bin"), num_heads=4)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, 30, 17, 3)).astype(np.float32)
    x1 = x.copy()
    x1[:, 1] = 0
    e = embed(m, x1)
    assert e.shape == (1, 17 * 32) and abs(np.linalg.norm(e) - 1) < 1e-5
    e_single = embed(m, x1[:, :1])
    np.testing.assert_allclose(e, e_single, atol=1e-5)


@pytest.mark.slow
def test_default_model_labels_the_main_person_or_each(tmp_path):
    """No -c: the shipped everyday-action model labels the most prominent person only (a bystander at the
    edge no longer decides the clip's label); --person all labels each, the clip's label the surer one's;
    --person ID that track (issue 28)."""
    clip = need(VIDEOS / "sports2d_demo.mp4")
    out = tmp_path / "a.json"
    res = run_cli("action", clip, "--json", out, "--window", "3")
    assert res.returncode == 0, res.stderr[-2000:]
    d = json.loads(out.read_text())
    assert d["checkpoint"].endswith("motionbert_cpu_action.bin") and len(d["track_ids"]) == 1
    names = load_model(d["checkpoint"]).meta["classes"]
    assert "people" not in d and d["prediction"] in names + ["unsure"] and d["windows"]
    for w in d["windows"]:  # each window is unsure on the clip's terms (--min-score 0.4)
        assert w["label"] in names and w["prediction"] == (w["label"] if w["score"] >= 0.4 else "unsure")
    res = run_cli("action", clip, "--json", out, "--window", "3", "--person", "all")
    assert res.returncode == 0, res.stderr[-2000:]
    d_all = json.loads(out.read_text())
    assert len(d_all["people"]) == 2 and all(p["prediction"] in names + ["unsure"] for p in d_all["people"])
    best = max(d_all["people"], key=lambda p: p["top_k"][0]["score"])
    assert d_all["prediction"] == best["prediction"] and d_all["windows"] == best["windows"]
    assert "person #" in res.stdout and "A001" not in res.stdout
    other = [t for t in d_all["track_ids"] if t != d["track_ids"][0]][0]
    res = run_cli("action", clip, "--json", out, "--person", str(other))
    assert res.returncode == 0 and json.loads(out.read_text())["track_ids"] == [other]
    one_line_error(run_cli("action", clip, "--person", "999"), "no such track", str(other))


@pytest.mark.slow
def test_too_short_or_unsure_clips_say_so(tmp_path):
    """A still image or a cut shorter than half a second is refused (it shows a posture, not an action);
    a top score under --min-score answers 'unsure' instead of a confident wrong class (issue 28)."""
    import cv2

    clip = need(VIDEOS / "sports2d_demo.mp4")
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, frame = cap.read()
    cv2.imwrite(str(tmp_path / "still.png"), frame)
    one_line_error(run_cli("action", tmp_path / "still.png"), "at least 0.5 s")
    one_line_error(run_cli("action", clip, "--start", "0", "--end", "10f"), "at least 0.5 s")
    out = tmp_path / "a.json"
    res = run_cli("action", clip, "--end", "3", "--min-score", "0.99", "--json", out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(out.read_text())["prediction"] == "unsure" and "unsure" in res.stdout


def test_timeline_windows_shorter_than_the_network_see_it_at_real_speed():
    """--window 2 with an 81-frame model: each window's label comes from 2.7 s of motion centred on it (inside
    the clip), not from 2 s stretched to 81 frames; the spans reported stay the 2 s windows."""
    T, fps = 300, 30.0
    k = np.zeros((T, 17, 3), np.float32)
    k[..., 0] = np.arange(T)[:, None]  # frame index in x, to read back where each cut came from
    k[..., 2] = 1.0
    ck = ClipKeypoints([k], (1000, 1000), fps, T, "h36m")
    wins = window_clips(ck, 2.0, context_s=81 / 30)
    assert [(a, b) for a, b, _ in wins] == [(2.0 * i, 2.0 * i + 2.0) for i in range(5)]
    for a, b, (cut,) in wins:
        frames = cut[:, 0, 0]
        assert len(cut) == 81 and np.all(np.diff(frames) == 1) and 0 <= frames[0] and frames[-1] < T
        if 0 < a and b < T / fps:  # away from the clip's ends: centred on the window
            assert abs((frames[0] + frames[-1]) / 2 - (a + b) / 2 * fps) <= 1
    assert wins[0][2][0][0, 0, 0] == 0 and wins[-1][2][0][-1, 0, 0] == T - 1
    # 3 s windows are long enough already; only the 1 s tail (frames 270-299) is widened
    assert [len(cut) for _, _, (cut,) in window_clips(ck, 3.0, context_s=81 / 30)] == [90, 90, 90, 81]
