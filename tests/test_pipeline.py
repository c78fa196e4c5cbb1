"""pose3d's compute step on its own: tracks in, a Motion3D out, nothing written; then the writers take it."""
import json

import numpy as np
import pytest

from motionbert_cli.angles import joint_angles
from motionbert_cli.checkpoint import load_model
from motionbert_cli.export import OutputDir, write_pose3d
from motionbert_cli.pipeline import Pose3dOptions, lift_people
from motionbert_cli.tracks import Tracks
from motionbert_cli.video import VideoInfo
from test_inputs import walker


def two_people(T=60):
    tracks = Tracks(T)
    for tid, x0, (s, e) in ((4, 0, (0, T)), (9, 400, (10, 50))):
        k = np.zeros((T, 17, 3), np.float32)
        k[s:e] = walker(T)[s:e] + [x0, 0, 0]
        tracks.ids.append(tid), tracks.kpts.append(k), tracks.boxes.append(np.full((T, 4), np.nan, np.float32))
    return tracks


def test_lift_people_computes_without_writing(tmp_path):
    model = load_model()  # the shipped lifter
    tracks = two_people()
    info = VideoInfo(None, 30.0, 1280, 720, 60)
    calls = []
    m = lift_people(model, tracks, [0, 1], info, Pose3dOptions(video=None), progress=calls.append)
    assert not list(tmp_path.iterdir()) and sum(calls) > 0
    assert m.track_ids == [4, 9] and m.joints3d.shape == m.joints3d_camera.shape == (2, 60, 17, 3)
    seen = np.isfinite(m.joints3d).all((-1, -2))
    assert seen[0].all() and seen[1, 10:50].all() and not seen[1, :10].any() and not seen[1, 50:].any()
    assert (m.keypoints2d[1, :10] == 0).all()
    # metres: a standing person's thigh near the adult 0.45 m; placed in front of the camera
    thigh = np.linalg.norm(m.joints3d[0, :, 1] - m.joints3d[0, :, 2], axis=-1)
    assert 0.3 < np.median(thigh) < 0.6 and (m.joints3d_camera[0, :, 0, 2] > 0).all()
    assert "metres" in m.units and m.focal_length == 1280
    # --pixel: the same people in the official demo's pixel units, no camera placement
    mp = lift_people(model, tracks, [0], info, Pose3dOptions(video=None, pixel=True))
    assert mp.joints3d_camera is None and mp.units.startswith("pixels")
    np.testing.assert_allclose(np.nanmedian(mp.joints3d[0, :, 0, :2], 0), np.nanmedian(m.keypoints2d[0, :, 0, :2], 0),
                               atol=30)
    # the writers take the result as it is
    with OutputDir(tmp_path / "out") as out:
        angles = write_pose3d(out, m)  # files only: the plots are the caller's (pipeline draws them)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [".motionbert_files.json", "motion.json", "motion.npz", "person_4.bvh", "person_4.csv", "person_4.trc",
                     "person_4_angles.csv", "person_9.bvh", "person_9.csv", "person_9.trc", "person_9_angles.csv"]
    assert sorted(angles) == [4, 9] and "knee_flexion_left" in angles[9]
    rows = (tmp_path / "out/person_9_angles.csv").read_text().splitlines()
    assert rows[0].startswith("frame,time_s,knee_flexion_left_deg,knee_flexion_right_deg,") and len(rows) == 61
    assert rows[1].split(",")[2] == "" and rows[11].split(",")[2] != ""  # unseen frames are empty
    knee = joint_angles(m.joints3d[1])["knee_flexion_left"][10]
    assert float(rows[11].split(",")[2]) == pytest.approx(knee, abs=0.01)
    d = np.load(tmp_path / "out/motion.npz")
    np.testing.assert_array_equal(d["joints3d_camera"], m.joints3d_camera)
    assert json.loads((tmp_path / "out/motion.json").read_text())["track_ids"] == [4, 9]


def test_smoothing_calms_the_3d_and_keeps_gaps():
    model = load_model()
    tracks = two_people()
    rng = np.random.default_rng(0)
    for k in tracks.kpts:  # detector-like jitter on top of the walk
        seen = k[..., 2] > 0
        k[..., :2] += np.where(seen[..., None], rng.normal(0, 4, k[..., :2].shape), 0).astype(np.float32)
    info = VideoInfo(None, 30.0, 1280, 720, 60)

    def accel(a):
        return np.nanmean(np.linalg.norm(a[2:] - 2 * a[1:-1] + a[:-2], axis=-1))

    raw = lift_people(model, tracks, [0, 1], info, Pose3dOptions(video=None, smooth="none"))
    for method in ("butterworth", "one-euro"):
        sm = lift_people(model, tracks, [0, 1], info, Pose3dOptions(video=None, smooth=method))
        assert sm.smoothing == method
        assert accel(sm.joints3d[0]) < 0.7 * accel(raw.joints3d[0])
        assert accel(sm.keypoints2d_drawn[0, ..., :2]) < 0.7 * accel(raw.keypoints2d[0, ..., :2])
        np.testing.assert_array_equal(sm.keypoints2d, raw.keypoints2d)  # the files keep the 2D as detected
        np.testing.assert_array_equal(np.isnan(sm.joints3d), np.isnan(raw.joints3d))  # gaps stay gaps
        assert (sm.keypoints2d_drawn[1, :10] == 0).all()
