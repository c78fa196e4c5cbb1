"""Placing a lifted body in the camera: where the person is, not just how they are posed.

The pose3d lifter (lift_sequence with pixels=True) returns each joint's x, y in pixels (where the joint is
seen: a perspective projection) and its depth relative to the pelvis in pixels at the pelvis' distance (what
`to_pixels` makes its training targets). `unproject` undoes the perspective: it gives the body in pixels at
the pelvis' distance, whose limbs, unlike lengths measured in the 2D image, neither shrink when a limb points
at the camera nor grow when it reaches towards it. With a pinhole camera (focal f px, principal point c), a
body part of L metres at depth Z spans f L / Z pixels, so the ratio k = L / (its length in pixels) is metres
per pixel at the person, Z = f k, and the pelvis sits at ((u - cx) k, (v - cy) k, f k).

Each person's bones are then held at one length (steady_bones), the joints moving mostly along their viewing
rays. An earlier form that moved them along the bones alone (directions kept) was tried and not kept: S9
improved (70.8 -> 69.5 mm with YOLO 2D) but HumanEva (31.4 -> 32.6), the pose2sim triangulation (70.8 -> 72.0)
and the 2D of the mesh fitted to the joints got worse. Kept along the rays, every one of them improves
(models/README.md, "Steady bones").
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .keypoints import H36M_BONES, H36M_FLIP_PERM

# H36M-17 limbs whose metric length is stable (thigh, shin, upper arm, forearm; left then right) and the mean
# adult lengths in metres (Human3.6M's subjects), used when the body's own size is unknown.
LIMBS = [(4, 5), (5, 6), (1, 2), (2, 3), (11, 12), (12, 13), (14, 15), (15, 16)]
ADULT_LIMB_METRES = np.array([0.45, 0.44, 0.45, 0.44, 0.28, 0.25, 0.28, 0.25])
# The height those limbs belong to: Winter's anthropometry puts thigh and shin at ~0.245 of standing height.
ADULT_HEIGHT_M = 1.80


def limbs_for_height(height_m: float | None) -> np.ndarray:
    """Limb lengths (metres, LIMBS order) of a person of the given standing height; None: an average adult."""
    return ADULT_LIMB_METRES if height_m is None else ADULT_LIMB_METRES * (height_m / ADULT_HEIGHT_M)


# The depth (metres per pixel) is fitted by a line over this much time around each frame: single-frame limb
# lengths jitter, and a person's distance changes smoothly. On HumanEva 1 s beat 1/6 s and 1/2 s in both
# error and jitter (benchmarks/bench_trajectory.py).
DEPTH_SMOOTHING_S = 1.0


def smoothing_frames(fps: float) -> int:
    return max(1, round(fps * DEPTH_SMOOTHING_S))


def default_intrinsics(frame_size: tuple[int, int], focal: float | None = None) -> tuple[float, tuple[float, float]]:
    """(focal px, principal point) for a frame (w, h): the given focal, else the longer side (a ~53 degree
    field of view across it), and the frame's centre."""
    w, h = frame_size
    return (float(focal) if focal else float(max(w, h))), (w / 2, h / 2)


def limb_vectors(joints: np.ndarray) -> np.ndarray:
    """[..., 17, 3] -> [..., 8, 3] LIMBS as vectors (first joint minus second)."""
    a, b = zip(*LIMBS)
    return joints[..., list(a), :] - joints[..., list(b), :]


def limb_lengths(joints: np.ndarray) -> np.ndarray:
    """[..., 17, 3] -> [..., 8] lengths of LIMBS."""
    return np.linalg.norm(limb_vectors(joints), axis=-1)


# A person's own limb length: this weighted quantile over the clip of the limb's length in metres, frames
# weighted by cos^8 of its angle to the image plane (nearly only frames where it is seen at full length);
# above the median because a lifter too flat in depth only ever makes limbs shorter.
OWN_LIMB_QUANTILE = 0.75


def metres_per_pixel(pix3d: np.ndarray, limb_metres: np.ndarray | None = None) -> np.ndarray:
    """Per-frame metres per pixel at the person. pix3d [T, 17, 3] (the unprojected lifter output, pixels) -> [T].

    limb_metres [8]: the person's limb lengths (e.g. from their body model); default: an average adult.
    Two things keep the distance from wandering when the pose changes (a person sinking into a stance):
    - each limb's ratio is weighted by cos^2 of its angle to the image plane: a limb seen at its full length
      is measured by the detector, one pointing at the camera mostly by the lifter's depth, which is what it
      gets wrong (a bent knee lifted too flat reads as a short thigh, a person too far away);
    - the limbs' proportions are the person's own (each limb's length over the clip from a first pass, taken
      from the frames where it lies in the image plane, OWN_LIMB_QUANTILE), scaled as a whole to limb_metres: with the table's proportions a person whose arms are shorter than
      the table's would move whenever the arms rather than the legs face the camera.
    The weighted mean of the limbs within 15% of their weighted median (of log ratios), so one badly lifted
    limb does not move the person and the choice does not jump from limb to limb (a median alone added 15%
    to the placed body's jitter in tests/test_pipeline.py). NaN where nothing was lifted.
    Measured (benchmarks/bench_trajectory.py, HumanEva, 1 s fit): distance swing 1.6 -> 1.1%, pelvis error
    23.7 -> 22.7 cm (average adult) and 8.6 -> 8.4 cm (own limbs); Human3.6M S9 and pose2sim unchanged within
    1 cm or better (bench_h36m.py, bench_multiview.py).
    """
    L = ADULT_LIMB_METRES if limb_metres is None else np.asarray(limb_metres, np.float64)
    d = limb_vectors(pix3d.astype(np.float64))
    lp = np.linalg.norm(d, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        seen = np.isfinite(lp) & (lp > 1e-6)
        w = np.where(seen, (np.linalg.norm(d[..., :2], axis=-1) / lp) ** 2, 0.0)
        k0 = _weighted_median(np.where(seen, L / lp, np.nan), w)
        # each limb's length in metres, from the frames where it is seen most nearly at full length
        own = _weighted_median((lp * k0[:, None]).T, w.T ** 4, OWN_LIMB_QUANTILE)
        if np.isfinite(own).all() and (own > 0).all():
            L = own * np.median(L / own)
        r = np.where(seen, L / lp, np.nan)
        # a weighted mean (of log ratios) around the weighted median: the median alone jumps from limb to limb
        med = _weighted_median(r, w)
        lr = np.log(r / med[:, None])
        near = seen & (np.abs(np.nan_to_num(lr, nan=np.inf)) < 0.15)
        ww = np.where(near, w, 0.0)
        tot = ww.sum(-1)  # > 0 wherever med is a number: the median's own limb is near and weighted
        return med * np.exp((ww * np.where(near, lr, 0.0)).sum(-1) / np.where(tot > 0, tot, 1.0))


def _weighted_median(x: np.ndarray, w: np.ndarray, q: float = 0.5) -> np.ndarray:
    """Per row of x [T, N] (NaN = missing) the weighted median (q: quantile) with weights w [T, N] -> [T];
    NaN where a row has no weight. The smallest value whose cumulative weight reaches q of the row's."""
    w = np.where(np.isfinite(x), w, 0.0)
    order = np.argsort(np.where(np.isfinite(x), x, np.inf), axis=-1)
    xs, ws = np.take_along_axis(x, order, -1), np.take_along_axis(w, order, -1)
    c = np.cumsum(ws, -1)
    total = c[:, -1:]
    idx = np.minimum((c < q * total).sum(-1), x.shape[-1] - 1)
    out = xs[np.arange(len(x)), idx]
    return np.where(total[:, 0] > 0, out, np.nan)


def smooth_log(k: np.ndarray, frames: int) -> np.ndarray:
    """Local linear fit of log k over a centred window of `frames` frames, per frame. [T] -> [T].

    A line rather than a mean, so a person walking towards the camera is not dragged behind at the clip's
    ends or beside gaps; outlying frames are first replaced by a short running median.
    NaN-aware: missing frames are left out of the fits and stay NaN.
    """
    frames = min(frames, len(k))
    frames -= 1 - frames % 2  # odd, so the window is centred on its frame
    if frames <= 1:
        return k
    ok = np.isfinite(k) & (k > 0)
    y = np.where(ok, np.log(np.where(ok, k, 1.0)), np.nan)
    # Outliers (far from a running median, by 3 robust sigmas and at least 5%) are replaced by that median,
    # so single bad frames do not tilt the lines; everything else, trends at the ends included, is kept.
    med = _running_median(y, max(3, frames // 4))
    dev = np.abs(y - med)
    sigma = 1.4826 * np.nanmedian(dev) if np.isfinite(dev).any() else 0.0
    y = np.where(dev > max(0.05, 3 * sigma), med, y)
    y = np.where(ok, y, 0.0)
    w = ok.astype(float)
    d = np.arange(frames) - (frames - 1) / 2  # offsets in the window, centred

    def conv(a, ker):  # sum over the window around each frame of a(t + d) * ker(d)
        return np.convolve(a, ker[::-1], "same")

    s0, s1, s2 = conv(w, np.ones(frames)), conv(w, d), conv(w, d * d)
    sy, sdy = conv(w * y, np.ones(frames)), conv(w * y, d)
    det = s0 * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        line = (s2 * sy - s1 * sdy) / det
        mean = sy / s0
    out = np.exp(np.where(det > 1e-9 * np.maximum(s0, 1) ** 3, line, mean))
    out[~ok] = np.nan
    return out


def _running_median(y: np.ndarray, frames: int) -> np.ndarray:
    """NaN-aware centred running median of [T] (odd window; the ends use what there is)."""
    h = frames // 2
    pad = np.pad(y, h, constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * h + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        return np.nanmedian(win, axis=-1)


def unproject(pix3d: np.ndarray, focal: float, centre: tuple[float, float], perspective: bool = True) -> np.ndarray:
    """The lifter's pixel 3D with the perspective undone. [..., 17, 3] -> [..., 17, 3] in the camera's axes.

    A joint at depth dz (pixels, relative to the pelvis) behind the pelvis lies at Z = Zp (1 + dz / f), and its
    pixel offset from the principal point is f X / Z, so X = (u - cx) Z / f. In units of Zp / f (metres per
    pixel at the pelvis): ((u - cx) s, (v - cy) s, f s) with s = 1 + dz / f: the exact inverse of to_pixels up
    to that one scale, whatever the pelvis' depth. Treating the pixels as a flat copy of the body instead
    (weak perspective) bends limbs that reach towards or away from the camera: 34.2 vs 31.3 mm P-MPJPE on
    HumanEva with the shipped lifter (models/README.md).
    perspective=False keeps the network's own (weakly perspective) shape, x, y as seen and depth as lifted:
    for keypoints whose camera is unknown, where a guessed focal length and principal point bend the body
    more than the perspective they would undo (`pose3d --keypoints` without --size).
    """
    dz = pix3d[..., 2:3] - pix3d[..., :1, 2:3]
    if not perspective:
        return np.concatenate([pix3d[..., :1] - centre[0], pix3d[..., 1:2] - centre[1], focal + dz], -1)
    s = 1.0 + dz / focal
    return np.concatenate([(pix3d[..., :1] - centre[0]) * s, (pix3d[..., 1:2] - centre[1]) * s, focal * s], -1)


def root_trajectory(pix3d: np.ndarray, focal: float, centre: tuple[float, float],
                    limb_metres: np.ndarray | None = None, smooth_frames: int = 1,
                    perspective: bool = True) -> np.ndarray:
    """Pelvis position in the camera frame (metres; x right, y down, z forward) per frame. [T, 17, 3] -> [T, 3].

    pix3d: the lifter's output in pixels (joint 0 = pelvis); focal in pixels; centre = principal point.
    smooth_frames: the depth (log metres per pixel) is fitted by a line over this many frames around each
    frame (smoothing_frames(fps) is what the commands use).
    """
    return _root(pix3d, unproject(pix3d, focal, centre, perspective), focal, centre, limb_metres, smooth_frames)


def _root(pix3d, body, focal, centre, limb_metres, smooth_frames) -> np.ndarray:
    """root_trajectory given the already unprojected body (camera_joints needs that body too)."""
    k = smooth_log(metres_per_pixel(body, limb_metres), smooth_frames)
    u, v = pix3d[:, 0, 0] - centre[0], pix3d[:, 0, 1] - centre[1]
    return np.stack([u * k, v * k, focal * k], axis=-1)


def camera_joints(pix3d: np.ndarray, focal: float, centre: tuple[float, float],
                  limb_metres: np.ndarray | None = None, smooth_frames: int = 1, perspective: bool = True) -> np.ndarray:
    """All joints in the camera frame (metres): the pelvis from root_trajectory, the body around it
    (unprojected, or as lifted with perspective=False) scaled by the same metres per pixel. [T, 17, 3] -> [T, 17, 3]."""
    u = unproject(pix3d, focal, centre, perspective)
    root = _root(pix3d, u, focal, centre, limb_metres, smooth_frames)
    k = root[:, 2:3, None] / focal
    return root[:, None] + (u - u[:, :1]) * k


# Each bone's mirror image (index into H36M_BONES; the spine's are themselves): held at their mean length.
_BONE_MIRROR = [H36M_BONES.index(tuple(H36M_FLIP_PERM[j] for j in bone)) for bone in H36M_BONES]
# How far a bone's correction may move a joint across its viewing ray, as a share of the move along it: the
# 2D (the ray) is far surer than the lifted depth. Chosen on Human3.6M S8 (a training subject) through its
# cameras with the training's detector-like 2D and pose3d's default pair, benchmarks/bench_steady_bones.py
# (P-MPJPE at 10 / 25 fps: 1.0 -> 74.5 / 68.6 mm, 0.5 -> 73.9 / 68.2, 0.25 -> 73.6 / 68.1, 0.1 -> 73.7 / 68.7;
# without the step 76.9 / 71.0).
ACROSS_RAY = 0.25


def steady_bones(cam: np.ndarray, across_ray: float = ACROSS_RAY, iterations: int = 30) -> np.ndarray:
    """One person's joints in the camera frame [T, 17, 3] (metres, NaN where unseen) with every bone held at
    one length: its median over the clip, left and right alike (a person's bones do not change; a lifter's
    vary by 5-30% from frame to frame, most where a limb points at the camera). Each bone is brought to its
    length by moving its two ends along the bone (position-based projection, `iterations` sweeps; the pelvis,
    which placement put on its own 2D, does not move), mostly along each joint's viewing ray so the 2D the
    body was lifted from stays where it is."""
    J = np.array(cam, np.float64, copy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a person never placed: all NaN, returned as such
        L = np.array([np.nanmedian(np.linalg.norm(J[:, b] - J[:, a], axis=-1)) for a, b in H36M_BONES])
    if not np.isfinite(L).all():
        return J
    L = (L + L[_BONE_MIRROR]) / 2
    for _ in range(iterations):
        for (a, b), length in zip(H36M_BONES, L):
            d = J[:, b] - J[:, a]
            n = np.linalg.norm(d, axis=-1, keepdims=True)
            half = (n - length) / 2 * d / np.maximum(n, 1e-9)   # each end's share of the correction
            ends = ((b, -2.0),) if a == 0 else ((a, 1.0), (b, -1.0))  # the pelvis stays where placement put it
            for j, sign in ends:
                ray = J[:, j] / np.maximum(np.linalg.norm(J[:, j], axis=-1, keepdims=True), 1e-9)
                along = (half * ray).sum(-1, keepdims=True) * ray
                J[:, j] += sign * (along + across_ray * (half - along))
    return J


def place_in_metres(pix3d: np.ndarray, focal: float, centre: tuple[float, float], limb_metres: np.ndarray,
                    fps: float, perspective: bool = True, steady: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """One person's lifter output [T, 17, 3] (pixels, NaN where unseen) -> (joints3d_camera: the unprojected
    body in the camera frame, metres; joints3d: the same with its origin at the median pelvis; the median
    metres per pixel at the person). Each frame has its own metres per pixel (fitted over 1 s), so a person
    walking towards the camera keeps their size instead of growing with their image; steady: each bone then held
    at one length (steady_bones). perspective=False: the body keeps the lifter's shape (see unproject)."""
    cam = camera_joints(pix3d, focal, centre, limb_metres, smooth_frames=smoothing_frames(fps), perspective=perspective)
    if steady and perspective:  # without a real camera there are no viewing rays to keep the 2D on
        cam = steady_bones(cam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a person never placed: all NaN, returned as such
        joints = cam - np.nanmedian(cam[:, 0], axis=0)
        scale = float(np.nanmedian(cam[:, 0, 2])) / focal
    return joints, cam, scale if np.isfinite(scale) else 1.0


# ---------------------------------------------------------------- cameras for synthesis and evaluation

def orbit_eye(centre: np.ndarray, azimuth: float, elevation: float, distance: float) -> np.ndarray:
    """A camera position `distance` metres from `centre` (Y-up world) at azimuth / elevation (radians)."""
    return centre + distance * np.array([np.cos(elevation) * np.cos(azimuth), np.sin(elevation),
                                         np.cos(elevation) * np.sin(azimuth)])


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World->camera rotation (rows: camera x right, y down, z forward) for a Y-up world."""
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, np.array([0.0, 1.0, 0.0]))  # right = forward x up  (y down in the image)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def to_pixels(cam: np.ndarray, f: float, c) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame joints [T, 17, 3] -> (2D pixels [T, 17, 2], pixel-scaled 3D [T, 17, 3]: the 2D plus depth
    relative to the pelvis, in pixels at the pelvis' distance)."""
    Z = np.maximum(cam[..., 2:3], 0.3)
    uv = f * cam[..., :2] / Z + np.asarray(c)
    root_z = Z[:, :1]
    depth = f * (cam[..., 2:3] - cam[:, :1, 2:3]) / root_z
    return uv, np.concatenate([uv, depth], axis=-1)


@dataclass
class Camera:
    """A real camera: world (Y up, metres) -> camera frame is (X - centre) @ R; focal f and centre c in pixels."""

    R: np.ndarray
    centre: np.ndarray
    f: float
    c: tuple[float, float]
