"""Drawing with OpenCV only (no PIL text, which would fetch fonts): 2D overlays, a 3D skeleton panel, meshes,
and the videos that pose3d and mesh write from their results."""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from .keypoints import H36M_BONES, H36M_LEFT, H36M_RIGHT
from .results import MeshResult, Motion3D
from .video import VideoWriter, read_frames

# BGR colours per person (distinct, readable on video), none of them near the left (blue) and right (orange)
# limb colours below.
PALETTE = [(0, 255, 255), (80, 220, 80), (255, 80, 220), (255, 255, 255), (120, 200, 0), (200, 120, 255),
           (0, 150, 80), (200, 200, 200)]


def person_colour(k: int) -> tuple[int, int, int]:
    return PALETTE[k % len(PALETTE)]


# Left and right limbs in two clearly different hues (BGR), as most pose tools draw them; the torso and head
# keep the person's colour, so people stay apart.
LEFT_COLOUR = (255, 150, 40)    # blue
RIGHT_COLOUR = (40, 120, 255)   # orange


def _bone_colour(base, a: int, b: int):
    if b in H36M_LEFT or a in H36M_LEFT:
        return LEFT_COLOUR
    if b in H36M_RIGHT or a in H36M_RIGHT:
        return RIGHT_COLOUR
    return base


def draw_legend(img: np.ndarray, scale: int = 1) -> None:
    """'left' and 'right' in their limb colours, bottom left."""
    h = img.shape[0]
    for k, (text, colour) in enumerate((("left", LEFT_COLOUR), ("right", RIGHT_COLOUR))):
        org = (10 * scale + k * 60 * scale, h - 10 * scale)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55 * scale, colour, max(1, scale), cv2.LINE_AA)


def draw_skeleton_2d(img: np.ndarray, kp: np.ndarray, colour, label: str | None = None,
                     min_conf: float = 0.05) -> None:
    """Draw H36M-17 keypoints [17, 3] (pixels + confidence) onto a BGR image in place."""
    scale = max(1, round(max(img.shape[:2]) / 700))
    for a, b in H36M_BONES:
        if kp[a, 2] > min_conf and kp[b, 2] > min_conf:
            cv2.line(img, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]),
                     _bone_colour(colour, a, b), 2 * scale, cv2.LINE_AA)
    for j in range(17):
        if kp[j, 2] > min_conf:
            cv2.circle(img, (int(kp[j, 0]), int(kp[j, 1])), 2 * scale + 1, colour, -1, cv2.LINE_AA)
    if label is not None and kp[10, 2] > min_conf:
        cv2.putText(img, label, (int(kp[10, 0]) + 5 * scale, int(kp[10, 1]) - 5 * scale), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * scale, colour, scale, cv2.LINE_AA)


class SkeletonView:
    """Orthographic views of camera-frame 3D joints (x right, y down, z away), drawn into a square panel.

    The view swings slowly around the camera's own direction (azimuth within +-`swing` degrees, one period
    every `period_s` seconds), so depth shows as the motion plays. It follows the people: centred on their
    mean pelvis (smoothed over a second), with a fixed scale for the whole video chosen so the group of people
    fills the panel at its typical spread, but never so small that a person is less than a fifth of it. The
    ground grid sits under the lowest foot within half a second of each frame, so feet stand on it.
    """

    def __init__(self, joints: np.ndarray, size: int, fps: float = 30.0, elevation: float = 15.0,
                 swing: float = 40.0, period_s: float = 10.0):
        """joints [P, T, 17, 3] (NaN where absent)."""
        self.size, self.fps, self.swing, self.period_s = size, fps, swing, period_s
        self.el = np.deg2rad(elevation)
        P, T = joints.shape[:2]
        seen = np.isfinite(joints).all((-1, -2))  # [P, T]
        pelvis = np.where(seen[..., None], joints[..., 0, :], np.nan)
        with np.errstate(invalid="ignore"):
            centre = np.nanmean(pelvis, axis=0) if P else np.zeros((T, 3))  # [T, 3] (NaN where nobody)
        centre = _fill_nan(centre)
        self.centre = _moving_average(centre, max(1, int(round(fps))))
        rel = np.where(seen[..., None, None], joints - self.centre[None, :, None], np.nan)
        with warnings.catch_warnings():  # frames where nobody is seen give all-NaN slices: handled below
            warnings.simplefilter("ignore", RuntimeWarning)
            spread = np.nanmax(np.abs(rel), axis=(0, 2)).max(-1) if seen.any() else np.ones(T)  # [T]
            extent = np.nanpercentile(spread, 95) if np.isfinite(spread).any() else 1.0
            heights = np.nanmax(joints[..., 1], -1) - np.nanmin(joints[..., 1], -1)
            height = np.nanmedian(heights[seen]) if seen.any() else 1.0
            # a person is at least a fifth of the panel, and the group at its typical spread fits in it
            self.scale = max(0.42 * size / max(extent, 1e-6), 0.2 * size / max(height, 1e-6))
            feet = np.where(seen[..., None], joints[..., [3, 6], 1], np.nan).reshape(P, T, 2) if P else np.full((0, T, 2), np.nan)
            lowest = _fill_nan(np.nanmax(feet, axis=(0, 2)) if seen.any() else self.centre[:, 1])
        half = max(1, int(round(0.5 * fps)))
        self.ground_y = np.array([lowest[max(0, t - half):t + half + 1].max() for t in range(T)])

    def _rotation(self, t: int) -> np.ndarray:
        az = np.deg2rad(self.swing) * np.sin(2 * np.pi * t / (self.fps * self.period_s))
        Ry = np.array([[np.cos(az), 0, -np.sin(az)], [0, 1, 0], [np.sin(az), 0, np.cos(az)]])
        Rx = np.array([[1, 0, 0], [0, np.cos(self.el), -np.sin(self.el)], [0, np.sin(self.el), np.cos(self.el)]])
        return Rx @ Ry

    def _project(self, pts: np.ndarray, t: int) -> np.ndarray:
        v = (pts - self.centre[t]) @ self._rotation(t).T
        return np.stack([v[..., 0] * self.scale + self.size / 2, v[..., 1] * self.scale + self.size * 0.5], -1)

    def draw(self, joints_t: np.ndarray, colours, t: int, labels: list[str] | None = None) -> np.ndarray:
        """joints_t [P, 17, 3] at frame t -> BGR panel [size, size, 3]."""
        s = self.size
        img = np.full((s, s, 3), 30, np.uint8)
        c, g = self.centre[t], self.ground_y[t]
        step = 0.5 * 10 ** np.floor(np.log10(max(s / self.scale / 5, 1e-6)))  # grid lines at a round spacing
        n = int(np.ceil(s / self.scale / step))
        x0, z0 = np.round(c[0] / step) * step, np.round(c[2] / step) * step
        for k in range(-n, n + 1):
            for seg in ([[x0 + k * step, g, z0 - n * step], [x0 + k * step, g, z0 + n * step]],
                        [[x0 - n * step, g, z0 + k * step], [x0 + n * step, g, z0 + k * step]]):
                uv = self._project(np.array(seg), t)
                cv2.line(img, tuple(int(v) for v in uv[0]), tuple(int(v) for v in uv[1]), (70, 70, 70), 1, cv2.LINE_AA)
        thick = max(2, s // 250)
        for p in range(joints_t.shape[0]):
            if not np.isfinite(joints_t[p]).all():
                continue
            uv = self._project(joints_t[p], t)
            for a, b in H36M_BONES:
                cv2.line(img, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]),
                         _bone_colour(colours[p], a, b), thick, cv2.LINE_AA)
            for j in range(17):
                cv2.circle(img, (int(uv[j, 0]), int(uv[j, 1])), thick + 1, colours[p], -1, cv2.LINE_AA)
            if labels:
                cv2.putText(img, labels[p], (int(uv[10, 0]) + 6, int(uv[10, 1]) - 6), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5, colours[p], 1, cv2.LINE_AA)
        cv2.putText(img, f"3D, grid {step:g} m" if step >= 0.05 else "3D", (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (200, 200, 200), 1, cv2.LINE_AA)
        self._axes(img, t)
        draw_legend(img)
        return img

    def _axes(self, img: np.ndarray, t: int) -> None:
        """A small axis cross, bottom right: the camera's right, up, and its viewing direction (away)."""
        s = self.size
        o = np.array([s - 0.16 * s, s - 0.12 * s])
        L = 0.07 * s
        R = self._rotation(t)
        for d, name in (((1, 0, 0), "right"), ((0, -1, 0), "up"), ((0, 0, 1), "away")):
            v = R @ np.array(d, float)
            end = o + L * v[:2]
            cv2.line(img, tuple(int(x) for x in o), tuple(int(x) for x in end), (160, 160, 160), 1, cv2.LINE_AA)
            cv2.putText(img, name, (int(end[0]) + 2, int(end[1]) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (160, 160, 160), 1, cv2.LINE_AA)


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Fill NaN rows of [T, ...] with the nearest finite row (linear in between); all-NaN -> zeros."""
    x = np.array(x, np.float64, copy=True)
    flat = x.reshape(len(x), -1)
    for c in range(flat.shape[1]):
        ok = np.isfinite(flat[:, c])
        flat[:, c] = np.interp(np.arange(len(x)), np.flatnonzero(ok), flat[ok, c]) if ok.any() else 0.0
    return flat.reshape(x.shape)


def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over n frames of [T, C], edges padded with the edge values."""
    if n <= 1 or len(x) < 2:
        return x
    pad = np.concatenate([np.repeat(x[:1], n // 2, 0), x, np.repeat(x[-1:], n - 1 - n // 2, 0)])
    k = np.ones(n) / n
    return np.stack([np.convolve(pad[:, c], k, mode="valid") for c in range(x.shape[1])], -1)


class MeshRenderer:
    """Shaded, semi-opaque perspective rendering of triangle meshes over video frames, on the CPU.

    A painter's algorithm: back faces culled, the rest of all people's faces sorted far to near together (so
    people occlude each other correctly) and filled with OpenCV, Lambert-shaded from a light at the camera.
    No OpenGL, EGL or OSMesa needed, so it runs headless anywhere; see `benchmarks/` for its speed.
    """

    def __init__(self, faces: np.ndarray, focal: float, centre: tuple[float, float], size: tuple[int, int]):
        self.faces = np.asarray(faces, np.int64)
        self.focal = float(focal)
        self.centre = np.asarray(centre, np.float64)
        self.size = size

    def draw(self, frame: np.ndarray, verts: np.ndarray, colours, opacity: float = 0.65) -> np.ndarray:
        """frame [H, W, 3] BGR; verts [P, V, 3] camera-frame metres (NaN rows = person absent)."""
        polys, depth, cols = [], [], []
        for p in range(verts.shape[0]):
            v = verts[p]
            if not np.isfinite(v).all() or (v[:, 2] <= 0.05).any():
                continue
            uv = self.focal * v[:, :2] / v[:, 2:3] + self.centre
            tri = v[self.faces]                                   # [F, 3, 3]
            n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
            centroid = tri.mean(1)
            facing = -(n * centroid).sum(-1) / (np.linalg.norm(centroid, axis=-1) + 1e-12)
            keep = facing > 0                                      # towards the camera
            shade = 0.35 + 0.65 * np.clip(facing[keep], 0, 1)
            base = np.asarray(colours[p], np.float64)
            cols.append(np.clip(shade[:, None] * base[None], 0, 255))
            polys.append(np.round(uv[self.faces[keep]] * 4).astype(np.int32))  # 2 bits of sub-pixel precision
            depth.append(centroid[keep, 2])
        if not polys:
            return frame
        polys, depth, cols = np.concatenate(polys), np.concatenate(depth), np.concatenate(cols)
        order = np.argsort(-depth)
        h, w = frame.shape[:2]
        layer = np.zeros((h, w, 4), np.uint8)
        for k in order:
            c = cols[k]
            cv2.fillConvexPoly(layer, polys[k], (float(c[0]), float(c[1]), float(c[2]), 255.0), cv2.LINE_8, 2)
        mask = layer[..., 3:4].astype(np.float32) * (opacity / 255.0)
        out = frame.astype(np.float32) * (1 - mask) + layer[..., :3].astype(np.float32) * mask
        return out.astype(np.uint8)


# ------------------------------------------------------------------------------------------------ videos

def render_pose3d_videos(overlay_path, skeleton_path, info, motion: Motion3D, progress=None) -> None:
    """overlay.mp4 (2D skeletons over the video) and skeleton3d.mp4 (video | 3D view), one decode pass. The 3D
    view shows people where they are in the scene (joints3d_camera), or the pixel-unit joints with --pixel.
    progress(n) is called as frames are written."""
    kp2d = motion.keypoints2d if motion.keypoints2d_drawn is None else motion.keypoints2d_drawn
    ids = motion.track_ids
    joints = motion.joints3d if motion.pixel else motion.joints3d_camera
    T = kp2d.shape[1]
    colours = [person_colour(k) for k in range(len(ids))]
    panel_h = min(info.height, 720)
    panel_w = int(round(info.width * panel_h / info.height))
    view = SkeletonView(joints, panel_h, fps=info.fps)
    labels = [f"#{i}" for i in ids]
    with VideoWriter(overlay_path, info.size, info.fps) as ov, \
            VideoWriter(skeleton_path, (panel_w + panel_h, panel_h), info.fps) as sk:
        for t, frame in enumerate(read_frames(info.path, info.start, T)):
            if t >= T:
                break
            for p in range(len(ids)):
                draw_skeleton_2d(frame, kp2d[p, t], colours[p], label=f"#{ids[p]}")
            draw_legend(frame, max(1, round(max(frame.shape[:2]) / 700)))
            ov.write(frame)
            small = cv2.resize(frame, (panel_w, panel_h), interpolation=cv2.INTER_AREA)
            sk.write(np.concatenate([small, view.draw(joints[:, t], colours, t, labels)], axis=1))
            if progress:
                progress(1)


def render_mesh_video(path, info, result: MeshResult, centre, opacity: float, progress=None) -> None:
    """The video with every person's mesh drawn over it (CPU painter's renderer), written to `path`.
    progress(n) is called as frames are written."""
    verts = result.verts
    renderer = MeshRenderer(result.faces, result.focal_length, centre, (info.width, info.height))
    colours = [person_colour(k) for k in range(verts.shape[0])]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, info.size, info.fps) as vw:
        for t, frame in enumerate(read_frames(info.path, info.start, verts.shape[1])):
            if t >= verts.shape[1]:
                break
            vw.write(renderer.draw(frame, verts[:, t], colours, opacity))
            if progress:
                progress(1)


def render_anny_video(path, info, fitter, fits: list, focal: float, centre, opacity: float, progress=None,
                      chunk: int = 32) -> None:
    """The video with every person's fitted Anny body drawn over it; the meshes are posed chunk by chunk
    while the frames are written, so memory does not grow with the video's length."""
    renderer = MeshRenderer(fitter.faces, focal, centre, (info.width, info.height))
    colours = [person_colour(k) for k in range(len(fits))]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    T = len(fits[0].world_orient) if fits else 0
    frames = read_frames(info.path, info.start, T)
    with VideoWriter(path, info.size, info.fps) as vw:
        for a in range(0, T, chunk):
            b = min(T, a + chunk)
            V = np.stack([_chunk_verts(fitter, f, a, b) for f in fits])  # [P, n, V, 3]
            for t in range(b - a):
                frame = next(frames, None)
                if frame is None:
                    return
                vw.write(renderer.draw(frame, V[:, t], colours, opacity))
                if progress:
                    progress(1)


def _chunk_verts(fitter, fit, a: int, b: int) -> np.ndarray:
    from dataclasses import replace

    return fitter.vertices(replace(fit, world_orient=fit.world_orient[a:b]))


def plot_angles(path, angles: dict[str, np.ndarray], fps: float, title: str = "") -> None:
    """angles.png: knee, hip, elbow and shoulder angles (left and right in one panel each, in the videos' limb
    colours) and the trunk's lean and rotation over time in seconds; unseen frames are gaps in the lines."""
    import matplotlib  # heavy (~0.5 s): only when a plot is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bgr = {"left": LEFT_COLOUR, "right": RIGHT_COLOUR}
    rgb = {k: tuple(c / 255 for c in v[::-1]) for k, v in bgr.items()}
    t = np.arange(len(next(iter(angles.values())))) / fps
    panels = [("knee_flexion", "knee flexion"), ("hip_flexion", "hip flexion (+) / extension (-)"),
              ("elbow_flexion", "elbow flexion"), ("shoulder_elevation", "shoulder elevation")]
    fig, axes = plt.subplots(5, 1, figsize=(9, 11), sharex=True)
    for ax, (key, label) in zip(axes, panels):
        for side in ("left", "right"):
            ax.plot(t, angles[f"{key}_{side}"], color=rgb[side], label=side, lw=1.5)
        ax.set_ylabel(f"{label} (°)")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[4].plot(t, angles["trunk_lean"], color="0.3", label="trunk lean", lw=1.5)
    axes[4].plot(t, angles["trunk_rotation"], color="tab:green", label="trunk rotation (+: left shoulder forward)",
                 lw=1.5)
    axes[4].set_ylabel("trunk (°)")
    axes[4].legend(loc="upper right", fontsize=8)
    axes[4].grid(alpha=0.3)
    axes[4].set_xlabel("time (s)")
    if title:
        axes[0].set_title(f"{title}: joint angles")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)

