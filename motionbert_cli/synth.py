"""Training pairs from 3D motion: random virtual cameras, detector-like 2D, MotionBERT-style masking.

sample() returns x [T, 17, 3] (normalised 2D + confidence, as `motionbert pose3d` feeds the network) and
y [T, 17, 3] (the target: x, y aligned with the 2D, z = depth relative to the pelvis, same scale).
The 2D normalisation is the one inference uses (`keypoints.crop_scale` over the clip), with a random box
ratio and offset so the network also sees people that fill only part of the box.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fnmatch import fnmatch

import numpy as np

from .camera import Camera, look_at, orbit_eye, to_pixels
from .keypoints import H36M_BONES, H36M_FLIP_PERM, apply_crop, crop_box
from .mocap import Motion, PairedClip, joint_definitions, load_h36m_cameras, target_mask, to_detector_joints


@dataclass
class AugmentConfig:
    fps_range: tuple[float, float] = (20.0, 60.0)
    elevation_deg: tuple[float, float] = (-15.0, 45.0)
    distance_m: tuple[float, float] = (2.5, 12.0)
    fov_deg: tuple[float, float] = (30.0, 90.0)
    bone_scale: float = 0.12          # per-bone length factor drawn from 1 +- this (left/right alike)
    flip_p: float = 0.5
    noise_px: float = 0.008           # detector jitter, as a fraction of the person's box size
    outlier_p: float = 0.005          # chance a joint is badly misplaced in a frame
    mask_joint_p: float = 0.05        # MotionBERT pretraining: 15% joints / 50% frames; milder for lifting
    mask_frame_p: float = 0.02
    box_ratio: tuple[float, float] = (1.0, 1.4)
    real_camera_p: float = 0.5        # clips with capture cameras: share seen through them
    camera_clip_weight: float = 3.0   # ...and how much more often they are drawn than their length says
    # Errors of real detections (off by default so earlier stages' configs reproduce). Measured on the 4-view
    # pose2sim clip (benchmarks/bench_2d_noise.py): YOLO keypoints lie a median 2.2% of the person's height
    # from the triangulated joints (p90 8%); the error drifts slowly on the torso and legs (lag-1
    # autocorrelation 0.84-0.95 at 60 fps: a viewpoint-dependent bias) and less so on elbows and wrists
    # (0.33-0.65); 13% of keypoints are more than 5% of the height off (misplaced limbs, swaps).
    drift_px: float = 0.0             # std of the slowly drifting error, fraction of the person's size
    drift_corr: float = 0.9           # its frame-to-frame correlation (AR(1))
    burst_p: float = 0.0              # per joint and frame: chance a misplaced-keypoint burst starts
    burst_size: float = 0.08          # its offset's std, fraction of the person's size (1-10 frames long)
    swap_p: float = 0.0               # per frame: chance the detector swaps left and right for 1-8 frames
    detector_error_p: float = 1.0     # share of clips that get the drift, bursts and swaps above (the rest only
                                      # jitter and outliers), so the network still trusts clean 2D
    detector_joints: bool = False     # map mocap neck/head-top skeletons to the detector's joint definitions
    # Human3.6M-style training (issue 22): targets keep the mocap joints MotionBERT is scored on, while the 2D
    # follows what YOLO + coco_to_h36m give (detector_view); joints a clip does not define the H36M way are
    # left out of the loss (NaN targets: mocap.target_mask).
    h36m_targets: bool = False
    detector_offsets: float = 1.0     # scale of detector_view's offsets; each clip draws U(0.5, 1.5) x it
    detector_view_p: float = 1.0      # share of samples whose 2D is the detector's view (the rest: the mocap
                                      # joints themselves, as ground-truth 2D benchmarks feed them)
    studio_cameras: str = ""          # a Human3.6M cameras.pkl: real capture cameras (training subjects only)
    studio_camera_p: float = 0.0      # share of motion samples seen through one of them, placed in the studio
    studio_radius_m: float = 1.5      # ...with the clip's mean pelvis uniformly within this of its centre
    # How often clips are drawn, beyond their length: {glob on the clip name: factor}, first match wins
    # (e.g. {"S[0-9]*_*": 3.0} draws Human3.6M's takes 3x as often as their length says).
    clip_weights: dict = field(default_factory=dict)


def _resample(j: np.ndarray, src_fps: float, dst_fps: float, T: int, rng: np.random.Generator) -> np.ndarray:
    """T frames at dst_fps from a clip at src_fps (linear interpolation; ping-pong when too short)."""
    n = j.shape[0]
    step = src_fps / dst_fps
    need = (T - 1) * step
    if n - 1 >= need:
        start = rng.uniform(0, n - 1 - need)
        t = start + np.arange(T) * step
    else:
        t = np.arange(T) * step
        period = 2 * max(n - 1, 1)
        t = np.mod(t + rng.uniform(0, period), period)
        t = np.where(t > n - 1, period - t, t)
    i0 = np.clip(np.floor(t).astype(int), 0, n - 1)
    i1 = np.clip(i0 + 1, 0, n - 1)
    w = (t - i0)[:, None, None]
    return j[i0] * (1 - w) + j[i1] * w


def _scale_bones(j: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    if amount <= 0:
        return j
    out = j.copy()
    factors = {}
    for parent, child in H36M_BONES:  # parent-first order: each child moves with its rebuilt parent
        key = (min(parent, H36M_FLIP_PERM[parent]), min(child, H36M_FLIP_PERM[child]))
        if key not in factors:
            factors[key] = 1 + rng.uniform(-amount, amount)
        out[:, child] = out[:, parent] + (j[:, child] - j[:, parent]) * factors[key]
    return out


def random_camera(joints_world: np.ndarray, rng: np.random.Generator, aug: AugmentConfig,
                  image_size: float = 1000.0, aim_jitter_m: float = 0.3) -> Camera:
    """A camera orbiting the clip's mean pelvis within aug's elevation, distance and field-of-view ranges,
    aimed up to aim_jitter_m above or below it."""
    centre = joints_world[:, 0].mean(0)
    az = rng.uniform(0, 2 * np.pi)
    el = np.deg2rad(rng.uniform(*aug.elevation_deg))
    extent = np.ptp(joints_world[:, 0, [0, 2]], axis=0).max() if len(joints_world) > 1 else 0.0
    dist = rng.uniform(*aug.distance_m) + extent  # keep the whole path in front of the camera
    eye = orbit_eye(centre, az, el, dist)
    R = look_at(eye, centre + np.array([0, rng.uniform(-aim_jitter_m, aim_jitter_m), 0]) if aim_jitter_m else centre)
    f = image_size / 2 / np.tan(np.deg2rad(rng.uniform(*aug.fov_deg)) / 2)
    return Camera(R=R.T, centre=eye, f=f, c=(image_size / 2, image_size / 2))


def project(joints_world: np.ndarray, rng: np.random.Generator, aug: AugmentConfig,
            image_size: float = 1000.0, camera: Camera | None = None,
            aim_jitter_m: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Random (or the given) camera -> (2D pixels [T, 17, 2], pixel-scaled 3D [T, 17, 3]); see random_camera."""
    camera = camera or random_camera(joints_world, rng, aug, image_size, aim_jitter_m)
    return to_pixels((joints_world - camera.centre) @ camera.R, camera.f, camera.c)


def place_in_studio(joints_world: np.ndarray, rng: np.random.Generator, radius_m: float) -> np.ndarray:
    """A clip moved into a capture studio whose floor centre is the origin (Y up, floor at y = 0 as in our
    mocap files): turned to a random heading about the vertical, its mean pelvis put uniformly within
    radius_m of the centre, its height kept."""
    a = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(a), np.sin(a)
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    mean = joints_world[:, 0].mean(0)
    r, phi = radius_m * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
    target = np.array([r * np.cos(phi), 0.0, r * np.sin(phi)])
    out = (joints_world - mean * np.array([1.0, 0, 1.0])) @ R.T
    return out + target


# Where YOLO's COCO keypoints lie relative to the joints of a mocap skeleton, measured on the free body model
# `anny` (0.6.2; its COCO keypoint regressor against its own bones, 18 phenotypes: gender 0/0.5/1, weight
# 0.2/0.5/0.8, height 0.3/0.7; benchmarks/measure_keypoint_offsets.py), in units of the torso (pelvis to neck
# base, ~0.52 m) and in the body's (left, up, forward) axes. A COCO hip is 1.5 cm nearer the midline, 2.4 cm
# lower and 1.5 cm more forward than the hip joint centre; a COCO shoulder 1.1 cm nearer the midline and 2 cm
# above the shoulder joint (so mid-shoulders, the detector's "thorax", is 6.5 cm below the neck base); a COCO
# ankle 2 cm up the shin from the ankle joint. Left side shown; the right mirrors x.
HIP_OFFSET = np.array([-0.028, -0.047, 0.029])
SHOULDER_OFFSET = np.array([-0.021, 0.041, -0.003])
ANKLE_UP_SHIN = 0.039
# The face from the neck base, in torso units (up along the neck -> head-top direction, forward): the nose
# 12.6 cm up and 11.7 cm forward, mid-eyes 15 cm up and 9 cm forward for a 0.52 m torso. In torso units rather
# than as shares of neck -> head top, because skeletons put their "head top" differently (Human3.6M's is 18 cm
# above its neck joint, anny's skull top 25 cm).
NOSE_FROM_NECK = (0.257, 0.238)
EYES_FROM_NECK = (0.306, 0.186)


def _body_axes(left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[T, 3] left and up directions -> [T, 3, 3] rows (left, up, forward), orthonormal, Y-up right-handed."""
    x = left / (np.linalg.norm(left, axis=-1, keepdims=True) + 1e-9)
    y = up - x * (up * x).sum(-1, keepdims=True)
    y /= np.linalg.norm(y, axis=-1, keepdims=True) + 1e-9
    return np.stack([x, y, np.cross(x, y)], axis=1)


def detector_view(j: np.ndarray, definitions: str, scale: float = 1.0) -> np.ndarray:
    """The points a 2D detector's COCO keypoints (after coco_to_h36m) mark on a body. [T, 17, 3] -> [T, 17, 3].

    definitions: what the clip's joints are (mocap.joint_definitions): 'h36m' / 'mocap' (hip and shoulder joint
    centres, neck base, head top) or 'detector' (thorax = mid-shoulders and face points already; hips and
    shoulders are still joint centres). Hips, shoulders and ankles move by the offsets above (times `scale`);
    pelvis, thorax and spine are rebuilt from them as coco_to_h36m builds them; for neck/head-top skeletons the
    nose and mid-eyes are put on the head."""
    out = np.array(j, np.float64, copy=True)
    pelvis, neck = (j[:, 1] + j[:, 4]) / 2, j[:, 8]
    torso = np.linalg.norm(neck - pelvis, axis=-1)[:, None, None]
    hips = _body_axes(j[:, 4] - j[:, 1], neck - pelvis)
    chest = _body_axes(j[:, 11] - j[:, 14], neck - pelvis)
    mirror = np.array([-1.0, 1.0, 1.0])
    for idx, off, axes in ((4, HIP_OFFSET, hips), (1, HIP_OFFSET * mirror, hips),
                           (11, SHOULDER_OFFSET, chest), (14, SHOULDER_OFFSET * mirror, chest)):
        out[:, idx] = j[:, idx] + scale * torso[:, 0] * (off @ axes)
    for ankle, knee in ((3, 2), (6, 5)):
        shin = j[:, knee] - j[:, ankle]
        out[:, ankle] = j[:, ankle] + scale * ANKLE_UP_SHIN * torso[:, 0] * shin / (
            np.linalg.norm(shin, axis=-1, keepdims=True) + 1e-9)
    out[:, 0] = (out[:, 1] + out[:, 4]) / 2
    out[:, 8] = (out[:, 11] + out[:, 14]) / 2
    out[:, 7] = (out[:, 0] + out[:, 8]) / 2
    if definitions != "detector":
        L = j[:, 10] - neck
        up = L / (np.linalg.norm(L, axis=-1, keepdims=True) + 1e-9)
        fwd = chest[:, 2] - up * (chest[:, 2] * up).sum(-1, keepdims=True)
        fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True) + 1e-9
        t = torso[:, 0]
        out[:, 9] = neck + t * (NOSE_FROM_NECK[0] * up + NOSE_FROM_NECK[1] * fwd)
        out[:, 10] = neck + t * (EYES_FROM_NECK[0] * up + EYES_FROM_NECK[1] * fwd)
    return out


# Share of each joint's error that drifts slowly (torso, legs, face) rather than jumps (elbows, wrists).
_DRIFT_SHARE = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.3, 0.3, 1, 0.3, 0.3])[None, :, None]


def detector_noise(uv: np.ndarray, rng: np.random.Generator, aug: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """Clean 2D [T, 17, 2] pixels -> (detector-like 2D [T, 17, 2], confidence [T, 17, 1]).

    Jitter proportional to the person's size, rare outliers, and (when enabled in `aug`) a slowly drifting
    per-joint error, bursts of misplaced keypoints and short left/right swaps; confidence tracks the error."""
    T = uv.shape[0]
    size = max(np.ptp(uv[..., 0]), np.ptp(uv[..., 1]), 1.0)
    per_joint = aug.noise_px * size * rng.uniform(0.2, 1.5, size=(1, 17, 1))
    err = rng.normal(0, 1, size=uv.shape) * per_joint
    outlier = rng.random((T, 17, 1)) < aug.outlier_p
    err = err + outlier * rng.normal(0, 0.15 * size, size=uv.shape)
    low_conf = np.zeros((T, 17), bool)
    if aug.detector_error_p < 1.0 and rng.random() >= aug.detector_error_p:
        aug = replace(aug, drift_px=0.0, burst_p=0.0, swap_p=0.0)
    if aug.drift_px > 0:
        scale = aug.drift_px * size * rng.uniform(0.5, 1.5)  # detectors and image sizes differ per clip
        a = aug.drift_corr
        innov = rng.normal(0, 1, size=uv.shape)
        drift = np.empty_like(innov)
        drift[0] = innov[0]
        for t in range(1, T):  # AR(1) with unit variance
            drift[t] = a * drift[t - 1] + np.sqrt(1 - a * a) * innov[t]
        err = err + drift * scale * _DRIFT_SHARE + rng.normal(0, 1, uv.shape) * scale * (1 - _DRIFT_SHARE)
    if aug.burst_p > 0:
        for t0, jj in zip(*np.nonzero(rng.random((T, 17)) < aug.burst_p)):
            t1 = min(T, t0 + int(rng.integers(1, 11)))
            err[t0:t1, jj] += rng.normal(0, aug.burst_size * size, size=2)
            low_conf[t0:t1, jj] = True
    uv_noisy = uv + err
    if aug.swap_p > 0:
        for t0 in np.flatnonzero(rng.random(T) < aug.swap_p):
            t1 = min(T, t0 + int(rng.integers(1, 9)))
            uv_noisy[t0:t1] = uv_noisy[t0:t1][:, H36M_FLIP_PERM]
    err_norm = np.linalg.norm(err, axis=-1) / size
    conf = np.clip(1.0 - 4 * err_norm + rng.normal(0, 0.05, size=err_norm.shape), 0.05, 1.0)
    conf[low_conf] = np.minimum(conf[low_conf], rng.uniform(0.2, 0.7, size=int(low_conf.sum())))
    return uv_noisy, conf[..., None]


def make_pair(joints_world: np.ndarray, rng: np.random.Generator, aug: AugmentConfig,
              camera: Camera | None = None, definitions: str | None = None,
              studio: Camera | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One (x, y) pair from a [T, 17, 3] world clip (already at the target frame rate).

    With a real `camera` the clip is seen as recorded (no bone scaling or mirroring). With a `studio` camera
    (aug.studio_cameras) it is scaled and mirrored as with a random camera, then placed in that studio.
    definitions (with aug.h36m_targets): what the clip's joints are (mocap.joint_definitions); the 2D is made
    from detector_view, the target from the joints, NaN where the clip has no H36M-defined joint."""
    j = joints_world
    if camera is None:
        j = _scale_bones(j, rng, aug.bone_scale)
        if rng.random() < aug.flip_p:  # a mirrored world is a new, equally valid motion
            j = j[:, H36M_FLIP_PERM] * np.array([-1.0, 1.0, 1.0])
        if studio is not None:
            j = place_in_studio(j, rng, aug.studio_radius_m)
            camera = studio
    if aug.h36m_targets:
        camera = camera or random_camera(j, rng, aug)
        if rng.random() < aug.detector_view_p:
            k = aug.detector_offsets * rng.uniform(0.5, 1.5)
            uv, _ = project(detector_view(j, definitions or "mocap", k), rng, aug, camera=camera)
        else:
            uv, _ = project(j, rng, aug, camera=camera)
        _, target = project(j, rng, aug, camera=camera)
        target[:, target_mask(definitions or "mocap")] = np.nan
    else:
        uv, target = project(j, rng, aug, camera=camera)
    T = uv.shape[0]
    x = np.concatenate(detector_noise(uv, rng, aug), axis=-1)
    mask = (rng.random((T, 17)) < aug.mask_joint_p) | (rng.random((T, 1)) < aug.mask_frame_p)
    x[mask] = 0.0
    ratio = rng.uniform(*aug.box_ratio)
    slack = (ratio - 1) / 2
    box = crop_box(x, ratio, (rng.uniform(-slack, slack), rng.uniform(-slack, slack)))
    if box is None:  # everything masked: fall back to the clean box
        box = crop_box(np.concatenate([uv, np.ones_like(uv[..., :1])], -1), ratio)
    x = apply_crop(x, box)
    x[mask] = 0.0
    y = apply_crop(target, box, depth=True)
    return x.astype(np.float32), y.astype(np.float32)


class Sampler:
    """Draws training pairs from motions (weighted by duration) and ready-made paired clips."""

    def __init__(self, motions: list[Motion], paired: list[PairedClip] | None = None,
                 aug: AugmentConfig | None = None):
        self.aug = aug = aug or AugmentConfig()
        if aug.detector_joints:  # clips seen through real capture cameras keep the joints they are scored on
            motions = [m if m.meta.get("cameras") else replace(m, joints=to_detector_joints(m.joints))
                       for m in motions]
        self.motions = motions
        self.definitions = [m.meta.get("joints") or joint_definitions(m.joints) for m in motions]
        self.studio = load_h36m_cameras(aug.studio_cameras) if aug.studio_cameras and aug.studio_camera_p else []
        self.paired = paired or []
        # Clips that come with their capture cameras are drawn more often than their length says: their real
        # viewpoints and 2D are what evaluation and everyday video look like.
        w = [(aug.camera_clip_weight if m.meta.get("cameras") else 1.0)
             * next((f for pat, f in aug.clip_weights.items() if fnmatch(m.name, pat)), 1.0) for m in motions]
        secs = np.array([m.joints.shape[0] / m.fps * wi for m, wi in zip(motions, w)], float)
        self.p = secs / secs.sum() if len(secs) else None

    def sample(self, rng: np.random.Generator, T: int) -> tuple[np.ndarray, np.ndarray]:
        if self.paired and (not self.motions or rng.random() < 0.5):
            c = self.paired[rng.integers(len(self.paired))]
            s = rng.integers(0, max(1, c.x2d.shape[0] - T + 1))
            return c.x2d[s:s + T], c.y3d[s:s + T]
        i = rng.choice(len(self.motions), p=self.p)
        m, defs = self.motions[i], self.definitions[i]
        cams = m.meta.get("cameras")
        if cams and rng.random() < self.aug.real_camera_p:
            clip = _resample(m.joints.astype(np.float64), m.fps, m.fps, T, rng)  # as recorded
            return make_pair(clip, rng, self.aug, camera=cams[rng.integers(len(cams))], definitions=defs)
        dst = rng.uniform(*self.aug.fps_range)
        clip = _resample(m.joints.astype(np.float64), m.fps, dst, T, rng)
        studio = None
        if self.studio and rng.random() < self.aug.studio_camera_p:
            studio = self.studio[rng.integers(len(self.studio))]
        return make_pair(clip, rng, self.aug, definitions=defs, studio=studio)

    def batch(self, rng: np.random.Generator, B: int, T: int) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = zip(*(self.sample(rng, T) for _ in range(B)))
        return np.stack(xs), np.stack(ys)
