"""`motionbert live` on files played as streams: real time with dropped frames, every frame, a stream that
stalls, and SIGTERM in the middle (complete files, no staging folder left)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import FIXTURES, ROOT, VIDEOS, need, run_cli
from motionbert_cli.mocap import read_bvh_positions

pytestmark = pytest.mark.slow


def _summary(out):
    return json.loads((out / "timing_live.json").read_text())


def test_file_as_stream_every_frame(tmp_path):
    out = tmp_path / "live"
    res = run_cli("live", need(VIDEOS / "pose2sim_single/cam01.mp4"), "--every-frame", "--no-preview", "-o", out)
    assert res.returncode == 0, res.stderr[-2000:]
    s = _summary(out)
    assert s["frames_read"] == 100 and s["frames_processed"] == 100 and s["frames_dropped"] == 0
    assert s["latency_ms_median"] > 0 and "latency" in res.stderr
    lines = (out / "live.jsonl").read_text().splitlines()
    assert len(lines) == 100 and json.loads(lines[0])["frame"] == 0
    d = np.load(out / "motion.npz")
    assert d["joints3d"].shape == (1, 100, 17, 3) and np.isfinite(d["joints3d"][0]).all((1, 2)).sum() >= 95
    assert str(d["smoothing"]) == "one-euro (causal)"
    # causal: the 3D of frame t is what the stream said at frame t (nothing later changed it)
    tid = str(int(d["track_ids"][0]))
    rec = json.loads(lines[50])
    np.testing.assert_allclose(d["joints3d_pixels"][0, 50], np.array(rec["people"][tid]), atol=0.01)
    pos, fps = read_bvh_positions(out / f"person_{tid}.bvh")
    assert fps == pytest.approx(60, rel=1e-4) and len(pos["Hips"]) == 100
    assert not list(tmp_path.glob("*.partial-*"))


def test_realtime_drops_frames_to_keep_up(tmp_path):
    out = tmp_path / "live"
    res = run_cli("live", need(VIDEOS / "sports2d_demo.mp4"), "--no-preview", "--seconds", "4", "-o", out)
    assert res.returncode == 0, res.stderr[-2000:]
    s = _summary(out)
    # 30 fps played in real time: ~4 s of frames read; what the detector could not keep up with is dropped
    assert 60 <= s["frames_read"] <= 160 and s["frames_processed"] + s["frames_dropped"] == s["frames_read"]
    assert s["frames_processed"] >= 5 and "dropped" in res.stderr
    assert len((out / "live.jsonl").read_text().splitlines()) == s["frames_processed"]


def test_stream_that_stalls(tmp_path):
    """A pipe that sends 30 frames and then nothing: the run ends after the stall timeout with its files."""
    import imageio_ffmpeg
    fifo = tmp_path / "stream.mkv"
    os.mkfifo(fifo)
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    writer = subprocess.Popen(
        f"( '{ff}' -loglevel error -i '{need(VIDEOS / 'sports2d_demo.mp4')}' -frames:v 30 -vf scale=640:-2 "
        f"-c:v mjpeg -q:v 5 -f matroska - ; sleep 30 ) > '{fifo}'", shell=True, start_new_session=True)
    try:
        out = tmp_path / "live"
        t0 = time.time()
        res = run_cli("live", fifo, "--no-preview", "-o", out)
        assert res.returncode == 0, res.stderr[-2000:]
        assert time.time() - t0 < 28  # ended by the stall, not by the writer closing the pipe
        s = _summary(out)
        assert s["stalled"] and s["frames_read"] == 30 and s["frames_processed"] >= 1
        assert "stalled" in res.stderr
    finally:
        os.killpg(writer.pid, signal.SIGKILL)


def test_sigterm_leaves_complete_files(tmp_path):
    out = tmp_path / "live"
    p = subprocess.Popen([sys.executable, "-m", "motionbert_cli", "live", str(need(VIDEOS / "sports2d_demo.mp4")),
                          "--no-preview", "-o", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("live.partial-*/live.jsonl")):
        time.sleep(0.2)
    time.sleep(2.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-2000:]
    s = _summary(out)
    assert s["interrupted"] and s["frames_processed"] >= 1 and (out / "motion.npz").exists()
    assert not list(tmp_path.glob("*.partial-*"))


def test_pose3d_sigterm_leaves_nothing(tmp_path):
    out = tmp_path / "p"
    p = subprocess.Popen([sys.executable, "-m", "motionbert_cli", "pose3d", str(need(VIDEOS / "sports2d_demo.mp4")),
                          "-o", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("p.partial-*")):
        time.sleep(0.2)
    time.sleep(3.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert not out.exists() and not list(tmp_path.glob("*.partial-*"))


def test_missing_source(tmp_path):
    res = run_cli("live", tmp_path / "nope.mp4", "--no-preview", "-o", tmp_path / "o")
    assert res.returncode == 2 and "live source not found" in res.stderr and "camera index" in res.stderr


def test_pose3d_interrupted_while_rendering_keeps_the_data_files(tmp_path):
    """Ctrl-C after the 3D files are written but before the videos are: the files stay, complete, and no
    half-written video is left (issue 28)."""
    out = tmp_path / "p"
    p = subprocess.Popen([sys.executable, "-m", "motionbert_cli", "pose3d", str(need(VIDEOS / "sports2d_demo.mp4")),
                          "-c", str(need(FIXTURES / "pose3d.bin")), "--heads", "4", "-o", str(out)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "motion.npz").exists():
        time.sleep(0.1)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    names = {f.name for f in out.iterdir()}
    assert {"motion.npz", "motion.json", "person_1.bvh", "person_1.trc"} <= names, names
    assert not names & {"overlay.mp4", "skeleton3d.mp4"} and not list(tmp_path.glob("*.partial-*"))
    assert np.load(out / "motion.npz")["joints3d"].shape[-2:] == (17, 3)


def test_live_bad_person_fails_before_and_an_absent_one_keeps_the_capture(tmp_path):
    """--person bob is refused before the stream opens; --person 7, who never appears, no longer throws the
    capture away at the end: every person is written, with a warning (issue 25). --height scales the files."""
    clip = need(VIDEOS / "sports2d_demo.mp4")
    res = run_cli("live", clip, "--no-preview", "--person", "bob", "-o", tmp_path / "bad")
    assert res.returncode == 2 and "--person" in res.stderr and not (tmp_path / "bad").exists()
    out = tmp_path / "l"
    res = run_cli("live", clip, "--no-preview", "--every-frame", "--seconds", "3", "--person", "77",
                  "--height", "1.5", "-o", out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "writing every person instead" in res.stderr and (out / "live.jsonl").is_file()
    d = np.load(out / "motion.npz")
    # placed by pose3d's own placement (pipeline.place_people): no --focal was given, and the file says so
    assert d["joints3d"].shape[0] >= 1 and "principal point" in str(d["camera"])
    assert "focal length assumed" in str(d["camera"]), d["camera"]
