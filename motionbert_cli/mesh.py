"""`motionbert mesh`: SMPL mesh recovery over a video, placed in the camera and rendered over the footage.

Per person: the same 2D path as pose3d -> the mesh model over blended windows (flip TTA mirrors the SMPL pose:
left/right joints swapped, rotations conjugated by the x-mirror) -> rotations averaged across windows and
re-orthonormalised -> SMPL once per frame -> the pelvis placed in the camera by the pose3d lifter (its depth
from the lifter's limb lengths in pixels against the SMPL body's limb lengths in metres: camera.py) -> files
and video. `benchmarks/bench_trajectory.py` measures that placement against HumanEva's ground truth.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .camera import default_intrinsics, limb_lengths, root_trajectory, smoothing_frames
from .checkpoint import load_model
from .errors import UserError
from .export import OutputDir, write_mesh
from .fileio import write_json_atomic
from .lift import lift_sequence
from .pipeline import PeopleOptions, find_people, load_pose3d, prepare_person
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


@dataclass
class MeshOptions:
    video: Path
    checkpoint: Path
    people: PeopleOptions = field(default_factory=PeopleOptions)
    pose_checkpoint: Path | None = None  # the lifter that places the body (default: the shipped pair, as pose3d)
    out: Path | None = None
    render: Path | None = None
    smpl_dir: Path | None = None
    heads: int | None = None
    flip: bool = True
    save_obj: bool = False
    save_verts: bool = False
    focal: float | None = None
    opacity: float = 0.65
    start: str | None = None   # --start / --end: seconds or frames (300f)
    end: str | None = None


def run_mesh(opts: MeshOptions, console) -> Path:

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
                          {**stages.timing, "frames": result.num_frames, "people": len(sel)})
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
