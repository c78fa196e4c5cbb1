"""Keypoint formats and the normalisations MotionBERT expects.

All arrays are numpy, [..., T, J, C] with C = (x, y, confidence) for 2D or (x, y, z) for 3D.
H36M-17 order (MotionBERT's): see H36M_JOINTS.
"""
from __future__ import annotations

import numpy as np

H36M_JOINTS = ["pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
               "spine", "thorax", "nose", "head", "left_shoulder", "left_elbow", "left_wrist",
               "right_shoulder", "right_elbow", "right_wrist"]
# Bones as (parent, child) for drawing; the first joint of each pair is nearer the pelvis.
H36M_BONES = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
              (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16)]
H36M_LEFT = [4, 5, 6, 11, 12, 13]
H36M_RIGHT = [1, 2, 3, 14, 15, 16]
# Left/right swap permutation (flip augmentation).
H36M_FLIP_PERM = list(range(17))
for _l, _r in zip(H36M_LEFT, H36M_RIGHT):
    H36M_FLIP_PERM[_l], H36M_FLIP_PERM[_r] = _r, _l

COCO_JOINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
               "right_knee", "left_ankle", "right_ankle"]


def coco_to_h36m(x: np.ndarray) -> np.ndarray:
    """COCO-17 [..., 17, C] -> H36M-17 [..., 17, C], as MotionBERT's NTU pipeline does.

    Synthesised joints (pelvis, spine, thorax, head) average their sources, confidence included, so a joint
    built from a missing keypoint gets a lowered confidence.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros(x.shape[:-2] + (17, x.shape[-1]))
    y[..., 0, :] = (x[..., 11, :] + x[..., 12, :]) * 0.5
    y[..., 1, :] = x[..., 12, :]
    y[..., 2, :] = x[..., 14, :]
    y[..., 3, :] = x[..., 16, :]
    y[..., 4, :] = x[..., 11, :]
    y[..., 5, :] = x[..., 13, :]
    y[..., 6, :] = x[..., 15, :]
    y[..., 8, :] = (x[..., 5, :] + x[..., 6, :]) * 0.5
    y[..., 7, :] = (y[..., 0, :] + y[..., 8, :]) * 0.5
    y[..., 9, :] = x[..., 0, :]
    y[..., 10, :] = (x[..., 1, :] + x[..., 2, :]) * 0.5
    y[..., 11, :] = x[..., 5, :]
    y[..., 12, :] = x[..., 7, :]
    y[..., 13, :] = x[..., 9, :]
    y[..., 14, :] = x[..., 6, :]
    y[..., 15, :] = x[..., 8, :]
    y[..., 16, :] = x[..., 10, :]
    return y


def halpe_to_h36m(x: np.ndarray) -> np.ndarray:
    """Halpe-26 (AlphaPose) [..., 26, C] -> H36M-17 [..., 17, C], as MotionBERT's in-the-wild demo does."""
    x = np.asarray(x, dtype=np.float64)
    src = [19, 12, 14, 16, 11, 13, 15, None, 18, 0, 17, 5, 7, 9, 6, 8, 10]
    y = np.zeros(x.shape[:-2] + (17, x.shape[-1]))
    for j, s in enumerate(src):
        if s is not None:
            y[..., j, :] = x[..., s, :]
    y[..., 7, :] = (x[..., 18, :] + x[..., 19, :]) * 0.5
    return y


LAYOUTS = ("coco", "halpe", "h36m")


def to_h36m(x: np.ndarray, layout: str | None = None) -> np.ndarray:
    """Keypoints [..., J, C] in `layout` ('coco', 'halpe' or 'h36m'; None: COCO for 17 joints, Halpe for 26)
    -> H36M-17 [..., 17, C] (a copy; 'h36m' passes through)."""
    J = x.shape[-2]
    layout = layout or {17: "coco", 26: "halpe"}.get(J)
    expected = {"coco": 17, "h36m": 17, "halpe": 26}.get(layout)
    if expected != J:
        raise ValueError(f"unsupported keypoint layout {layout!r} with {J} joints: expected COCO-17, Halpe-26 "
                         f"or H36M-17")
    if layout == "coco":
        return coco_to_h36m(x)
    if layout == "halpe":
        return halpe_to_h36m(x)
    return np.array(x, dtype=np.float64, copy=True)


def layout_from_names(names) -> str | None:
    """The layout whose joint names these are (our motion.npz stores `joint_names`), or None."""
    names = [str(n).lower() for n in names]
    if names == H36M_JOINTS:
        return "h36m"
    if names == COCO_JOINTS:
        return "coco"
    return None


def guess_layout(kpts: np.ndarray) -> str | None:
    """Tell COCO-17 from H36M-17 order by the keypoints themselves: [..., T, 17, 3] pixels + confidence.

    COCO's first five points are the face (nose, eyes, ears): a cluster far smaller than the body. H36M's are
    pelvis, right hip, knee, ankle and left hip: they span a leg's length. The ratio of their extent to the
    body's is ~0.1 for COCO and ~0.5 for H36M on real detections; returns None when too few frames have all
    of them confident to tell.
    """
    k = np.asarray(kpts, np.float64).reshape(-1, kpts.shape[-2], kpts.shape[-1])
    seen = k[..., 2] > 0 if k.shape[-1] > 2 else np.ones(k.shape[:2], bool)
    ok = (seen[:, :5].sum(-1) >= 3) & (seen.sum(-1) >= 8)  # ears and eyes are often unseen in profile
    if ok.sum() < 3:
        return None
    xy = np.where(seen[ok][..., None], k[ok][..., :2], np.nan)
    first = np.nanmax(np.nanmax(xy[:, :5], 1) - np.nanmin(xy[:, :5], 1), -1)
    body = np.nanmax(np.nanmax(xy, 1) - np.nanmin(xy, 1), -1)
    ratio = float(np.median(first / np.maximum(body, 1e-9)))
    if ratio < 0.25:
        return "coco"
    if ratio > 0.35:
        return "h36m"
    return None


def crop_scale(motion: np.ndarray, ratio: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Normalise 2D [..., J, 3] (x, y, conf) to [-1, 1] by the bounding box of all confident joints.

    The square box is max(width, height) * ratio, centred on the joints (shifted by `offset` * box size),
    as MotionBERT's `crop_scale`; a 3rd coordinate other than confidence (3D depth) is scaled by the same
    factor. Returns zeros when fewer than 4 joints are confident (nothing to normalise by).
    """
    return apply_crop(motion, crop_box(motion, ratio, offset))


def crop_box(motion: np.ndarray, ratio: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)):
    """(x0, y0, size) of the square box crop_scale uses, or None when fewer than 4 joints are confident."""
    valid = motion[motion[..., 2] != 0][:, :2]
    if len(valid) < 4:
        return None
    (xmin, ymin), (xmax, ymax) = valid.min(0), valid.max(0)
    size = max(xmax - xmin, ymax - ymin) * ratio
    if size == 0:
        return None
    x0 = (xmin + xmax - size) / 2 + offset[0] * size
    y0 = (ymin + ymax - size) / 2 + offset[1] * size
    return float(x0), float(y0), float(size)


def apply_crop(motion: np.ndarray, box, depth: bool = False) -> np.ndarray:
    """Map pixels into the box's [-1, 1] frame. With depth=True the 3rd channel is a depth in pixels
    (scaled, not clipped); otherwise it is a confidence (kept)."""
    if box is None:
        return np.zeros(motion.shape, dtype=np.float32)
    x0, y0, size = box
    out = np.array(motion, dtype=np.float32, copy=True)
    out[..., 0] = (motion[..., 0] - x0) / size * 2 - 1
    out[..., 1] = (motion[..., 1] - y0) / size * 2 - 1
    if depth:
        out[..., 2] = motion[..., 2] / size * 2
    else:
        out[..., :2] = np.clip(out[..., :2], -1, 1)
    return out


def pixel_normalise(motion: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The official demo's --pixel mode: centre on the frame and divide by min(w, h) / 2."""
    w, h = frame_size
    out = np.array(motion, dtype=np.float32, copy=True)
    out[..., :2] = (motion[..., :2] - np.array([w, h]) / 2.0) / (min(w, h) / 2.0)
    return out


def pixel_denormalise(joints: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Inverse of pixel_normalise for 3D output (z scaled like x and y)."""
    w, h = frame_size
    out = np.asarray(joints, dtype=np.float32) * (min(w, h) / 2.0)
    out[..., :2] += np.array([w, h], dtype=np.float32) / 2.0
    return out


def flip_h36m(x):
    """Mirror left/right: negate x and swap left and right joints. Works on numpy arrays and torch tensors."""
    y = x[..., H36M_FLIP_PERM, :]
    y = y.clone() if hasattr(y, "clone") else y.copy()
    y[..., 0] = -y[..., 0]
    return y


def fill_gaps(kpts: np.ndarray, max_gap: int = 10) -> np.ndarray:
    """Interpolate joints missing (confidence 0) for at most `max_gap` frames between two detections.

    kpts [T, J, 3] pixels + confidence. Filled joints get half the smaller neighbouring confidence; longer
    gaps and the ends stay at confidence 0.
    """
    out = np.array(kpts, dtype=np.float32, copy=True)
    T, J, _ = out.shape
    for j in range(J):
        ok = np.flatnonzero(out[:, j, 2] > 0)
        if len(ok) < 2:
            continue
        for a, b in zip(ok[:-1], ok[1:]):
            if 1 < b - a <= max_gap + 1:
                t = (np.arange(a + 1, b) - a) / (b - a)
                out[a + 1:b, j, :2] = out[a, j, :2] * (1 - t[:, None]) + out[b, j, :2] * t[:, None]
                out[a + 1:b, j, 2] = 0.5 * min(out[a, j, 2], out[b, j, 2])
    return out


# Left/right keypoint pairs per layout that a detector swaps together, proximal pair first: legs, arms.
LR_GROUPS = {
    "coco": [[(11, 12), (13, 14), (15, 16)], [(5, 6), (7, 8), (9, 10)]],
    "halpe": [[(11, 12), (13, 14), (15, 16), (20, 21), (22, 23), (24, 25)], [(5, 6), (7, 8), (9, 10)]],
    "h36m": [[(4, 1), (5, 2), (6, 3)], [(11, 14), (12, 15), (13, 16)]],
}


def person_height(kpts: np.ndarray) -> float:
    """A person's height in the image: the median over frames of the vertical extent of their seen keypoints
    ([T, J, 3] pixels + confidence; 0 = not seen). 0.0 when nothing is seen."""
    seen = kpts[..., 2] > 0
    frames = seen.any(-1)
    if not frames.any():
        return 0.0
    ys = np.where(seen, kpts[..., 1], np.nan)[frames]
    return float(np.median(np.nanmax(ys, 1) - np.nanmin(ys, 1)))


def fix_lr_swaps(kpts: np.ndarray, layout: str = "coco", max_frames: int = 15,
                 min_width: float = 0.05) -> tuple[np.ndarray, int, int]:
    """Undo short left/right swaps of a 2D detector in one person's track.

    kpts [T, J, 3] pixels + confidence (0 = not seen). Detectors sometimes label a person's left leg (or arm)
    as the right one for a few frames, mostly when the person faces the camera, and while the limbs move fast
    they may flicker between the two labellings for a second; the 3D then turns the body away and back.
    Hips and shoulders cannot cross over, so which of the two is on the image's left says which way the body
    faces. Per group (legs by the hips, arms by the shoulders): each frame where the pair is wider than
    `min_width` of the person's height votes with its side; a frame that disagrees with the majority of the
    votes within `max_frames` frames on either side, in a run of at most `max_frames` such frames, has the
    group's labels swapped. A person who turns round changes side for good, which the majority follows.
    Detectors that swap the legs often draw both hips on top of each other, so those frames cannot vote: a
    second pass (`_continuity_swaps`) swaps short runs of such frames back where the limbs jump to the other
    side and back. Frames seen edge-on that do not jump (profile) are never changed.
    Returns (fixed copy, swaps undone, frames changed).
    """
    out = np.array(kpts, np.float32, copy=True)
    T = out.shape[0]
    seen = out[..., 2] > 0
    height = person_height(out)
    if height <= 0 or T < 3:
        return out, 0, 0
    n_runs = n_frames = 0
    for group in LR_GROUPS[layout]:
        (l0, r0) = group[0]
        dx = out[:, l0, 0] - out[:, r0, 0]
        vote = np.where(seen[:, l0] & seen[:, r0] & (np.abs(dx) > min_width * height), np.sign(dx), 0.0)
        # majority of the votes around each frame (a window of 2 * max_frames + 1)
        c = np.concatenate([[0.0], np.cumsum(vote)])  # window sums by cumulative sums: any T, even < the window
        i = np.arange(T)
        context = np.sign(c[np.minimum(T, i + max_frames + 1)] - c[np.maximum(0, i - max_frames)])
        wrong = (vote != 0) & (context != 0) & (vote != context)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], wrong.astype(np.int8), [0]])))
        a = [l for l, _ in group] + [r for _, r in group]
        b = [r for _, r in group] + [l for l, _ in group]
        for s0, e0 in zip(edges[::2], edges[1::2]):
            if e0 - s0 <= max_frames:
                out[s0:e0, a] = kpts[s0:e0, b]
                n_runs += 1
                n_frames += e0 - s0
        for s0, e0 in _continuity_swaps(out[:, a], out[:, b], height, max_frames):
            if not vote[s0:e0].any():  # only where the pair could not vote
                out[s0:e0, a], out[s0:e0, b] = out[s0:e0, b].copy(), out[s0:e0, a].copy()
                n_runs += 1
                n_frames += e0 - s0
    return out, n_runs, n_frames


def _continuity_swaps(given: np.ndarray, swapped: np.ndarray, height: float, max_frames: int,
                      cost_per_frame: float = 0.05) -> list[tuple[int, int]]:
    """Runs [start, end) where the swapped labels [T, n, 3] keep the keypoints closer to where they were a frame
    before than the given ones do: a two-state Viterbi pass with `cost_per_frame` for each swapped frame (the
    given labels win ties), keeping runs of at most `max_frames` where the given labels jump at both ends."""
    T = len(given)
    views = [given, swapped]
    cost = np.zeros((T, 2))
    back = np.zeros((T, 2), int)
    steps = np.zeros((T, 2, 2))  # [t, state at t-1, state at t]: how far the keypoints move
    for t in range(1, T):
        for s in range(2):
            for p in range(2):
                cur, prev = views[s][t], views[p][t - 1]
                ok = (cur[:, 2] > 0) & (prev[:, 2] > 0)
                steps[t, p, s] = np.linalg.norm(cur[ok, :2] - prev[ok, :2], axis=-1).sum() / height
        total = cost[t - 1][:, None] + steps[t]  # [previous state, state]
        back[t] = total.argmin(0)
        cost[t] = total.min(0) + np.array([0.0, cost_per_frame])

    def jump(u):  # do the given labels jump between frames u-1 and u (a swap begins or ends there)?
        return u <= 0 or u >= T or steps[u, 0, 1] < 0.5 * steps[u, 0, 0]

    state = np.zeros(T, np.int8)
    state[-1] = int(cost[-1].argmin())
    for t in range(T - 1, 0, -1):
        state[t - 1] = back[t, state[t]]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], state, [0]])))
    return [(s, e) for s, e in zip(edges[::2], edges[1::2]) if e - s <= max_frames and jump(s) and jump(e)]
