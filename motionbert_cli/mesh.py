"""`motionbert mesh`: a body mesh per person over a video, placed in the camera and rendered over the footage.

Without a checkpoint (the default): pose3d's people and 3D (the same detection, lifting and placement), then
the free body model Anny fitted to each person's lifted joints and detected keypoints (`fit_body.py`):
mesh.npz holds Anny's pose and phenotype, pose3d's files sit beside it. With `-c` an official MotionBERT mesh
checkpoint (SMPL), the path below:

Per person: the same 2D path as pose3d -> the mesh model over blended windows (flip TTA mirrors the SMPL pose:
left/right joints swapped, rotations conjugated by the x-mirror) -> rotations averaged across windows and
re-orthonormalised -> SMPL once per frame -> the pelvis placed in the camera by the pose3d lifter (its depth
from the lifter's limb lengths in pixels against the SMPL body's limb lengths in metres: camera.py) -> files
and video. `benchmarks/bench_trajectory.py` measures that placement against HumanEva's ground truth.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .camera import default_intrinsics, limb_lengths, root_trajectory, smoothing_frames
from .checkpoint import load_model
from .errors import UserError
from .export import OutputDir, write_mesh
from .fileio import write_json_atomic
from .lift import lift_sequence
from .lift import load_pose3d
from .options import MeshOptions
from .people import find_people, prepare_person
from .progress import Stages
from .render import render_mesh_video
from .results import MeshResult
from .video import probe, segment
from .smpl import NUM_BETAS, NUM_SMPL_JOINTS
from .tracks import Tracks

# SMPL joints swapped by a left-right mirror (pelvis, spine... map to themselves).
_SMPL_FLIP = list(range(24))
for _a, _b in ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23)):
    _SMPL_FLIP[_a], _SMPL_FLIP[_b] = _b, _a
_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
_N_PARAMS = NUM_SMPL_JOINTS * 9 + NUM_BETAS


def _params_fn(model):
    def fn(x: torch.Tensor) -> torch.Tensor:
        rot, betas = model.head.params(model.backbone.get_representation(x))
        return torch.cat([rot.flatten(-3), betas], dim=-1)  # [B, W, 226]
    return fn


def flip_params(p: torch.Tensor) -> torch.Tensor:
    """Mirror SMPL parameters [..., 226]: R -> M R M for every joint, left and right joints swapped."""
    rot = p[..., : NUM_SMPL_JOINTS * 9].unflatten(-1, (NUM_SMPL_JOINTS, 3, 3))[..., _SMPL_FLIP, :, :]
    M = _MIRROR.to(p)
    rot = M @ rot @ M
    return torch.cat([rot.flatten(-3), p[..., NUM_SMPL_JOINTS * 9:]], dim=-1)


def orthonormalise(R: np.ndarray) -> np.ndarray:
    """Nearest rotation matrices [..., 3, 3] (SVD), for averages of rotations."""
    U, _, Vt = np.linalg.svd(R)
    D = np.ones(R.shape[:-1])
    D[..., -1] = np.sign(np.linalg.det(U @ Vt))
    return (U * D[..., None, :]) @ Vt


def run_mesh(opts: MeshOptions, console) -> Path:
    if opts.checkpoint is None:
        return run_anny_mesh(opts, console)
    t_start = time.perf_counter()
    info = segment(probe(opts.video), opts.start, opts.end)
    if opts.render is not None and opts.render.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise UserError(f"--render {opts.render}: give an .mp4 file name")
    model = load_model(opts.checkpoint, task="mesh", num_heads=opts.heads, device=opts.people.device,
                       smpl_dir=opts.smpl_dir)
    lifter = load_pose3d(opts.pose_checkpoint, None, opts.people.device)
    out = opts.out or info.path.with_name(info.path.stem + "_motionbert")
    focal, centre = default_intrinsics(info.size, opts.focal)
    with OutputDir(out) as outdir, Stages(console) as stages:
        tracks, sel = find_people(info, opts.people, stages)
        advance, finish = stages.stage("mesh", sum(e - s for s, e in (tracks.span(i) for i in sel)))
        keep_verts = opts.save_verts or opts.save_obj or opts.render is not None
        result = recover_meshes(model, lifter, tracks, sel, info, focal, centre, opts.flip, keep_verts,
                                opts.people.device, advance)
        finish()
        write_mesh(outdir, result, save_verts=opts.save_verts, save_obj=opts.save_obj)
        if opts.render is not None:
            advance, finish = stages.stage("render", result.num_frames)
            render_mesh_video(opts.render, info, result, centre, opts.opacity, advance)
            finish()
        stages.timing["total"] = time.perf_counter() - t_start
        write_json_atomic(outdir.path("timing_mesh.json"),
                          {**stages.timing, "frames": result.num_frames, "people": len(sel), **stages.counts})
    P = len(sel)
    console.print(f"[green]wrote[/] {out}" + (f" and {opts.render}" if opts.render else "") +
                  f" ({P} {'person' if P == 1 else 'people'}, {result.num_frames} frames)")
    return Path(out)


def recover_meshes(model, lifter, tracks: Tracks, sel: list[int], info, focal: float, centre, flip: bool,
                   keep_verts: bool, device: str, progress=None) -> MeshResult:
    """SMPL bodies for the selected tracks, placed in the camera by the pose3d `lifter`. Computes, writes
    nothing. progress(n) is called as frames finish."""
    T, P = tracks.num_frames, len(sel)
    poses = np.full((P, T, 72), np.nan, np.float32)
    betas = np.full((P, T, 10), np.nan, np.float32)
    pelvis = np.full((P, T, 3), np.nan, np.float32)
    joints = np.full((P, T, 17, 3), np.nan, np.float32)
    verts = np.full((P, T, 6890, 3), np.nan, np.float32) if keep_verts else None
    fn = _params_fn(model)
    for p, i in enumerate(sel):
        s, e = tracks.span(i)
        if e - s < 2:
            raise UserError(f"track {tracks.ids[i]} is visible in only {e - s} frame: need at least 2")
        h36, x, _ = prepare_person(tracks.kpts[i][s:e], info.size, pixel=False, layout=tracks.layout)
        prm = lift_sequence(model, x, flip=flip, fn=fn, flip_output=flip_params)
        rot = orthonormalise(prm[:, : NUM_SMPL_JOINTS * 9].reshape(-1, NUM_SMPL_JOINTS, 3, 3))
        b = prm[:, NUM_SMPL_JOINTS * 9:]
        present = h36[..., 2].max(-1) > 0
        for a in range(0, e - s, 64):  # SMPL in chunks keeps memory flat on long videos
            sl = slice(a, min(e - s, a + 64))
            with torch.no_grad():
                o = model.head.smpl_output(torch.from_numpy(rot[sl]).float()[None].to(device),
                                           torch.from_numpy(b[sl]).float()[None].to(device))
            th, v, kp = (o[k][0].cpu().numpy() for k in ("theta", "verts", "kp_3d"))
            poses[p, s + a:s + sl.stop], betas[p, s + a:s + sl.stop] = th[:, :72], th[:, 72:]
            joints[p, s + a:s + sl.stop] = kp / 1000.0
            if verts is not None:
                verts[p, s + a:s + sl.stop] = v / 1000.0
            if progress:
                progress(sl.stop - a)
        # Where the body is: the lifter's pixel-scaled 3D against this body's limb lengths in metres.
        pix = lift_sequence(lifter, h36, flip=flip, pixels=True)
        body = np.nanmedian(limb_lengths(joints[p, s:e][present].astype(np.float64)), axis=0)
        root = root_trajectory(pix, focal, centre, body, smooth_frames=smoothing_frames(info.fps))
        root[~present] = np.nan
        pelvis[p, s:e] = root
        for arr in (poses, betas, joints):
            arr[p, s:e][~present] = np.nan
        if verts is not None:
            verts[p, s:e][~present] = np.nan
    # joints3d and verts in the camera frame: the body around its pelvis, moved to the lifter's pelvis.
    # transl is SMPL's own (added to every vertex), so SMPL(poses, betas, transl) reproduces verts.
    transl = (pelvis - joints[:, :, 0]).astype(np.float32)
    return MeshResult(track_ids=[tracks.ids[i] for i in sel], fps=info.fps, frame_size=info.size,
                      focal_length=float(focal), faces=model.faces.astype(np.int32), poses=poses, betas=betas,
                      transl=transl, pelvis=pelvis, joints3d=(joints + transl[:, :, None]).astype(np.float32),
                      verts=None if verts is None else (verts + transl[:, :, None]).astype(np.float32),
                      first_frame=info.start)


# ------------------------------------------------------------------------------------------- Anny (default)

def coco_keypoints(tracks: Tracks, i: int) -> np.ndarray:
    """Track i's keypoints as COCO-17 [T, 17, 3] pixels + confidence (H36M files: the joints COCO shares)."""
    k = tracks.kpts[i]
    if tracks.layout == "coco":
        return k.astype(np.float64)
    from .keypoints import to_h36m

    h = to_h36m(k, tracks.layout)
    out = np.zeros(h.shape[:-2] + (17, 3))
    for c, j in {0: 9, 5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5, 14: 2, 15: 6, 16: 3}.items():
        out[..., c, :] = h[..., j, :]
    return out


def run_anny_mesh(opts: MeshOptions, console) -> Path:
    """`motionbert mesh` with no checkpoint: pose3d's people and 3D, Anny fitted to each, files and video."""
    from .body import load_anny
    from .export import write_anny_mesh, write_pose3d
    from .fit_body import AnnyFitter
    from .pipeline import Pose3dOptions, lift_people
    from .render import render_anny_video

    t_start = time.perf_counter()
    info = segment(probe(opts.video), opts.start, opts.end)
    if opts.render is not None and opts.render.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise UserError(f"--render {opts.render}: give an .mp4 file name")
    fitter = AnnyFitter(load_anny())                    # fail fast: anny missing, body file missing
    lifter = load_pose3d(opts.pose_checkpoint, None, opts.people.device)
    from .lift import detector_share

    fitter.detector_share = detector_share(lifter)      # compare the body with the lifter's kind of joints
    out = opts.out or info.path.with_name(info.path.stem + "_motionbert")
    p3 = Pose3dOptions(video=opts.video, people=opts.people, flip=opts.flip, focal=opts.focal, height=opts.height,
                       render=False, start=opts.start, end=opts.end)
    with OutputDir(out) as outdir, Stages(console) as stages:
        tracks, sel = find_people(info, opts.people, stages)
        from .lift import lift_window_count

        n_windows = sum(lift_window_count(lifter, e - s, info.fps) for s, e in (tracks.span(i) for i in sel))
        advance, finish = stages.stage("lift", n_windows, "windows")
        motion = lift_people(lifter, tracks, sel, info, p3, advance)
        finish()
        advance, finish = stages.stage("fit body", motion.num_frames * len(sel))
        fits = []
        centre = tuple(motion.principal_point[0]) if motion.principal_point is not None else (info.width / 2,
                                                                                             info.height / 2)
        for p, i in enumerate(sel):
            fits.append(fitter.fit(motion.joints3d_camera[p].astype(np.float64), body=opts.body, height=opts.height,
                                   keypoints=coco_keypoints(tracks, i), camera=(motion.focal_length, centre),
                                   progress=advance))
        finish()
        write_pose3d(outdir, motion)
        keep = opts.save_verts or opts.save_obj
        verts = np.stack([fitter.vertices(f) for f in fits]) if keep else None
        errors = fit_errors(fits, [coco_keypoints(tracks, i) for i in sel], motion.focal_length, centre)
        write_anny_mesh(outdir, motion, fits, fitter.faces, verts, opts.save_verts, opts.save_obj, errors)
        outdir.commit(final=False)  # the data files are complete: an interrupted render must not lose them
        if opts.render is not None:
            advance, finish = stages.stage("render", motion.num_frames)
            render_anny_video(opts.render, info, fitter, fits, motion.focal_length, centre, opts.opacity, advance)
            finish()
        stages.timing["total"] = time.perf_counter() - t_start
        write_json_atomic(outdir.path("timing_mesh.json"),
                          {**stages.timing, "frames": motion.num_frames, "people": len(sel), **stages.counts, **errors})
    P = len(sel)
    console.print(f"[green]wrote[/] {out}" + (f" and {opts.render}" if opts.render else "") +
                  f" ({P} {'person' if P == 1 else 'people'}, {motion.num_frames} frames): body fit "
                  f"{errors['joint_error_mm']:.0f} mm from the lifted joints, keypoints "
                  f"{errors['keypoint_error_px']:.1f} px (median) from the detections; "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in stages.timing.items()))
    return Path(out)


def fit_errors(fits, keypoints: list[np.ndarray], focal: float, centre) -> dict:
    """How well the bodies fit: mean joint distance to the lifted joints (mm) and median distance of their
    COCO keypoints, projected, to the confident detections (px)."""
    px = []
    for f, kp in zip(fits, keypoints):
        uv = focal * f.coco[..., :2] / f.coco[..., 2:] + np.asarray(centre)
        ok = (kp[..., 2] > 0.3) & np.isfinite(uv).all(-1)
        px.append(np.linalg.norm(uv - kp[..., :2], axis=-1)[ok])
    px = np.concatenate(px) if px else np.zeros(0)
    return {"joint_error_mm": float(np.mean([f.joint_error_mm for f in fits])),
            "keypoint_error_px": float(np.median(px)) if len(px) else float("nan")}
