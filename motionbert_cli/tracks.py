"""One person per track: the keypoint tracks of a video, joined, repaired and chosen.

`Tracks` holds every track's keypoints and boxes over the whole video; `stitch_tracks` joins fragments the
tracker split, `fix_swaps` undoes the detector's short left/right swaps, `select_tracks` picks the people
to lift (--person).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError
from .keypoints import fix_lr_swaps


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
    # what a keypoint file says about its video: fps, frame_size (w, h), focal_length (our motion.npz)
    meta: dict = field(default_factory=dict)
    frames_detected: int = 0  # frames the detector ran on (--detect-every: the rest interpolated)

    def present(self, i: int) -> np.ndarray:
        return self.kpts[i][..., 2].max(-1) > 0

    def span(self, i: int) -> tuple[int, int]:
        f = np.flatnonzero(self.present(i))
        return (int(f[0]), int(f[-1]) + 1) if len(f) else (0, 0)

    def cut(self, start: int, end: int) -> "Tracks":
        """Frames [start, end) only (frame 0 of the result is frame `start`); tracks absent there are dropped."""
        n = end - start
        out = Tracks(n, layout=self.layout)
        for tid, k, b in zip(self.ids, self.kpts, self.boxes):
            k, b = k[start:end], b[start:end]
            if not (k[..., 2] > 0).any():
                continue
            short = n - len(k)  # the file ended early: pad with absent frames
            out.ids.append(tid)
            out.kpts.append(np.concatenate([k, np.zeros((short,) + k.shape[1:], k.dtype)]))
            out.boxes.append(np.concatenate([b, np.full((short, 4), np.nan, b.dtype)]))
        return out


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
