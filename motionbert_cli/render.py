"""Drawing with OpenCV only (no PIL text, which would fetch fonts): 2D overlays and a 3D skeleton panel."""
from __future__ import annotations

import numpy as np

from .keypoints import H36M_BONES, H36M_LEFT, H36M_RIGHT

# BGR colours per person (distinct, readable on video).
PALETTE = [(255, 128, 0), (0, 200, 255), (80, 220, 80), (255, 80, 200), (0, 80, 255), (200, 200, 0),
           (180, 120, 255), (255, 255, 255)]


def person_colour(k: int) -> tuple[int, int, int]:
    return PALETTE[k % len(PALETTE)]


def _bone_colour(base, a: int, b: int):
    """Left limbs lighter, right limbs darker, so a flipped limb is visible at a glance."""
    if b in H36M_LEFT or a in H36M_LEFT:
        return tuple(int(c * 0.5 + 127) for c in base)
    if b in H36M_RIGHT or a in H36M_RIGHT:
        return tuple(int(c * 0.6) for c in base)
    return base


def draw_skeleton_2d(img: np.ndarray, kp: np.ndarray, colour, label: str | None = None,
                     min_conf: float = 0.05) -> None:
    """Draw H36M-17 keypoints [17, 3] (pixels + confidence) onto a BGR image in place."""
    import cv2

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

    The view orbits the person (azimuth, elevation in degrees); the scale is fixed for the whole video so
    motion is comparable between frames; a grid marks the ground at the lowest foot position of the clip.
    """

    def __init__(self, joints: np.ndarray, size: int, azimuth: float = 35.0, elevation: float = 15.0):
        """joints [P, T, 17, 3] (NaN where absent)."""
        self.size = size
        az, el = np.deg2rad(azimuth), np.deg2rad(elevation)
        Ry = np.array([[np.cos(az), 0, -np.sin(az)], [0, 1, 0], [np.sin(az), 0, np.cos(az)]])
        Rx = np.array([[1, 0, 0], [0, np.cos(el), -np.sin(el)], [0, np.sin(el), np.cos(el)]])
        self.R = Rx @ Ry
        finite = joints[np.isfinite(joints).all(-1)]
        if len(finite) == 0:
            finite = np.zeros((1, 3))
        self.centre = np.nanmedian(joints[..., 0, :].reshape(-1, 3), axis=0) if np.isfinite(joints[..., 0, :]).any() else finite.mean(0)
        rel = finite - self.centre
        extent = np.percentile(np.abs(rel), 99, axis=0).max() if len(rel) > 1 else 1.0
        self.scale = 0.42 * size / max(extent, 1e-6)
        feet = joints[..., [3, 6], 1]
        self.ground_y = float(np.nanmax(feet)) if np.isfinite(feet).any() else float(self.centre[1])

    def _project(self, pts: np.ndarray) -> np.ndarray:
        v = (pts - self.centre) @ self.R.T
        return np.stack([v[..., 0] * self.scale + self.size / 2, v[..., 1] * self.scale + self.size * 0.55], -1)

    def draw(self, joints_t: np.ndarray, colours) -> np.ndarray:
        """joints_t [P, 17, 3] for one frame -> BGR panel [size, size, 3]."""
        import cv2

        s = self.size
        img = np.full((s, s, 3), 30, np.uint8)
        # ground grid
        span = s / self.scale
        for k in np.linspace(-span, span, 11):
            a = self._project(np.array([[self.centre[0] + k, self.ground_y, self.centre[2] - span],
                                        [self.centre[0] + k, self.ground_y, self.centre[2] + span]]))
            b = self._project(np.array([[self.centre[0] - span, self.ground_y, self.centre[2] + k],
                                        [self.centre[0] + span, self.ground_y, self.centre[2] + k]]))
            for seg in (a, b):
                cv2.line(img, tuple(int(v) for v in seg[0]), tuple(int(v) for v in seg[1]), (70, 70, 70), 1, cv2.LINE_AA)
        thick = max(2, s // 250)
        for p in range(joints_t.shape[0]):
            if not np.isfinite(joints_t[p]).all():
                continue
            uv = self._project(joints_t[p])
            for a, b in H36M_BONES:
                cv2.line(img, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]),
                         _bone_colour(colours[p], a, b), thick, cv2.LINE_AA)
            for j in range(17):
                cv2.circle(img, (int(uv[j, 0]), int(uv[j, 1])), thick + 1, colours[p], -1, cv2.LINE_AA)
        cv2.putText(img, "3D (MotionBERT)", (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 200, 200), 1, cv2.LINE_AA)
        return img


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
        import cv2

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
