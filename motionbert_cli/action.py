"""Action recognition on a user's clip, prepared exactly as MotionBERT's NTU RGB+D pipeline, and one-shot
matching against example clips.

NTU preparation (official `ActionDataset` at test time): keypoints scaled by the image's longer side to
[-1, 1] (`make_cam`), COCO -> H36M for x, y, the two most prominent people (a zero second person when alone),
uniform resampling to 243 frames, then `crop_scale` over both people. Quirk kept on purpose: the official code
appends the detector confidences in COCO joint order to H36M-ordered coordinates; the official action
checkpoints were trained that way, so we feed them the same.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .errors import UserError
from .fileio import atomic_path
from .keypoint_files import keypoint_extent, read_keypoints_file
from .keypoints import coco_to_h36m, crop_scale, halpe_to_h36m, to_h36m
from .people import get_tracks
from .video import probe

VIDEO_EXTS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
KEYPOINT_EXTS = {".json", ".npy", ".npz"}


def class_names(num_classes: int, labels_file: str | Path | None = None,
                saved: list[str] | None = None) -> list[str]:
    """One name per line from `labels_file`, else the names the checkpoint carries (`train action`), else
    NTU-60 or NTU-120 names by class count."""
    if saved and not labels_file:
        names = list(saved)
    elif labels_file:
        p = Path(labels_file)
        if not p.is_file():
            raise UserError(f"labels file not found: {p}")
        names = [l.strip() for l in p.read_text().splitlines() if l.strip()]
    elif num_classes in (60, 120):
        names = resources.files("motionbert_cli").joinpath(f"data/ntu{num_classes}.txt").read_text().splitlines()
    else:
        return [f"class {i}" for i in range(num_classes)]
    if len(names) != num_classes:
        raise UserError(f"{len(names)} label names for a model with {num_classes} classes; pass a matching --labels")
    return names


def model_frames(model) -> int:
    """Frames the network sees at once: its window, capped at the official 243."""
    return min(243, model.cfg.maxlen)


def resample_indices(n: int, target: int) -> np.ndarray:
    """Official test-time resampling: `target` evenly spaced frame indices over n frames."""
    return np.linspace(0, n, num=target, endpoint=False, dtype=int)


def prepare_ntu(kpts: list[np.ndarray], frame_size: tuple[int, int], n_frames: int = 243,
                layout: str = "coco") -> np.ndarray:
    """People's keypoints (each [T, 17|26, 3] pixels + confidence in `layout` order, most prominent first)
    -> [2, n_frames, 17, 3].

    At most two people are used, as in NTU RGB+D.
    """
    w, h = frame_size
    people = []
    for k in kpts[:2]:
        k = np.asarray(k, np.float64)
        xy = k[..., :2] / max(w, h) * 2 - 1          # make_cam: longer side to [-1, 1]
        if layout == "h36m" and k.shape[-2] == 17:   # e.g. our own motion.npz read back
            conf = k[..., 2:]
        elif k.shape[-2] == 26:
            xy = halpe_to_h36m(xy[None])[0]
            conf = halpe_to_h36m(k[None, ..., 2:])[0]
        else:
            xy = coco_to_h36m(xy[None])[0]
            conf = k[..., 2:]                          # COCO order, as the official pipeline does
        people.append(np.concatenate([xy, conf], -1))
    motion = np.stack(people)                          # [M, T, 17, 3]
    motion = motion[:, resample_indices(motion.shape[1], n_frames)]
    if motion.shape[0] == 1:
        motion = np.concatenate([motion, np.zeros_like(motion)], 0)
    return crop_scale(motion).astype(np.float32)


WINDOW_FPS = 30.0   # our action models see clips at this frame rate (the Bandai mocap's)


def prepare_windows(kpts: np.ndarray, frame_size: tuple[int, int], fps: float, window: int,
                    layout: str = "coco", max_windows: int = 8) -> np.ndarray:
    """One person's keypoints [T, 17|26, 3] (pixels + confidence in `layout` order) -> [K, window, 17, 3],
    the input of our own action models (`train action`): the clip at 30 fps, cut into K <= max_windows
    windows of `window` frames spread evenly over it (overlapping when few), normalised as NTU inputs are
    (image's longer side, then one crop_scale box over the whole clip, confidences in H36M order).

    The model treats the K windows as the person dimension M, so its pooling averages the motion
    representation over every window: the whole clip is seen at its real speed, however long it is.
    Clips shorter than a window are stretched to one (as NTU's resampling does)."""
    k = np.asarray(kpts, np.float64)
    seen = np.flatnonzero((k[..., 2] > 0).any(-1))
    if len(seen):  # from the first to the last frame the person is seen
        k = k[seen[0]:seen[-1] + 1]
    x = to_h36m(k, layout)  # confidences converted with the coordinates (no official quirk)
    x[..., :2] = x[..., :2] / max(frame_size) * 2 - 1
    n = max(1, int(round(len(x) * WINDOW_FPS / fps)))
    x = x[np.minimum(np.round(np.arange(n) * fps / WINDOW_FPS).astype(int), len(x) - 1)]
    if len(x) < window:
        x = x[resample_indices(len(x), window)]
    x = crop_scale(x)
    count = min(max_windows, int(np.ceil(len(x) / window)))
    starts = np.round(np.linspace(0, len(x) - window, count)).astype(int)
    return np.stack([x[s:s + window] for s in starts]).astype(np.float32)


@dataclass
class ClipKeypoints:
    kpts: list[np.ndarray]       # up to 2 people, [T, J, 3] pixels + confidence
    frame_size: tuple[int, int]
    fps: float
    num_frames: int
    layout: str = "coco"         # joint order of kpts (tracks.Tracks.layout)
    ids: list[int] | None = None  # their track ids

    def person(self, i: int) -> "ClipKeypoints":
        """The clip with person i alone."""
        return ClipKeypoints([self.kpts[i]], self.frame_size, self.fps, self.num_frames, self.layout,
                             [self.ids[i]] if self.ids else None)


# Shorter than this, a clip (or the person's part of it) says too little about an action to label it.
MIN_ACTION_SECONDS = 0.5


def clip_keypoints(path: Path, detector, device: str, imgsz: int, stages, video_info=None, person: str = "auto",
                   start: str | None = None, end: str | None = None, max_people: int = 2) -> ClipKeypoints:
    """Detect (or read) the people of a clip: the `max_people` most prominent (most joint-frames seen, so a
    bystander cut off at the edge ranks low), or, with `person`, that track id alone ('all': everyone, most
    prominent first, those seen at least MIN_ACTION_SECONDS). --start / --end cut a video first. A person seen for less than MIN_ACTION_SECONDS is
    refused: a still image or a few frames show a posture, not an action."""
    from .video import segment

    path = Path(path)
    if path.suffix.lower() in KEYPOINT_EXTS:
        if start or end:
            raise UserError("--start and --end cut a video; cut the keypoint file instead")
        tracks = read_keypoints_file(path)
        info = video_info
        size = info.size if info else (tracks.meta.get("frame_size") or keypoint_extent(tracks, path))
        fps = info.fps if info else float(tracks.meta.get("fps") or 30.0)
    else:
        info = segment(probe(path), start, end)
        tracks = get_tracks(info, None, detector, device, imgsz, stages)
        size, fps = info.size, info.fps
    if not tracks.ids:
        raise UserError(f"no person was detected in {path}: check that people are visible, or try --imgsz 960")
    score = [float((k[..., 2] > 0.3).sum()) for k in tracks.kpts]  # visible joint-frames: prominence
    order = list(np.argsort(score)[::-1])
    if person not in ("auto", "all"):
        if int(person) not in tracks.ids:
            raise UserError(f"--person {person}: no such track in {path}; its tracks are "
                            f"{', '.join(str(i) for i in tracks.ids)}")
        order = [tracks.ids.index(int(person))]
    elif person == "auto":
        order = order[:max_people]
    else:  # everyone seen long enough to show an action
        order = [i for i in order if tracks.present(i).sum() >= MIN_ACTION_SECONDS * fps] or order[:1]
    seen = tracks.present(order[0])
    if seen.sum() < MIN_ACTION_SECONDS * fps:
        raise UserError(f"{path}: the person is seen in only {int(seen.sum())} frame(s) ({seen.sum() / fps:.2f} s); "
                        f"an action needs at least {MIN_ACTION_SECONDS:g} s of motion (a still image shows a "
                        f"posture, not an action)")
    return ClipKeypoints([tracks.kpts[i] for i in order], size, fps, tracks.num_frames, tracks.layout,
                         [int(tracks.ids[i]) for i in order])


@torch.no_grad()
def classify(model, x: np.ndarray, device: str = "cpu") -> np.ndarray:
    """x [N, 2, T, 17, 3] (prepared) -> softmax scores [N, classes]."""
    logits = model(torch.from_numpy(np.ascontiguousarray(x)).to(device))
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()


@torch.no_grad()
def embed(model, x: np.ndarray, device: str = "cpu") -> np.ndarray:
    """x [N, 2, T, 17, 3] -> unit embeddings [N, D].

    Action 'embed' checkpoints use their embedding head; any other model uses the mean over time and persons
    of the backbone representation E (flattened over joints), as the paper's one-shot baseline. The zero
    second person of a single-person clip is left out of the mean.
    """
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(device)
    if getattr(model, "task", "") == "action" and model.head_cfg.version == "embed":
        return model(xt).cpu().numpy()
    N, M, T, J, C = xt.shape
    rep = model.get_representation(xt.reshape(N * M, T, J, C)).reshape(N, M, T, J, -1)
    present = (xt[..., 2].abs().sum((2, 3)) > 0).float()  # [N, M]
    feat = (rep.mean(2) * present[..., None, None]).sum(1) / present.sum(1).clamp_min(1)[:, None, None]
    feat = feat.reshape(N, -1)
    return torch.nn.functional.normalize(feat, dim=-1).cpu().numpy()


def window_clips(ck: ClipKeypoints, seconds: float,
                 context_s: float | None = None) -> list[tuple[float, float, list[np.ndarray]]]:
    """Successive windows of `seconds`: (start_s, end_s, people keypoints cut to the window).

    context_s: each window's keypoints are cut to at least this long, centred on the window as far as the clip
    allows, so a network whose window is longer than `seconds` sees the motion at its real speed instead of
    stretched to fill it (a 2 s cut fed to an 81-frame window would move at 74% of its speed)."""
    step = max(2, int(round(seconds * ck.fps)))
    need = int(round((context_s or 0) * ck.fps))
    out = []
    for s in range(0, ck.num_frames, step):
        e = min(ck.num_frames, s + step)
        if e - s < max(2, step // 4) and out:
            break  # a short tail would be classified on too little motion
        a, b = s, e
        if b - a < need:  # widen about the window's centre, then shift to stay inside the clip
            a = max(0, (s + e - need) // 2)
            b = min(ck.num_frames, a + need)
            a = max(0, b - need)
        people = [k[a:b] for k in ck.kpts if (k[s:e, :, 2] > 0).any()]
        if people:
            out.append((s / ck.fps, e / ck.fps, people))
    return out


# ------------------------------------------------------------------------------------------------ gallery

def gallery_items(folder: Path) -> list[tuple[str, Path]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"gallery folder not found: {folder} (expected sub-folders named by action)")
    items = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in VIDEO_EXTS | KEYPOINT_EXTS:
                items.append((sub.name, f))
    if not items:
        raise UserError(f"{folder} has no example clips: put videos or keypoint files in sub-folders named by "
                        f"action (e.g. {folder}/wave/clip1.mp4)")
    return items


def _fingerprint(paths: list[Path], model_source: str) -> str:
    h = hashlib.sha1(str(Path(model_source).resolve()).encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def build_gallery(folder: Path, model, detector, device: str, imgsz: int, stages, use_cache: bool,
                  write_cache: bool) -> tuple[list[str], list[str], np.ndarray]:
    """(labels, file names, embeddings [K, D]) for every example; cached in <folder>/.motionbert_index.npz."""
    items = gallery_items(folder)
    cache = Path(folder) / ".motionbert_index.npz"
    key = _fingerprint([p for _, p in items], str(getattr(model, "source", "")))
    if use_cache and cache.is_file():
        with np.load(cache, allow_pickle=False) as d:
            if str(d["key"]) == key:
                return list(d["labels"]), list(d["files"]), d["embeddings"]
    T = model_frames(model)
    embs = []
    for label, f in items:
        ck = clip_keypoints(f, detector, device, imgsz, stages)
        embs.append(embed(model, prepare_ntu(ck.kpts, ck.frame_size, T, ck.layout)[None], device)[0])
    labels, files, E = [l for l, _ in items], [str(p.relative_to(folder)) for _, p in items], np.stack(embs)
    if write_cache:
        with atomic_path(cache) as tmp:
            np.savez(tmp, key=key, labels=np.asarray(labels), files=np.asarray(files), embeddings=E)
    return labels, files, E


# ------------------------------------------------------------------------------------------------ results

@dataclass
class Match:
    """One gallery action: its best similarity to the query and the example that gave it."""

    action: str
    similarity: float
    example: str


@dataclass
class Label:
    """One class score; start_s / end_s mark the window it scores (None: the whole clip)."""

    index: int
    label: str
    score: float
    start_s: float | None = None
    end_s: float | None = None


def match_gallery(model, ck: ClipKeypoints, names: list[str], files: list[str], E: np.ndarray, device: str,
                  top_k: int) -> list[Match]:
    """Rank the gallery's actions by the best cosine similarity of any of their examples to the clip."""
    T = model_frames(model)
    q = embed(model, prepare_ntu(ck.kpts, ck.frame_size, T, ck.layout)[None], device)[0]
    best: dict[str, Match] = {}
    for n, f, s in zip(names, files, E @ q):
        if n not in best or s > best[n].similarity:
            best[n] = Match(n, float(s), f)
    return sorted(best.values(), key=lambda m: -m.similarity)[:top_k]


def windowed(model) -> bool:
    """Models trained on `prepare_windows` inputs (ours, from `train action`)."""
    return getattr(model, "meta", {}).get("input") == "windows"


def single_person(model) -> bool:
    """Models trained on one person at a time (ours) score each person of a clip on their own."""
    return getattr(model, "meta", {}).get("persons") == "single"


def _scores(model, people: list[np.ndarray], ck: ClipKeypoints, device: str) -> np.ndarray:
    """Class scores [classes] for people's keypoints: one input with both people, prepared as the official
    NTU pipeline does (official models), or each person alone in windows at 30 fps and the more confident
    person's scores (ours, from `train action`)."""
    T = model_frames(model)
    if not windowed(model):
        return classify(model, prepare_ntu(people, ck.frame_size, T, ck.layout)[None], device)[0]
    sc = np.stack([classify(model, prepare_windows(k, ck.frame_size, ck.fps, T, ck.layout)[None], device)[0]
                   for k in people[:2]])
    return sc[int(np.argmax(sc.max(1)))]


def classify_clip(model, ck: ClipKeypoints, names: list[str], device: str, top_k: int,
                  window_s: float | None = None) -> tuple[list[Label], list[Label]]:
    """(top-k labels of the whole clip, the best label of each successive `window_s` window or [])."""
    scores = _scores(model, ck.kpts, ck, device)
    top = [Label(int(i), names[i], float(scores[i])) for i in np.argsort(scores)[::-1][:top_k]]
    timeline = []
    context = model_frames(model) / WINDOW_FPS if windowed(model) else None  # the network's own span
    for s, e, people in (window_clips(ck, window_s, context) if window_s else []):
        sc = _scores(model, people, ck, device)
        i = int(np.argmax(sc))
        timeline.append(Label(i, names[i], float(sc[i]), s, e))
    return top, timeline
