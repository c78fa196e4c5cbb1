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
    keypoints2d are the 2D as detected (swaps undone, short gaps filled), the lifter's input.
    joints3d: joints3d_camera moved so each person's median pelvis is the origin (pixel=False) or the official
    demo's pixels (True); joints3d_pixels: the lifter's output, x, y in image pixels, z depth relative to the
    pelvis in pixels at the pelvis' distance; joints3d_camera: metres in the camera frame, the pixels
    unprojected and people placed in the scene (None with pixel=True).
    """

    track_ids: list[int]
    fps: float
    frame_size: tuple[int, int]
    keypoints2d: np.ndarray
    joints3d: np.ndarray
    joints3d_pixels: np.ndarray
    metric_scale: np.ndarray            # [P] median metres per pixel at the person (1 with pixel=True)
    lr_swaps_fixed: np.ndarray          # [P] left/right swaps of the detector undone before lifting
    checkpoint: str
    pixel: bool = False
    smoothing: str = "none"             # filters.METHODS applied to the 3D over time
    keypoints2d_drawn: np.ndarray | None = None  # the 2D the videos draw: smoothed like the 3D (not written)
    joints3d_camera: np.ndarray | None = None
    focal_length: float | None = None
    first_frame: int = 0                # --start: array index t is the video's frame first_frame + t
    principal_point: np.ndarray | None = None  # [P, 2] pixels, the unprojection's (None with pixel=True)
    camera: str | None = None           # how the camera was modelled (pipeline.camera_note)
    floor: object | None = None         # ground.Floor under everyone (camera frame), None with pixel=True
    bones: str = "as lifted"            # "steady": each person's bones held at one length (camera.steady_bones)

    @property
    def units(self) -> str:
        return UNITS_PIXELS if self.pixel else UNITS_METRES

    @property
    def num_frames(self) -> int:
        return self.joints3d.shape[1]


MESH_UNITS = ("metres, camera frame (x right, y down, z forward); poses: SMPL axis-angle (global orientation in the "
              "camera frame); transl: SMPL's translation; pelvis: the H36M pelvis joint")


ANNY_UNITS = ("metres, camera frame (x right, y down, z forward); pose_*: anny's 4x4 pose parameters per bone "
              "(local-ref: anny's default; world-orient: each bone's orientation in the camera frame, the root's "
              "translation its position), phenotype in [0, 1]")


@dataclass
class MeshResult:
    """`mesh`'s result: SMPL bodies of P people over T frames, placed in the camera (metres, x right, y down,
    z forward), NaN where a person is not seen. SMPL(poses, betas, transl) gives `verts`."""

    track_ids: list[int]
    fps: float
    frame_size: tuple[int, int]
    focal_length: float
    faces: np.ndarray                   # [F, 3]
    poses: np.ndarray                   # [P, T, 72] axis-angle, global orientation in the camera frame
    betas: np.ndarray                   # [P, T, 10]
    transl: np.ndarray                  # [P, T, 3] SMPL's own translation
    pelvis: np.ndarray                  # [P, T, 3] the H36M pelvis, placed by the pose3d lifter
    joints3d: np.ndarray                # [P, T, 17, 3] H36M joints
    verts: np.ndarray | None = None     # [P, T, 6890, 3] when asked for (render, OBJ, --save-verts)
    first_frame: int = 0                # --start: array index t is the video's frame first_frame + t

    @property
    def num_frames(self) -> int:
        return self.poses.shape[1]

