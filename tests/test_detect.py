"""The detector's runtimes: OpenVINO (exported once per weights and frame size, cached) must give PyTorch's
keypoints, without telemetry or downloads, on every CPU kind: OpenVINO would pick bf16 on CPUs with AVX512-BF16
or AMX, so the detector forces f32 and the test checks the compiled model's precision as well as the pixels."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import VIDEOS, need
from motionbert_cli.detect import letterbox_shape, openvino_available


def test_letterbox_shape_is_pytorch_s_rectangle():
    assert letterbox_shape(720, 1280) == (384, 640)      # 720p: 640x360 padded to a multiple of 32
    assert letterbox_shape(1920, 1080) == (640, 384)     # portrait phone video
    assert letterbox_shape(994, 1768) == (384, 640)      # 640x360 again
    assert letterbox_shape(480, 640) == (480, 640)
    assert letterbox_shape(1080, 1920, imgsz=960) == (544, 960)


_COMPARE = """
import json, sys, time
import numpy as np
from motionbert_cli.detect import PoseDetector, detect_video
from motionbert_cli.video import read_frames
video, n = sys.argv[1], int(sys.argv[2])
notes, out = [], {}
for rt in ("pytorch", "openvino"):
    det = PoseDetector(runtime=rt, notice=notes.append)
    t = time.perf_counter()
    out[rt] = detect_video(read_frames(video, 0, n), n, det)
    out[rt + "_s"] = time.perf_counter() - t
    if rt == "openvino":
        out["precision"] = str(det.model.compiled.get_property("INFERENCE_PRECISION_HINT"))
a, b = out["pytorch"], out["openvino"]
d = [np.linalg.norm(k[..., :2] - b.kpts[b.ids.index(i)][..., :2], axis=-1)[(k[..., 2] > 0.3)]
     for i, k in zip(a.ids, a.kpts)]
print(json.dumps({"ids": [a.ids, b.ids], "max_px": float(max(x.max() for x in d)), "notes": notes,
                  "seconds": [out["pytorch_s"], out["openvino_s"]], "precision": out["precision"],
                  "cpu_bf16": open("/proc/cpuinfo").read().count("avx512_bf16") > 0}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not openvino_available(), reason="the openvino package is not installed")
def test_openvino_gives_pytorch_keypoints_offline_and_cached(tmp_path):
    video = need(VIDEOS / "pose2sim_single" / "cam01.mp4")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "MOTIONBERT_CACHE": str(tmp_path / "cache")}
    env.pop("XDG_CACHE_HOME", None)
    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", _COMPARE, str(video), "20"], capture_output=True, text=True,
                           env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["ids"][0] == first["ids"][1] and first["ids"][0]
    assert first["precision"] == "<Type: 'float32'>", first   # not bf16, even where the CPU has it
    assert first["max_px"] < 0.05, first                      # the same network, another runtime
    assert first["notes"] == ["detector: OpenVINO f32 at 384x640 (" + first["notes"][0].split("(")[1]]
    exported = list((tmp_path / "cache" / "detectors").iterdir())
    assert len(exported) == 1 and exported[0].name.endswith("-640x384_openvino_model")
    assert second["max_px"] < 0.05 and len(list((tmp_path / "cache" / "detectors").iterdir())) == 1
    # OpenVINO's conversion would otherwise write a client id under ~/intel and send usage data
    assert not (home / "intel").exists(), list(home.rglob("*"))


_INT8 = """
import json, sys
import numpy as np
from motionbert_cli.detect import PoseDetector, detect_video
from motionbert_cli.video import read_frames
video, n = sys.argv[1], int(sys.argv[2])
notes, out = [], {}
for rt in ("pytorch", "int8"):
    det = PoseDetector(runtime=rt, notice=notes.append)
    out[rt] = detect_video(read_frames(video, 0, n), n, det)
a, b = out["pytorch"], out["int8"]
d = np.concatenate([np.linalg.norm(k[..., :2] - b.kpts[b.ids.index(i)][..., :2], axis=-1)[(k[..., 2] > 0.5)]
                    for i, k in zip(a.ids, a.kpts)])
print(json.dumps({"ids": [a.ids, b.ids], "median_px": float(np.median(d)), "p90_px": float(np.percentile(d, 90)),
                  "notes": notes, "precision": str(det.model.compiled.get_property("INFERENCE_PRECISION_HINT"))}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not openvino_available(), reason="the openvino package is not installed")
def test_int8_detector_keeps_people_and_is_the_same_model_for_everyone(tmp_path):
    """The int8 detector (NNCF on the shipped calibration frames, pose head in float): the same tracks as
    PyTorch, keypoints within a few pixels (its promise is the 3D, measured in bench_h36m / bench_multiview),
    float parts in f32, and a byte-identical model whoever makes it (issue 24)."""
    pytest.importorskip("nncf", reason="the int8 detector is made with nncf")
    video = need(VIDEOS / "pose2sim_single" / "cam01.mp4")
    runs = []
    for k in range(2):  # two fresh caches: two users
        home = tmp_path / f"home{k}"
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "MOTIONBERT_CACHE": str(tmp_path / f"cache{k}")}
        env.pop("XDG_CACHE_HOME", None)
        r = subprocess.run([sys.executable, "-c", _INT8, str(video), "20"], capture_output=True, text=True,
                           env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        assert not (home / "intel").exists(), list(home.rglob("*"))
    first = runs[0]
    assert first["ids"][0] == first["ids"][1] and first["ids"][0]
    assert first["median_px"] < 3.0 and first["p90_px"] < 10.0, first
    assert first["precision"] == "<Type: 'float32'>" and "int8" in first["notes"][0], first
    bins = [next((tmp_path / f"cache{k}" / "detectors").glob("*-int8v2_openvino_model")) / "yolo11n-pose.bin"
            for k in range(2)]
    assert bins[0].read_bytes() == bins[1].read_bytes()


def test_detection_stride_auto():
    """--detect-every auto: every frame, every 2nd while the motion is smooth; slow video always every frame."""
    from motionbert_cli.people import detection_stride

    assert detection_stride("auto", 30.0) == (1, 2)
    assert detection_stride("auto", 60.0) == (1, 2)
    assert detection_stride("auto", 10.0) == (1, 0)
    assert detection_stride("3", 30.0) == (3, 0)


_STRIDES = """
import json, sys
import numpy as np
from motionbert_cli.detect import PoseDetector, detect_video
from motionbert_cli.video import read_frames
video, n = sys.argv[1], int(sys.argv[2])
every = detect_video(read_frames(video, 0, n), n, PoseDetector())
auto = detect_video(read_frames(video, 0, n), n, PoseDetector(), every=1, still_every=2)
i = int(np.argmax([k[..., 2].sum() for k in every.kpts]))  # the lunging man
a, b = every.kpts[i], auto.kpts[auto.ids.index(every.ids[i])]
d = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
interpolated = d.max(-1) > 0  # frames auto did not detect: the rest are the same detections
d = d[interpolated][(a[interpolated, :, 2] > 0.5) & (b[interpolated, :, 2] > 0.5)]
print(json.dumps({"detected": [every.frames_detected, auto.frames_detected], "median_px": float(np.median(d)),
                  "p90_px": float(np.percentile(d, 90)), "height": float(np.nanmedian(every.boxes[i][:, 3] - every.boxes[i][:, 1]))}))
"""


@pytest.mark.slow
def test_auto_stride_skips_frames_only_where_interpolation_holds():
    """--detect-every auto on the shipped lunge clip (a man balancing and lunging, a bystander standing still):
    frames are skipped while the motion is smooth, and the interpolated keypoints stay within the detector's
    own jitter of detections on every frame (issue 24)."""
    from conftest import ROOT

    r = subprocess.run([sys.executable, "-c", _STRIDES, str(ROOT / "assets" / "lunge_portrait.mp4"), "100"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    every, auto = out["detected"]
    assert every == 100 and 50 <= auto < 95, out   # some frames skipped, never more than every other one
    assert out["median_px"] < 0.01 * out["height"] and out["p90_px"] < 0.03 * out["height"], out


_LEAN = """
import json, sys
import numpy as np
from ultralytics import YOLO
from motionbert_cli.detect import PoseDetector, openvino_model, letterbox_shape
from motionbert_cli.openvino_pose import OpenVINOPose
from motionbert_cli.video import read_frames
video, n = sys.argv[1], int(sys.argv[2])
frames = list(read_frames(video, 0, n))
det = PoseDetector(runtime="openvino")  # for its weights and Ultralytics' offline settings
folder = openvino_model(det.weights, letterbox_shape(*frames[0].shape[:2]))
ultra, lean = YOLO(str(folder), task="pose"), OpenVINOPose(folder)


def f32(predictor):  # Ultralytics compiles with a latency hint only: bf16 on CPUs that have it; compare in f32
    import functools
    import openvino as ov
    be = predictor.model.backend
    kw = dict(be.compile_model.keywords)
    kw["config"] = {**kw.get("config", {}), "INFERENCE_PRECISION_HINT": ov.Type.f32}
    be.compile_model = functools.partial(be.compile_model.func, *be.compile_model.args, **kw)
    be.ov_compiled_model = be.compile_model(be.compile_model.func.__self__.read_model(str(next(folder.glob("*.xml")))))


ultra.add_callback("on_predict_start", f32)
same, kp_px, people = True, 0.0, 0
for f in frames:
    r = ultra.track(f, persist=True, imgsz=letterbox_shape(*f.shape[:2]), conf=0.25, verbose=False,
                    tracker="bytetrack.yaml")[0]
    ids, kp, boxes = lean(f)
    if r.boxes is None or r.boxes.id is None:
        same &= len(ids) == 0
        continue
    same &= r.boxes.id.int().numpy().tolist() == ids.tolist()
    if same:
        kp_px = max(kp_px, float(np.abs(r.keypoints.data.numpy() - kp).max()),
                    float(np.abs(r.boxes.xyxy.float().numpy() - boxes).max()))
        people += len(ids)
print(json.dumps({"same_ids": bool(same), "max_px": kp_px, "people": people}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not openvino_available(), reason="the openvino package is not installed")
def test_openvino_pose_is_ultralytics_track_without_its_predictor():
    """openvino_pose (our NumPy letterbox / NMS / rescaling + Ultralytics' BYTETracker) gives the ids, boxes and
    keypoints of Ultralytics' own YOLO.track on the same OpenVINO model, on the lunge clip (the man and a
    bystander): the ~5 ms per frame it saves changes nothing (issue 24)."""
    from conftest import ROOT

    r = subprocess.run([sys.executable, "-c", _LEAN, str(ROOT / "assets" / "lunge_portrait.mp4"), "60"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["same_ids"] and out["people"] >= 60 and out["max_px"] < 1e-3, out
