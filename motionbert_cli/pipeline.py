"""`motionbert pose3d`: people (people.py) -> lifted and placed in the camera -> files and videos.

video --people.find_people--> Tracks (COCO-17 pixels) --people.prepare_person--> [T, 17, 3]
      --lift_people: lift in blended windows, smooth, place--> Motion3D --> files (export.py), videos (render.py)
`lift_people` is the lifting/placement path that mesh and the benchmarks share.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .camera import default_intrinsics, limbs_for_height, place_in_metres
from .errors import UserError
from .export import OutputDir, write_pose3d
from .fileio import write_json_atomic
from .filters import smooth
from .ground import fit_floor
from .keypoint_files import keypoint_extent, read_keypoints_file
from .keypoints import person_height, pixel_denormalise
from .lift import cpu_has_native_bf16, lift_sequence, lift_window_count, load_pose3d
from .options import Pose3dOptions
from .people import find_people, prepare_person
from .progress import Stages
from .render import plot_angles, render_pose3d_videos
from .results import Motion3D
from .tracks import Tracks
from .video import VideoInfo, probe, segment

def lift_people(model, tracks: Tracks, sel: list[int], info: VideoInfo, opts: Pose3dOptions,
                progress=None) -> Motion3D:
    """Lift the selected tracks to 3D and place them in the camera. Computes, writes nothing.

    Each person is lifted in pixels (per-window box normalisation; or the frame's, with opts.pixel, as the
    official demo's --pixel mode) and, in metres, unprojected through the camera (the given or default focal
    length), scaled by their limb lengths and placed in the camera (camera.place_in_metres). progress(n) is
    called as windows finish."""
    T, P = tracks.num_frames, len(sel)
    pix = np.full((P, T, 17, 3), np.nan, np.float32)
    kp2d, kp2d_drawn = np.zeros((P, T, 17, 3), np.float32), np.zeros((P, T, 17, 3), np.float32)
    batch = max(1, 1024 // model.cfg.maxlen)
    spans = []
    for p, i in enumerate(sel):
        s, e = tracks.span(i)
        if e - s < 2:
            raise UserError(f"track {tracks.ids[i]} is visible in only {e - s} frame: lifting needs at least "
                            f"2 frames (is the clip a single image?)")
        h36, x, _ = prepare_person(tracks.kpts[i][s:e], info.size, opts.pixel, tracks.layout)
        if opts.pixel:  # the official --pixel mode: the frame, not the person, sets the scale
            y = pixel_denormalise(lift_sequence(model, x, flip=opts.flip, precision=opts.precision,
                                                batch_size=batch, progress=progress), info.size)
        else:
            y = lift_sequence(model, h36, flip=opts.flip, precision=opts.precision, pixels=True,
                              batch_size=batch, progress=progress, fps=info.fps)
        y[h36[..., 2].max(-1) <= 0] = np.nan
        drawn = h36
        if opts.smooth != "none":
            y, drawn = smooth_person(y, h36, info.fps, opts)
        kp2d[p, s:e], kp2d_drawn[p, s:e], pix[p, s:e] = h36, drawn, y
        spans.append((s, e))
    swaps = [tracks.swaps_fixed[i] if tracks.swaps_fixed else 0 for i in sel]
    common = dict(track_ids=[tracks.ids[i] for i in sel], fps=info.fps, frame_size=info.size, keypoints2d=kp2d,
                  joints3d_pixels=pix, lr_swaps_fixed=np.asarray(swaps, np.int64), checkpoint=str(model.source),
                  pixel=opts.pixel, smoothing=opts.smooth, keypoints2d_drawn=kp2d_drawn, first_frame=info.start)
    if opts.pixel:
        return Motion3D(joints3d=pix.copy(), metric_scale=np.ones(P, np.float32), **common)
    return Motion3D(**common, **place_people(pix, kp2d, spans, info, opts.focal, opts.height, opts.steady_bones))


def place_people(pix: np.ndarray, kp2d: np.ndarray, spans: list[tuple[int, int]], info: VideoInfo,
                 focal: float | None, height: float | None, steady: bool = True) -> dict:
    """The people in metres and in the camera, as pose3d and live write them.

    pix [P, T, 17, 3]: the lifter's output in pixels (NaN where unseen); kp2d [P, T, 17, 3]: their 2D (for the
    optical axis when the frame is unknown); spans: each person's first and last frame + 1. Each is unprojected
    through the camera (`focal`, else the video's or keypoint file's, else the longer frame side), sized by
    their limb lengths (`height`, else an average adult) and placed at the distance those give
    (camera.place_in_metres; steady: each bone then held at one length, camera.steady_bones); the floor under
    them is fitted for the Y-up files (ground.py).
    Returns Motion3D's placement fields: joints3d, joints3d_camera, metric_scale [P], focal_length,
    principal_point [P, 2], camera, floor."""
    P = len(pix)
    joints, cam = np.full_like(pix, np.nan), np.full_like(pix, np.nan)
    scales = np.ones(P, np.float32)
    f, centre = default_intrinsics(info.size, focal or info.focal)
    centres = np.tile(np.asarray(centre, np.float32), (P, 1))
    limbs = limbs_for_height(height)
    steady = steady and info.size_known  # no frame, no viewing rays: the lifter's shape is kept (place_in_metres)
    for p, (s, e) in enumerate(spans):
        if not info.size_known:  # no frame, so no principal point: centred on the person, shape as lifted
            centres[p] = person_centre(kp2d[p, s:e])
        joints[p, s:e], cam[p, s:e], scales[p] = place_in_metres(pix[p, s:e], f, tuple(centres[p]), limbs,
                                                                 info.fps, perspective=info.size_known, steady=steady)
    return dict(joints3d=joints, joints3d_camera=cam, metric_scale=scales, focal_length=float(f),
                bones="steady" if steady else "as lifted",
                principal_point=centres, camera=camera_note(info, focal), floor=fit_floor(list(cam)) if P else None)


def person_centre(h36: np.ndarray) -> np.ndarray:
    """The middle of a person's 2D over the clip (median of per-frame box centres, confident joints): where the
    optical axis is put when the frame is unknown. [T, 17, 3] -> [2]."""
    seen = h36[..., 2] > 0
    xy = np.where(seen[..., None], h36[..., :2], np.nan)
    ok = seen.any(-1)
    mid = (np.nanmax(xy[ok], 1) + np.nanmin(xy[ok], 1)) / 2
    return np.median(mid, 0).astype(np.float32)


def camera_note(info: VideoInfo, focal: float | None) -> str:
    """How the camera was modelled, for the files: where the principal point and focal length came from."""
    f = "given (--focal)" if focal else ("from the keypoint file" if info.focal else "assumed: the longer frame side")
    if not info.size_known:
        return ("no frame size known (give --size WxH): not unprojected, the body keeps the lifter's shape, "
                "each person centred on the optical axis; focal length " + f + " of the keypoints' extent, "
                "for the distance only")
    where = "the frame's centre" + (" (frame size from the keypoint file)" if info.path is None else "")
    return f"unprojected through a pinhole camera: principal point {where}; focal length {f}"


def smooth_person(y: np.ndarray, h36: np.ndarray, fps: float, opts: Pose3dOptions) -> tuple[np.ndarray, np.ndarray]:
    """One person's 3D y [T, 17, 3] (NaN where unseen) and 2D h36 [T, 17, 3] (confidence 0 where unseen),
    smoothed alike over time (zero-phase, within each run of frames the person is seen)."""
    seen = h36[..., 2] > 0
    xy = np.where(seen[..., None], h36[..., :2], np.nan)
    height = person_height(h36)
    kw = dict(scale=height if height > 0 else 1.0, beta=opts.beta)
    if opts.cutoff:
        kw["cutoff" if opts.smooth == "butterworth" else "min_cutoff"] = opts.cutoff
    y = smooth(y, opts.smooth, fps, **kw).astype(np.float32)
    out = h36.copy()
    out[..., :2] = np.where(seen[..., None], smooth(xy, opts.smooth, fps, **kw), h36[..., :2])
    return y, out


def run_pose3d(opts: Pose3dOptions, console, model=None) -> Path:
    """`motionbert pose3d`: find the people, lift them, write the files and videos into the output folder.
    model: the lifter, when the caller has it loaded already (several videos in one command)."""
    t_start = time.perf_counter()
    read = None
    if opts.video is not None:
        info = segment(probe(opts.video), opts.start, opts.end)
        out = opts.out or info.path.with_name(info.path.stem + "_motionbert")
    else:
        info, read = keypoints_only_info(opts)
        out = opts.out or opts.people.keypoints.with_name(opts.people.keypoints.stem + "_motionbert")
    if model is None:
        model = load_pose3d(opts.checkpoint, opts.heads, opts.people.device)  # fail fast, before detection
    if opts.precision == "bf16" and opts.people.device == "cpu" and not cpu_has_native_bf16():
        console.print("note: this CPU has no native bf16 (AVX512-BF16/AMX): --precision bf16 runs several times "
                      "slower than fp32 here")
    with OutputDir(out) as outdir, Stages(console) as stages:
        tracks, sel = find_people(info, opts.people, stages, read)
        n_windows = sum(lift_window_count(model, e - s, info.fps) for s, e in (tracks.span(i) for i in sel))
        advance, finish = stages.stage("lift", n_windows, "windows")
        motion = lift_people(model, tracks, sel, info, opts, advance)
        finish()
        t0 = time.perf_counter()
        angles = write_pose3d(outdir, motion)
        if opts.render:  # --no-render: the fast path, no pictures (~0.5 s per plot)
            for tid, a in angles.items():
                plot_angles(outdir.path(f"person_{tid}_angles.png"), a, motion.fps, f"person {tid}")
        stages.timing["write"] = time.perf_counter() - t0
        outdir.commit(final=False)  # the data files are complete: an interrupted render must not lose them
        if opts.render and info.path is not None:
            advance, finish = stages.stage("render", motion.num_frames)
            render_pose3d_videos(outdir.path("overlay.mp4"), outdir.path("skeleton3d.mp4"), info, motion, advance)
            finish()
        stages.timing["total"] = time.perf_counter() - t_start
        write_json_atomic(outdir.path("timing_pose3d.json"),
                          {**stages.timing, "frames": motion.num_frames, "people": len(sel), **stages.counts})
    ids, swaps, P = motion.track_ids, motion.lr_swaps_fixed.tolist(), len(sel)
    if opts.people.fix_swaps:
        console.print(f"left/right swaps of the 2D detector undone: {sum(swaps)}"
                      + (f" ({', '.join(f'#{i}: {n}' for i, n in zip(ids, swaps))})" if P > 1 else ""))
    console.print(f"[green]wrote[/] {out} ({P} {'person' if P == 1 else 'people'}, {motion.num_frames} frames): "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in stages.timing.items()))
    return Path(out)


def keypoints_only_info(opts: Pose3dOptions) -> tuple[VideoInfo, Tracks]:
    """(VideoInfo, the file's tracks) for a keypoint file lifted without its video: --fps, else the file's own
    (our motion.npz carries it), else 30; --size or the file's frame size, else the extent of the keypoints
    (the smallest frame that holds them: then the principal point is unknown and each person is unprojected
    about their own centre); the file's focal length unless --focal. Path None, so no video is read or
    written. The tracks are returned so the file is read once."""
    kp_file = opts.people.keypoints
    if kp_file is None:
        raise UserError("give a video, or --keypoints FILE to lift keypoints without one")
    tracks = read_keypoints_file(kp_file, layout=opts.people.keypoint_order)
    size = opts.frame_size or tracks.meta.get("frame_size")
    w, h = size or keypoint_extent(tracks, kp_file)
    fps = float(opts.fps or tracks.meta.get("fps") or 30.0)
    return VideoInfo(None, fps, int(w), int(h), tracks.num_frames, size_known=size is not None,
                     focal=tracks.meta.get("focal_length")), tracks
