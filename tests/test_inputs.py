"""Fast checks of the input and output code around the network: keypoint files and their joint order,
left/right swap repair, track stitching and selection, and the files we write (strict JSON, CSV, TRC)."""
import csv
import json

import numpy as np
import pytest

from motionbert_cli.keypoint_files import read_keypoints_file
from motionbert_cli.tracks import Tracks, select_tracks, stitch_tracks
from motionbert_cli.errors import UserError
from motionbert_cli.export import OutputDir, write_motion, write_trc
from motionbert_cli.keypoints import coco_to_h36m, fix_lr_swaps, guess_layout, to_h36m

# COCO indices of the left and right legs and arms.
LEGS_L, LEGS_R = [11, 13, 15], [12, 14, 16]
ARMS_L, ARMS_R = [5, 7, 9], [6, 8, 10]


def walker(T=200, seed=0) -> np.ndarray:
    """A person facing the camera, walking on the spot: COCO-17 [T, 17, 3] pixels (~450 px tall) + confidence.
    Their left side is on the image's right (x > 500); left and right never meet (where they do, which label
    is which is a coin toss that fix_lr_swaps may settle either way)."""
    t = np.arange(T)
    ph = np.sin(2 * np.pi * t / 30)
    k = np.zeros((T, 17, 3), np.float32)
    k[..., 2] = 0.9
    pts = {0: (500, 100), 1: (510, 90), 2: (490, 90), 3: (520, 95), 4: (480, 95), 5: (540, 180), 6: (460, 180),
           7: (550 + 10 * ph, 260), 8: (450 - 10 * ph, 260), 9: (555 + 20 * ph, 330), 10: (445 - 20 * ph, 330),
           11: (525, 350), 12: (475, 350), 13: (530 + 15 * ph, 450), 14: (470 - 15 * ph, 450),
           15: (535 + 20 * ph, 550), 16: (465 - 20 * ph, 550)}
    for j, (x, y) in pts.items():
        k[:, j, 0], k[:, j, 1] = x, y
    k[..., :2] += np.random.default_rng(seed).normal(0, 3, (T, 17, 2))
    return k


# ------------------------------------------------------------------------------- left/right swaps (issue 10.4)

def test_short_swaps_are_undone_and_clean_tracks_untouched():
    clean = walker()
    fixed, runs, frames = fix_lr_swaps(clean)
    assert runs == 0 and frames == 0 and np.array_equal(fixed, clean)
    bad = clean.copy()
    for s, e in [(0, 2), (20, 21), (50, 54), (100, 108)]:  # legs, including at the very start
        bad[s:e, LEGS_L + LEGS_R] = clean[s:e, LEGS_R + LEGS_L]
    bad[120:125, ARMS_L + ARMS_R] = clean[120:125, ARMS_R + ARMS_L]  # arms, on their own
    fixed, runs, frames = fix_lr_swaps(bad)
    assert (runs, frames) == (5, 2 + 1 + 4 + 8 + 5)
    np.testing.assert_array_equal(fixed, clean)


def test_clips_shorter_than_the_vote_window():
    """A 20-frame clip (e.g. --start/--end) with the default 0.5 s window at 60 fps (30 frames each side)."""
    clean = walker(T=20)
    bad = clean.copy()
    bad[8:10, LEGS_L + LEGS_R] = clean[8:10, LEGS_R + LEGS_L]
    fixed, runs, frames = fix_lr_swaps(bad, max_frames=30)
    assert (runs, frames) == (1, 2)
    np.testing.assert_array_equal(fixed, clean)


def test_flicker_is_settled_by_the_frames_around_it():
    """While the arms go up fast the detector flips between both labellings, wrong more often than right
    (as on the Sports2D man, frames 33-49); the seconds around it say which way the body faces."""
    clean = walker()
    bad = clean.copy()
    wrong = [33, 34, 35, 36, 38, 39, 44, 45, 47, 49]  # 10 of frames 33-49 wrong, 7 right
    for t in wrong:
        bad[t, LEGS_L + LEGS_R + ARMS_L + ARMS_R] = clean[t, LEGS_R + LEGS_L + ARMS_R + ARMS_L]
    fixed, runs, frames = fix_lr_swaps(bad)
    np.testing.assert_array_equal(fixed, clean)
    assert frames == 2 * len(wrong)


def test_a_person_who_turns_round_keeps_their_sides():
    clean = walker()
    turned = clean.copy()
    turned[100:, :, 0] = 1000 - clean[100:, :, 0]  # seen from behind after frame 100: sides change for good
    fixed, runs, _ = fix_lr_swaps(turned)
    assert runs == 0 and np.array_equal(fixed, turned)


def test_long_swaps_are_left_alone():
    """A person seen from behind for seconds is not a detector glitch to undo."""
    clean = walker()
    bad = clean.copy()
    bad[60:160, LEGS_L + LEGS_R] = clean[60:160, LEGS_R + LEGS_L]
    fixed, runs, _ = fix_lr_swaps(bad, max_frames=15)
    assert runs == 0 and np.array_equal(fixed, bad)


def test_swaps_in_h36m_order_and_with_missing_joints():
    clean = coco_to_h36m(walker()).astype(np.float32)
    clean[30:40, 6, 2] = 0  # left ankle unseen for a while
    bad = clean.copy()
    L, R = [4, 5, 6], [1, 2, 3]
    bad[70:73, L + R] = clean[70:73, R + L]
    fixed, runs, frames = fix_lr_swaps(bad, "h36m")
    assert (runs, frames) == (1, 3)
    np.testing.assert_array_equal(fixed, clean)


# -------------------------------------------------------------------------- keypoint files (issue 10.3)

def test_joint_order_is_told_from_the_points():
    coco = walker()
    assert guess_layout(coco) == "coco"
    assert guess_layout(coco_to_h36m(coco)) == "h36m"
    assert guess_layout(np.zeros((5, 17, 3))) is None  # nothing seen: cannot tell


def test_our_motion_npz_round_trips_as_keypoints(tmp_path):
    """motion.npz's keypoints2d are H36M: read back they must stay H36M, not be taken for COCO."""
    coco = np.stack([walker(seed=1), walker(seed=2) + [200, 0, 0]])  # two people
    h36 = coco_to_h36m(coco).astype(np.float32)
    h36[1, :10] = 0  # the second person arrives late
    with OutputDir(tmp_path / "out") as out:
        write_motion(out, joints3d=np.zeros((2, 200, 17, 3), np.float32), keypoints2d=h36, track_ids=[3, 7],
                     fps=30, frame_size=(1000, 700), units="metres")
    tracks = read_keypoints_file(tmp_path / "out/motion.npz")
    assert tracks.layout == "h36m" and tracks.ids == [3, 7]
    for i in range(2):
        np.testing.assert_allclose(to_h36m(tracks.kpts[i], tracks.layout), h36[i], atol=1e-4)
    # the same array without joint names is recognised from the points; a COCO array likewise
    np.save(tmp_path / "h36.npy", h36[0])
    np.save(tmp_path / "coco.npy", coco[0])
    assert read_keypoints_file(tmp_path / "h36.npy").layout == "h36m"
    assert read_keypoints_file(tmp_path / "coco.npy").layout == "coco"
    assert read_keypoints_file(tmp_path / "h36.npy", layout="coco").layout == "coco"  # the user's word wins
    np.save(tmp_path / "unseen.npy", np.zeros((20, 17, 3), np.float32))
    with pytest.raises(UserError, match="--keypoint-order"):
        read_keypoints_file(tmp_path / "unseen.npy")


def test_alphapose_and_coco_json(tmp_path):
    k = walker(T=4)
    alpha = [{"image_id": f"{t}.jpg", "idx": [5] if t == 2 else 5, "keypoints": k[t].ravel().tolist()}
             for t in (0, 2, 1, 3)] + [{"image_id": "3.jpg", "idx": 9, "keypoints": (k[3] + 300).ravel().tolist()}]
    (tmp_path / "ap.json").write_text(json.dumps(alpha))
    tr = read_keypoints_file(tmp_path / "ap.json")
    assert tr.layout == "coco" and tr.ids == [5, 9] and tr.num_frames == 4
    np.testing.assert_allclose(tr.kpts[0], k, atol=1e-4)
    assert tr.span(1) == (3, 4)
    coco = {"images": [{"id": 10 + t, "frame_id": t} for t in range(4)],
            "annotations": [{"image_id": 10 + t, "track_id": 1, "keypoints": k[t].ravel().tolist()} for t in range(4)]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    tr = read_keypoints_file(tmp_path / "coco.json", num_frames=6)
    assert tr.ids == [1] and tr.num_frames == 6
    np.testing.assert_allclose(tr.kpts[0][:4], k, atol=1e-4)
    (tmp_path / "bad.json").write_text("{\"nothing\": 1}")
    with pytest.raises(UserError, match="unrecognised"):
        read_keypoints_file(tmp_path / "bad.json")


# ------------------------------------------------------------------------------- tracks: stitch and select

def _track(T, start, end, x0):
    k = np.zeros((T, 17, 3), np.float32)
    b = np.full((T, 4), np.nan, np.float32)
    k[start:end] = walker(T)[start:end] + [x0, 0, 0]
    b[start:end] = [x0 + 440, 80, x0 + 560, 560]
    return k, b


def test_stitching_joins_fragments_of_one_person_only():
    T = 100
    tracks = Tracks(T)
    for tid, (s, e, x0) in {1: (0, 40, 0), 2: (45, 100, 10), 3: (0, 100, 800)}.items():
        k, b = _track(T, s, e, x0)
        tracks.ids.append(tid), tracks.kpts.append(k), tracks.boxes.append(b)
    out = stitch_tracks(tracks, fps=30)
    assert out.ids == [1, 3]
    assert out.span(0) == (0, 100) and out.present(0).sum() == 95  # the 5-frame gap stays a gap
    # too long a gap (more than max_gap_s) is two people
    assert stitch_tracks(tracks, fps=30, max_gap_s=0.1).ids == [1, 2, 3]


def test_track_selection():
    T = 60
    tracks = Tracks(T)
    for tid, (s, e, x0) in {4: (0, 60, 0), 8: (0, 8, 600)}.items():
        k, b = _track(T, s, e, x0)
        tracks.ids.append(tid), tracks.kpts.append(k), tracks.boxes.append(b)
    assert select_tracks(tracks, "auto", 10) == [0]
    assert select_tracks(tracks, "all", 10) == [0] and select_tracks(tracks, "all", 5) == [0, 1]
    assert select_tracks(tracks, "8", 10) == [1]
    with pytest.raises(UserError, match="no such track"):
        select_tracks(tracks, "5", 10)
    with pytest.raises(UserError, match="no person"):
        select_tracks(Tracks(10), "auto", 10)


# ------------------------------------------------------------------------ files we write (issues 10.2, 10.6)

def test_motion_json_is_strict_json_and_files_agree(tmp_path):
    T = 6
    j = np.random.default_rng(0).normal(size=(1, T, 17, 3)).astype(np.float32)
    j[0, 2] = np.nan  # the person is not seen in frame 2
    cam = j + [0, 0, 4]
    with OutputDir(tmp_path / "o") as out:
        write_motion(out, joints3d=j, keypoints2d=np.zeros((1, T, 17, 3), np.float32), track_ids=[1], fps=25,
                     frame_size=(640, 480), units="metres", extra={"joints3d_camera": cam, "focal_length": np.float32(640)})
        write_trc(out.path("person_1.trc"), cam[0], 25)

    def reject(c):
        raise ValueError(f"not JSON: {c}")

    doc = json.loads((tmp_path / "o/motion.json").read_text(), parse_constant=reject)
    assert doc["joints3d"][0][2][0] == [None, None, None] and doc["joints3d_camera"][0][2][5] == [None] * 3
    np.testing.assert_allclose(doc["joints3d"][0][3], j[0, 3], atol=1e-5)
    rows = list(csv.reader(open(tmp_path / "o/person_1.csv")))
    assert rows[0] == ["frame", "time_s", "joint", "x_right_m", "y_down_m", "z_forward_m"]
    assert [int(r[0]) for r in rows[1::17]] == [0, 1, 3, 4, 5]  # frame numbers = video frame index
    trc = (tmp_path / "o/person_1.trc").read_text().splitlines()
    assert trc[2].split("\t")[6] == "0"  # OrigDataStartFrame
    data = [r.split("\t") for r in trc[6:]]
    assert [int(r[0]) for r in data] == list(range(T)) and float(data[3][1]) == pytest.approx(3 / 25)
    assert data[2][2:] == [""] * 51  # unseen frame: empty fields
    np.testing.assert_allclose(np.array(data[4][2:], float).reshape(17, 3), cam[0, 4] * [1, -1, -1], atol=1e-5)


def test_tracks_cut_to_a_segment():
    """--start/--end on a keypoint file: frames [start, end) renumbered from 0, tracks absent there dropped,
    a file that ends early padded with unseen frames."""
    t = Tracks(10)
    for tid, (s, e) in ((1, (0, 10)), (2, (0, 3)), (3, (5, 8))):
        k = np.zeros((10, 17, 3), np.float32)
        k[s:e] = 1.0
        b = np.full((10, 4), np.nan, np.float32)
        b[s:e] = 5.0
        t.ids.append(tid)
        t.kpts.append(k)
        t.boxes.append(b)
    c = t.cut(4, 12)
    assert c.num_frames == 8 and c.ids == [1, 3]
    assert [k.shape for k in c.kpts] == [(8, 17, 3)] * 2 and [b.shape for b in c.boxes] == [(8, 4)] * 2
    assert c.present(0).tolist() == [True] * 6 + [False] * 2 and c.span(1) == (1, 4)
    assert np.isnan(c.boxes[0][6:]).all() and (c.boxes[1][1:4] == 5).all()


def test_rerun_into_the_same_folder_replaces_the_previous_run(tmp_path):
    """A second run into a folder holds only its own files: the first run's person_2.* and videos go (they
    would sit beside a one-person motion.npz); a folder with someone else's files is refused before any work,
    and a user's own file added to a run folder is left alone (issue 28)."""
    out = tmp_path / "run"
    with OutputDir(out) as o:
        for name in ("motion.npz", "person_1.csv", "person_2.csv", "person_2.bvh", "overlay.mp4"):
            o.path(name).write_text("first")
    with OutputDir(out) as o:
        for name in ("motion.npz", "person_1.csv"):
            o.path(name).write_text("second")
    assert sorted(f.name for f in out.iterdir()) == [".motionbert_files.json", "motion.npz", "person_1.csv"]
    assert (out / "motion.npz").read_text() == "second"
    (out / "my_notes.txt").write_text("mine")
    with OutputDir(out) as o:
        o.path("motion.npz").write_text("third")
    assert (out / "my_notes.txt").read_text() == "mine" and not (out / "person_1.csv").exists()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_text("x")
    with pytest.raises(UserError, match="did not write"):
        OutputDir(other)
    assert [f.name for f in other.iterdir()] == ["holiday.jpg"] and not list(tmp_path.glob("photos.partial-*"))
    # a folder from before the manifest, holding only our files, counts as a previous run
    old = tmp_path / "old"
    old.mkdir()
    for name in ("motion.npz", "person_3.csv", "skeleton3d.mp4"):
        (old / name).write_text("old")
    with OutputDir(old) as o:
        o.path("motion.npz").write_text("new")
    assert sorted(f.name for f in old.iterdir()) == [".motionbert_files.json", "motion.npz"]
