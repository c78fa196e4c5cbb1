"""What the commands compute, as plain typed results: computed once, then written (export.py) and drawn
(render.py) without either knowing how they were made."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNITS_PIXELS = "pixels (x right, y down, z depth; camera frame)"
UNITS_METRES = ("metres (x right, y down, z away from the camera, origin at the person's median pelvis position; "
                "scale from average adult limb lengths, or --height); joints3d_camera: metres in the camera frame "
                "(x right, y down, z forward), the person placed by their limb lengths in pixels for a camera of "
                "focal_length pixels")


@dataclass
class Motion3D:
    """`pose3d`'s result: P people over the video's T frames.

    Arrays are [P, T, 17, 3] float32 in H36M-17 order, NaN where a person is not seen (keypoints2d: 0).
    joints3d: metres around each person's median pelvis (pixel=False) or the official demo's pixels (True);
    joints3d_pixels: x, y in image pixels, z depth in the same pixel scale; joints3d_camera: metres in the
    camera frame, people placed in the scene (None with pixel=True).
    """

    track_ids: list[int]
    fps: float
    frame_size: tuple[int, int]
    keypoints2d: np.ndarray
    joints3d: np.ndarray
    joints3d_pixels: np.ndarray
    metric_scale: np.ndarray            # [P] metres per lifted pixel unit (1 with pixel=True)
    lr_swaps_fixed: np.ndarray          # [P] left/right swaps of the detector undone before lifting
    checkpoint: str
    pixel: bool = False
    joints3d_camera: np.ndarray | None = None
    focal_length: float | None = None

    @property
    def units(self) -> str:
        return UNITS_PIXELS if self.pixel else UNITS_METRES

    @property
    def num_frames(self) -> int:
        return self.joints3d.shape[1]
