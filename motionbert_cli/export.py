"""Result files: motion.npz, motion.json and one CSV per person, all written into a staging folder first.

`OutputDir` collects files in `<out>.partial-XXXX/` beside the output folder and moves them into place only
when the whole run succeeded, so a failure leaves neither a half-written file nor a half-finished set.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

from .angles import joint_angles
from .bvh import write_bvh
from .errors import UserError
from .fileio import json_value
from .ground import level
from .keypoints import H36M_JOINTS
from .results import ANNY_UNITS, MESH_UNITS, MeshResult, Motion3D


# Names of the files our commands write: a folder holding only these (and no manifest: written by an earlier
# version) is a previous run, cleaned before the new files go in.
_OUR_FILES = ("motion.npz", "motion.json", "mesh.npz", "overlay.mp4", "skeleton3d.mp4", "mesh.mp4", "live.jsonl",
              "person_*.csv", "person_*.trc", "person_*.bvh", "person_*_angles.png", "timing_*.json", "*.obj")


class OutputDir:
    """An output folder filled through a staging folder, `<out>.partial-XXXX/` beside it.

    Files are written into the stage (`path(name)`) and moved into place by `commit()`, so a failed or
    interrupted run leaves neither half-written files nor a half-finished set. `commit()` may be called more
    than once: pose3d commits its data files before it renders the videos, so an interrupted render keeps
    them. The files a run wrote are listed in `<out>/.motionbert_files.json`; the next run into the same
    folder removes the previous run's files at its first commit (no stale person_2.csv beside a new
    one-person motion.npz). A non-empty folder that is not one of our runs is refused before any work starts.
    """

    MANIFEST = ".motionbert_files.json"

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"output path {self.out} exists and is not a folder. Pick another with -o")
        self.previous = self._previous_run()
        parent = self.out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.stage = Path(tempfile.mkdtemp(prefix=self.out.name + ".partial-", dir=parent))
        except OSError as e:
            raise UserError(f"cannot write to output folder {self.out}: {e.strerror}. Pick another with -o") from None
        self.written: list[str] = []

    def _previous_run(self) -> list[str]:
        """The files of the run already in the folder (to replace), or UserError if it holds other files."""
        if not self.out.is_dir():
            return []
        names = sorted(f.name for f in self.out.iterdir())
        if self.MANIFEST in names:
            try:
                listed = json.loads((self.out / self.MANIFEST).read_text())["files"]
            except (OSError, ValueError, KeyError, TypeError):
                listed = []
            return [n for n in listed if isinstance(n, str) and "/" not in n] + [self.MANIFEST]
        foreign = [n for n in names if not any(fnmatch(n, pat) for pat in _OUR_FILES)]
        if foreign:
            shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise UserError(f"output folder {self.out} already holds files motionbert did not write ({shown}); "
                            f"pick another with -o, or empty it")
        return names

    def path(self, name: str) -> Path:
        return self.stage / name

    def commit(self, final: bool = True) -> Path:
        """Move what is staged into the output folder (the previous run's files go at the first commit);
        final=False keeps the stage for more files."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.previous is not None:
            for name in self.previous:
                f = self.out / name
                if f.is_file() or f.is_symlink():
                    f.unlink()
            self.previous = None
        for f in sorted(self.stage.iterdir()):
            os.replace(f, self.out / f.name)
            if f.name not in self.written:
                self.written.append(f.name)
        tmp = self.out / (self.MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"files": sorted(self.written)}, indent=1) + "\n")
        os.replace(tmp, self.out / self.MANIFEST)
        if final:
            shutil.rmtree(self.stage, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_motion(outdir: OutputDir, *, joints3d: np.ndarray, keypoints2d: np.ndarray, track_ids: list[int],
                 fps: float, frame_size: tuple[int, int], units: str, extra: dict | None = None,
                 first_frame: int = 0) -> None:
    """joints3d [P, T, 17, 3] (NaN where a person is absent), keypoints2d [P, T, 17, 3] (pixels + confidence).

    Writes motion.npz, motion.json and person_<id>.csv (frame, time, joint, x, y, z in the axes and units of
    joints3d; absent frames omitted). Frames are the video's, numbered from 0 in every file we write: array
    index t is the video's frame first_frame + t (first_frame > 0 with --start), at time frame / fps.
    """
    extra = extra or {}
    arrays = {
        "joints3d": joints3d.astype(np.float32),
        "keypoints2d": keypoints2d.astype(np.float32),
        "track_ids": np.asarray(track_ids, np.int64),
        "fps": np.float32(fps),
        "frame_size": np.asarray(frame_size, np.int64),
        "joint_names": np.asarray(H36M_JOINTS),
        "units": np.asarray(units),
        "first_frame": np.int64(first_frame),
        **{k: (np.asarray(v) if not isinstance(v, np.ndarray) else v) for k, v in extra.items()},
    }
    np.savez_compressed(outdir.path("motion.npz"), **arrays)

    doc = {
        "fps": float(fps), "frame_size": [int(frame_size[0]), int(frame_size[1])], "units": units,
        "joint_names": H36M_JOINTS, "track_ids": [int(t) for t in track_ids], "first_frame": int(first_frame),
        "joints3d": joints3d, "keypoints2d": keypoints2d, **extra,
    }
    with open(outdir.path("motion.json"), "w") as f:
        # allow_nan=False: a NaN that slipped through fails here, not in the user's JSON parser
        json.dump(json_value(doc), f, separators=(",", ":"), allow_nan=False)
    # The column names carry the axes and units, since a CSV has no other place for them.
    u = "px" if units.startswith("pixels") else "m"
    for p, tid in enumerate(track_ids):
        with open(outdir.path(f"person_{tid}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["frame", "time_s", "joint", f"x_right_{u}", f"y_down_{u}", f"z_forward_{u}"])
            for t in range(joints3d.shape[1]):
                if not np.isfinite(joints3d[p, t]).all():
                    continue
                f = first_frame + t
                for j, name in enumerate(H36M_JOINTS):
                    x, y, z = joints3d[p, t, j]
                    w.writerow([f, f"{f / fps:.4f}", name, f"{x:.5f}", f"{y:.5f}", f"{z:.5f}"])


def write_trc(path: Path, joints_cam: np.ndarray, fps: float, first_frame: int = 0) -> None:
    """OpenSim / Pose2Sim marker file (.trc) of one person's joints, one marker per H36M joint.

    joints_cam [T, 17, 3] metres in the camera frame (x right, y down, z forward; pose3d passes it levelled,
    turned so the floor is horizontal: motion.npz's files_from_camera). TRC readers expect Y up, so the file
    holds (x, -y, -z): that frame turned 180 degrees about x (still right-handed). Frames where
    the person is not seen have empty fields, which OpenSim reads as missing markers. Frame numbers start at
    0, as in the CSV and the npz arrays (frame t = the video's frame t, time t / fps).
    """
    T = joints_cam.shape[0]
    names = list(H36M_JOINTS)
    yup = joints_cam * np.array([1.0, -1.0, -1.0])
    lines = [f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
             "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
             f"{fps:.3f}\t{fps:.3f}\t{T}\t{len(names)}\tm\t{fps:.3f}\t{first_frame}\t{T}",
             "Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t",
             "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, len(names) + 1)),
             ""]
    for t in range(T):
        row = yup[t].reshape(-1)
        vals = "\t".join(f"{v:.5f}" if np.isfinite(v) else "" for v in row)
        f = first_frame + t
        lines.append(f"{f}\t{f / fps:.5f}\t{vals}")
    path.write_text("\n".join(lines) + "\n")


def write_pose3d(outdir: OutputDir, m: Motion3D) -> dict[int, dict[str, np.ndarray]]:
    """pose3d's files: motion.npz, motion.json, person_<id>.csv, (in metres) person_<id>.trc and .bvh, and
    person_<id>_angles.csv. Returns each person's angles (track id -> angles.joint_angles) for plots."""
    extra = {"joints3d_pixels": m.joints3d_pixels, "metric_scale": m.metric_scale, "checkpoint": m.checkpoint,
             "lr_swaps_fixed": m.lr_swaps_fixed, "smoothing": m.smoothing, "bones": m.bones}
    if not m.pixel:
        # markers for OpenSim / Pose2Sim and an animation for Blender & co, both placed in the scene
        floors = []
        # the Y-up files stand on a level floor: the camera frame turned so the floor is horizontal
        R = level(m.floor) if m.floor is not None else np.eye(3)
        for p, tid in enumerate(m.track_ids):
            lv = (m.joints3d_camera[p] @ R.T).astype(np.float32)
            write_trc(outdir.path(f"person_{tid}.trc"), lv, m.fps, m.first_frame)
            floors.append(write_bvh(outdir.path(f"person_{tid}.bvh"), lv, m.fps).floor)
        extra.update(joints3d_camera=m.joints3d_camera, focal_length=np.float32(m.focal_length),
                     bvh_floor_m=np.asarray(floors, np.float32), files_from_camera=R.astype(np.float32))
        if m.floor is not None:
            extra.update(floor_normal_camera=m.floor.normal.astype(np.float32),
                         floor_offset_m=np.float32(m.floor.offset),
                         floor_from=np.asarray("the feet" if m.floor.fitted else "upright trunks or the camera"))
        if m.principal_point is not None:
            extra.update(principal_point=np.asarray(m.principal_point, np.float32), camera=m.camera or "")
    write_motion(outdir, joints3d=m.joints3d, keypoints2d=m.keypoints2d, track_ids=m.track_ids, fps=m.fps,
                 frame_size=m.frame_size, units=m.units, extra=extra, first_frame=m.first_frame)
    all_angles = {}
    # pose3d's axes: y down, so up is -y; the floor's normal when the feet told it (a pitched camera)
    up = tuple(m.floor.normal) if m.floor is not None and m.floor.fitted else (0.0, -1.0, 0.0)
    for p, tid in enumerate(m.track_ids):
        angles = joint_angles(m.joints3d[p], up=up)
        write_angles_csv(outdir.path(f"person_{tid}_angles.csv"), angles, m.fps, m.first_frame)
        all_angles[tid] = angles
    return all_angles


def write_angles_csv(path: Path, angles: dict[str, np.ndarray], fps: float, first_frame: int = 0) -> None:
    """One row per frame: frame, time_s and each angle in degrees (empty where the person is not seen)."""
    names = list(angles)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "time_s"] + [f"{n}_deg" for n in names])
        for t in range(len(angles[names[0]])):
            vals = [angles[n][t] for n in names]
            f = first_frame + t
            w.writerow([f, f"{f / fps:.4f}"] + [f"{v:.2f}" if np.isfinite(v) else "" for v in vals])


def write_mesh(outdir: OutputDir, r: MeshResult, save_verts: bool = False, save_obj: bool = False) -> None:
    """mesh.npz (poses, betas, transl, pelvis, joints3d, faces, ...; verts with save_verts) and, with
    save_obj, one OBJ per person and frame in obj/."""
    arrays = {"poses": r.poses, "betas": r.betas, "transl": r.transl, "pelvis": r.pelvis, "joints3d": r.joints3d,
              "track_ids": np.asarray(r.track_ids), "fps": np.float32(r.fps), "frame_size": np.asarray(r.frame_size),
              "focal_length": np.float32(r.focal_length), "faces": r.faces, "units": np.asarray(MESH_UNITS),
              "first_frame": np.int64(r.first_frame)}
    if save_verts:
        arrays["verts"] = r.verts
    np.savez_compressed(outdir.path("mesh.npz"), **arrays)
    if save_obj:
        write_objs(outdir, r.verts, r.faces, r.track_ids)


def write_anny_mesh(outdir: OutputDir, m: Motion3D, fits: list, faces: np.ndarray, verts: np.ndarray | None,
                    save_verts: bool, save_obj: bool, errors: dict) -> None:
    """mesh.npz for Anny bodies (enough to rebuild every mesh with the `anny` package, see README) and, with
    save_obj, one OBJ per person and frame in obj/."""
    from .body import PHENOTYPES

    names = sorted({k for f in fits for k in f.local_changes})
    arrays = {
        "body_model": np.asarray("anny"),
        "pose_local_ref": np.stack([f.local_ref for f in fits]).astype(np.float32),      # [P, T, B, 4, 4]
        "pose_world_orient": np.stack([f.world_orient for f in fits]).astype(np.float32),  # [P, T, B, 4, 4]
        "root_camera": np.stack([f.world_orient[:, 0, :3, 3] for f in fits]).astype(np.float32),  # [P, T, 3]
        "phenotype": np.array([[f.phenotype[k] for k in PHENOTYPES] for f in fits], np.float32),  # [P, 6]
        "phenotype_names": np.asarray(PHENOTYPES),
        # [P, K] anny local changes in [-1, 1] (lengths and widths the phenotypes do not reach)
        "local_changes": np.array([[f.local_changes.get(k, 0.0) for k in names] for f in fits], np.float32)
        .reshape(len(fits), len(names)),
        "local_change_names": np.asarray(names),
        "stature_m": np.array([f.stature_m for f in fits], np.float32),
        "joints3d": np.stack([f.joints for f in fits]).astype(np.float32),
        "coco_keypoints3d": np.stack([f.coco for f in fits]).astype(np.float32),
        "track_ids": np.asarray(m.track_ids), "fps": np.float32(m.fps), "frame_size": np.asarray(m.frame_size),
        "focal_length": np.float32(m.focal_length), "faces": faces.astype(np.int32),
        "units": np.asarray(ANNY_UNITS), "first_frame": np.int64(m.first_frame),
        "joint_error_mm": np.float32(errors["joint_error_mm"]),
        "keypoint_error_px": np.float32(errors["keypoint_error_px"]),
    }
    if save_verts:
        arrays["verts"] = verts
    np.savez_compressed(outdir.path("mesh.npz"), **arrays)
    if save_obj:
        write_objs(outdir, verts, faces, m.track_ids)


def write_objs(outdir: OutputDir, verts: np.ndarray, faces: np.ndarray, ids: list[int]) -> None:
    """One OBJ per person and frame in obj/ (Blender: File > Import > Wavefront, or as a sequence)."""
    d = outdir.path("obj")
    d.mkdir(exist_ok=True)
    face_lines = "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)
    for p, tid in enumerate(ids):
        for t in range(verts.shape[1]):
            v = verts[p, t]
            if not np.isfinite(v).all():
                continue
            with open(d / f"person_{tid}_{t:06d}.obj", "w") as f:
                f.write("".join(f"v {x:.5f} {y:.5f} {z:.5f}\n" for x, y, z in v))
                f.write(face_lines)

