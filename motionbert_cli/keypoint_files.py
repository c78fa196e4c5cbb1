"""Keypoint files: AlphaPose and COCO-style JSON, .npy/.npz arrays and our own motion.npz, read into `Tracks`
with their joint order (COCO-17, Halpe-26 or H36M-17) said by the file or told from the points."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .errors import UserError
from .keypoints import LAYOUTS, guess_layout, layout_from_names
from .tracks import Tracks


def read_keypoints_file(path: str | os.PathLike, num_frames: int | None = None, layout: str = "auto") -> Tracks:
    """AlphaPose JSON (Halpe-26 or COCO-17, with 'idx' track ids), COCO-style keypoint JSON
    (annotations with image_id / track_id), or .npy/.npz [T, 17|26, 3] (or [P, T, J, 3]) pixels, including
    our own motion.npz (its `keypoints2d`, H36M order, with its track ids, and its fps, frame size and focal
    length in `Tracks.meta`, which `pose3d --keypoints` honours).

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
        names, ids, meta = None, None, {}
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
                    meta = _npz_meta(d)
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
        tracks = _tracks_from_array(arr, ids, layout)
        tracks.meta = meta
        return tracks
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


def keypoint_extent(tracks: Tracks, source: str | os.PathLike = "the keypoint file") -> tuple[int, int]:
    """(width, height) of the smallest frame that holds every confident keypoint: the image size of keypoints
    given without their video."""
    seen = np.concatenate([k[k[..., 2] > 0][:, :2] for k in tracks.kpts]) if tracks.kpts else np.zeros((0, 2))
    if not len(seen):
        raise UserError(f"{source} holds no confident keypoints to lift")
    w, h = (int(np.ceil(v)) + 1 for v in seen.max(0))
    return w, h


def _npz_meta(d) -> dict:
    """fps, frame_size (w, h) and focal_length from an npz that carries them (our motion.npz does), when they
    are sensible numbers."""
    meta = {}
    try:
        if "fps" in d.files and 0 < float(d["fps"]) < 1000:
            meta["fps"] = float(d["fps"])
        if "frame_size" in d.files:
            w, h = (int(v) for v in np.asarray(d["frame_size"]).reshape(-1)[:2])
            if w > 0 and h > 0:
                meta["frame_size"] = (w, h)
        if "focal_length" in d.files and np.isfinite(float(d["focal_length"])) and float(d["focal_length"]) > 0:
            meta["focal_length"] = float(d["focal_length"])
    except (TypeError, ValueError):
        pass
    return meta


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
