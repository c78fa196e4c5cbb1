"""From a video to results: the stages `motionbert pose3d` (and `action`, `mesh`) share.

video --decode/detect/track--> Tracks (COCO-17 pixels) --to H36M, gap filling, normalisation--> [T, 17, 3]
      --lift in blended windows--> 3D --> files (export.py) and videos (render.py)
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from .camera import camera_joints, default_intrinsics, limbs_for_height, metric_scale, smoothing_frames
from .checkpoint import default_checkpoint, load_model
from .detect import PoseDetector, detect_video
from .errors import UserError
from .export import OutputDir, write_motion, write_trc
from .fileio import write_json_atomic
from .keypoint_files import read_keypoints_file
from .keypoints import apply_crop, crop_box, fill_gaps, pixel_denormalise, pixel_normalise, to_h36m
from .lift import count_windows, cpu_has_native_bf16, lift_sequence
from .render import SkeletonView, draw_legend, draw_skeleton_2d, person_colour
from .tracks import fix_swaps, select_tracks, stitch_tracks
from .video import VideoInfo, VideoWriter, probe, read_frames

@dataclass
class Pose3dOptions:
    video: Path | None              # None: lift a keypoint file alone (then fps / frame_size describe it)
    out: Path | None = None
    checkpoint: Path | None = None
    heads: int | None = None
    detector: str | None = None
    keypoints: Path | None = None
    keypoint_order: str = "auto"
    fix_swaps: bool = True
    person: str = "auto"
    device: str = "cpu"
    precision: str = "fp32"
    flip: bool = True
    pixel: bool = False
    render: bool = True
    imgsz: int = 640
    min_frames: int = 10
    focal: float | None = None
    height: float | None = None  # the people's standing height in metres, when known
    fps: float | None = None     # keypoints without a video: their frame rate (default 30)
    frame_size: tuple[int, int] | None = None  # ...and the image size (default: the keypoints' extent)
    timing: dict = field(default_factory=dict)


class Stages:
    """Rich progress bars with frames/s, one per stage, and wall time per stage for the summary."""

    def __init__(self, console):
        self.progress = Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console)
        self.timing: dict[str, float] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *a):
        return self.progress.__exit__(*a)

    def stage(self, name: str, total: int | None, unit: str = "frames"):
        task = self.progress.add_task(name, total=total, rate="")
        t0 = time.perf_counter()
        done = [0]

        def advance(n: int = 1):
            done[0] += n
            dt = time.perf_counter() - t0
            self.progress.update(task, advance=n, rate=f"{done[0] / max(dt, 1e-9):.1f} {unit}/s")
            self.timing[name] = dt

        def finish():
            self.timing[name] = time.perf_counter() - t0
            self.progress.update(task, total=done[0] or total, completed=done[0] or total)

        return advance, finish


def get_tracks(video_info, keypoints: Path | None, detector: str | None, device: str, imgsz: int, stages: Stages,
               keypoint_order: str = "auto", fix_lr: bool = True):
    """Keypoint tracks for the video: from a keypoint file (COCO/Halpe/H36M order, see `read_keypoints_file`),
    or by detection and tracking (COCO-17); fragments stitched, short left/right swaps undone (fix_lr)."""

    if keypoints is not None:
        tracks = read_keypoints_file(keypoints, video_info.frames if video_info else None, keypoint_order)
    else:
        det = PoseDetector(detector, device=device, imgsz=imgsz)
        advance, finish = stages.stage("detect", video_info.frames)
        tracks = detect_video(read_frames(video_info.path), video_info.frames, det, advance)
        finish()
    if video_info is not None and tracks.num_frames > video_info.frames:
        video_info.frames = tracks.num_frames
    fps = video_info.fps if video_info else 30.0
    tracks = stitch_tracks(tracks, fps)
    # a swap of up to ~0.5 s is a detector glitch; longer runs are left to the lifter
    return fix_swaps(tracks, max_frames=max(8, round(0.5 * fps))) if fix_lr else tracks


def prepare_person(kpts: np.ndarray, frame_size: tuple[int, int], pixel: bool, layout: str | None = None):
    """Pixels [T, J, 3] in `layout` (COCO/Halpe/H36M; None: by joint count)
    -> (H36M pixels [T, 17, 3], normalised [T, 17, 3], box or None).

    Gaps of up to 10 frames are interpolated; the normalisation is the official demo's: the bounding box of
    all confident joints over the clip mapped to [-1, 1] (crop_scale), or the frame (--pixel).
    """
    h36 = fill_gaps(to_h36m(kpts, layout).astype(np.float32))
    if pixel:
        return h36, pixel_normalise(h36, frame_size), None
    box = crop_box(h36)
    if box is None:
        raise UserError("too few confident keypoints to normalise this person (need 4 or more)")
    return h36, apply_crop(h36, box), box


def load_pose3d(checkpoint: Path | None, heads: int | None, device: str):

    ckpt = checkpoint or default_checkpoint()
    model = load_model(ckpt, task="pose3d", num_heads=heads, device=device)
    if model.cfg.dim_out != 3:
        raise UserError(f"{ckpt}: its output head gives {model.cfg.dim_out} channels, not 3D joints")
    return model


def run_pose3d(opts: Pose3dOptions, console) -> Path:

    t_start = time.perf_counter()
    if opts.video is not None:
        info = probe(opts.video)
        out = opts.out or info.path.with_name(info.path.stem + "_motionbert")
    else:
        info = keypoints_only_info(opts)
        out = opts.out or opts.keypoints.with_name(opts.keypoints.stem + "_motionbert")
    model = load_pose3d(opts.checkpoint, opts.heads, opts.device)  # fail fast, before detection
    if opts.precision == "bf16" and opts.device == "cpu" and not cpu_has_native_bf16():
        console.print("note: this CPU has no native bf16 (AVX512-BF16/AMX): --precision bf16 runs several times "
                      "slower than fp32 here")
    n_threads = os.cpu_count() or 1
    with OutputDir(out) as outdir, Stages(console) as stages:
        tracks = get_tracks(info, opts.keypoints, opts.detector, opts.device, opts.imgsz, stages, opts.keypoint_order,
                            opts.fix_swaps)
        sel = select_tracks(tracks, opts.person, opts.min_frames)
        torch.set_num_threads(n_threads)
        T = tracks.num_frames
        P = len(sel)
        joints = np.full((P, T, 17, 3), np.nan, np.float32)
        pix = np.full((P, T, 17, 3), np.nan, np.float32)
        cam = np.full((P, T, 17, 3), np.nan, np.float32)
        focal, centre = default_intrinsics(info.size, opts.focal)
        limbs = limbs_for_height(opts.height)
        kp2d = np.zeros((P, T, 17, 3), np.float32)
        scales = np.ones(P, np.float32)
        segs = [tracks.span(i) for i in sel]
        window = model.cfg.maxlen
        advance, finish = stages.stage("lift", sum(count_windows(e - s, window) for s, e in segs), "windows")
        for p, (i, (s, e)) in enumerate(zip(sel, segs)):
            if e - s < 2:
                raise UserError(f"track {tracks.ids[i]} is visible in only {e - s} frame: lifting needs at least "
                                f"2 frames (is the clip a single image?)")
            h36, x, _ = prepare_person(tracks.kpts[i][s:e], info.size, opts.pixel, tracks.layout)
            if opts.pixel:  # the official --pixel mode: the frame, not the person, sets the scale
                y = pixel_denormalise(lift_sequence(model, x, flip=opts.flip, precision=opts.precision,
                                                    batch_size=max(1, 1024 // window), progress=advance), info.size)
            else:
                y = lift_sequence(model, h36, flip=opts.flip, precision=opts.precision, pixels=True,
                                  batch_size=max(1, 1024 // window), progress=advance)
            present = h36[..., 2].max(-1) > 0
            y[~present] = np.nan
            kp2d[p, s:e] = h36
            pix[p, s:e] = y
            if opts.pixel:
                joints[p, s:e] = y
            else:
                scales[p] = metric_scale(y, limbs)
                joints[p, s:e] = (y - np.nanmedian(y[:, 0], axis=0)) * scales[p]
                # The person placed in the camera (depth from limb lengths in pixels; camera.py).
                cam[p, s:e] = camera_joints(y, focal, centre, limbs, smooth_frames=smoothing_frames(info.fps))
        finish()
        units = "pixels (x right, y down, z depth; camera frame)" if opts.pixel else \
            "metres (x right, y down, z away from the camera, origin at the person's median pelvis position; " \
            "scale from average adult limb lengths, or --height); joints3d_camera: metres in the camera frame (x right, y down, " \
            "z forward), the person placed by their limb lengths in pixels for a camera of focal_length pixels"
        ids = [tracks.ids[i] for i in sel]
        t0 = time.perf_counter()
        swaps = [tracks.swaps_fixed[i] if tracks.swaps_fixed else 0 for i in sel]
        extra = {"joints3d_pixels": pix, "metric_scale": scales, "checkpoint": str(model.source),
                 "lr_swaps_fixed": np.asarray(swaps, np.int64)}
        if not opts.pixel:
            extra.update(joints3d_camera=cam, focal_length=np.float32(focal))
        write_motion(outdir, joints3d=joints, keypoints2d=kp2d, track_ids=ids, fps=info.fps, frame_size=info.size,
                     units=units, extra=extra)
        if not opts.pixel:  # markers for OpenSim / Pose2Sim, placed in the scene
            for p, tid in enumerate(ids):
                write_trc(outdir.path(f"person_{tid}.trc"), cam[p], info.fps)
        stages.timing["write"] = time.perf_counter() - t0
        if opts.render and info.path is not None:
            # the 3D view shows people where they are in the scene (metric mode), not each at its own origin
            render_pose3d_videos(outdir, info, kp2d, joints if opts.pixel else cam, ids, stages)
        stages.timing["total"] = time.perf_counter() - t_start
        opts.timing.update(stages.timing)
        write_json_atomic(outdir.path("timing_pose3d.json"), {**stages.timing, "frames": T, "people": P})
    if opts.fix_swaps:
        console.print(f"left/right swaps of the 2D detector undone: {sum(swaps)}"
                      + (f" ({', '.join(f'#{i}: {n}' for i, n in zip(ids, swaps))})" if P > 1 else ""))
    console.print(f"[green]wrote[/] {out} ({P} {'person' if P == 1 else 'people'}, {T} frames): "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in stages.timing.items()))
    return Path(out)


def keypoints_only_info(opts: Pose3dOptions):
    """A VideoInfo for a keypoint file lifted without its video: --fps (default 30), --size or the extent of
    the keypoints (the smallest frame that holds them); path None, so no video is read or written."""
    if opts.keypoints is None:
        raise UserError("give a video, or --keypoints FILE to lift keypoints without one")
    tracks = read_keypoints_file(opts.keypoints, layout=opts.keypoint_order)
    if opts.frame_size:
        w, h = opts.frame_size
    else:
        seen = np.concatenate([k[k[..., 2] > 0][:, :2] for k in tracks.kpts]) if tracks.kpts else np.zeros((0, 2))
        if not len(seen):
            raise UserError(f"{opts.keypoints} holds no confident keypoints to lift")
        w, h = (int(np.ceil(v)) + 1 for v in seen.max(0))
    return VideoInfo(None, float(opts.fps or 30.0), int(w), int(h), tracks.num_frames)


def render_pose3d_videos(outdir, info, kp2d: np.ndarray, joints: np.ndarray, ids: list[int], stages: Stages) -> None:
    """overlay.mp4 (2D skeletons over the video) and skeleton3d.mp4 (video | 3D view), one decode pass."""
    T = kp2d.shape[1]
    colours = [person_colour(k) for k in range(len(ids))]
    panel_h = min(info.height, 720)
    panel_w = int(round(info.width * panel_h / info.height))
    view = SkeletonView(joints, panel_h, fps=info.fps)
    labels = [f"#{i}" for i in ids]
    advance, finish = stages.stage("render", T)
    with VideoWriter(outdir.path("overlay.mp4"), info.size, info.fps) as ov, \
            VideoWriter(outdir.path("skeleton3d.mp4"), (panel_w + panel_h, panel_h), info.fps) as sk:
        for t, frame in enumerate(read_frames(info.path)):
            if t >= T:
                break
            for p in range(len(ids)):
                draw_skeleton_2d(frame, kp2d[p, t], colours[p], label=f"#{ids[p]}")
            draw_legend(frame, max(1, round(max(frame.shape[:2]) / 700)))
            ov.write(frame)
            small = cv2.resize(frame, (panel_w, panel_h), interpolation=cv2.INTER_AREA)
            sk.write(np.concatenate([small, view.draw(joints[:, t], colours, t, labels)], axis=1))
            advance(1)
    finish()
