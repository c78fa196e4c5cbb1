"""Real Human3.6M video against its mocap: how far `motionbert pose3d`'s 3D is from the truth (issue 22).

`../shared/data/eval/h36m_s9_posing`: test subject S9, "Posing 1", camera 55011271, 10 fps, 394 frames, with the
exact mocap joints in that camera's frame. For evaluation only: nothing here trains or tunes on it.

Rows (each scored per frame, root-relative, in mm, on the 17 H36M joints):
  YOLO 2D    pose3d's defaults end to end: the detector's 2D (cached after the first run), the lifter, its
             smoothing, the metric `joints3d` (unprojected with the focal length pose3d assumes)
  GT 2D      the same lifting and placement fed the mocap projected into the image (cv2.projectPoints with
             the camera's distortion), as `pose3d --keypoints` would be: the lifter without the detector
Columns:
  P-MPJPE    after a similarity fit per frame;  N-MPJPE  after a scale fit only (what MPJPE is once the
             unknown size is removed: orientation errors count)
  rot.       median angle of the rotation the similarity fit needs (degrees), and of its part about the
             camera's vertical axis (which side of the body is nearer); then that rotation's mean signed
             components about the camera's axes (a bias shows as a component far from 0) and the mean
             error of the trunk's lean towards the camera (pelvis -> thorax; the camera looks down 12°)
  accel.     mean |second difference| of the root-relative joints (mm/frame^2): prediction (scaled to the
             truth by one factor for the clip), the truth's own, and the mean |a_pred - a_gt|
  joints     P-MPJPE per joint group
  angles     `angles.joint_angles` of pose3d's `joints3d` (what person_<id>_angles.csv holds, with the camera's
             up as pose3d assumes it) against the same angles of the mocap with the true vertical (from the
             camera's calibration): mean |error|, mean error (bias), and the 5-95% range of each

    python benchmarks/bench_h36m.py [--checkpoint FILE [FILE ...]] [--shared ../shared] [--humaneva]
                                    [--detector-runtime auto|openvino|pytorch] [--json out.json]

--checkpoint FILE lifts with FILE (two files: their average, as pose3d's default pair); default: pose3d's
default lifter. --humaneva adds HumanEva Validate (ground-truth 2D, `motionbert eval pose3d`'s numbers).
--by-part adds where the YOLO row's extra error comes from: the mocap moved to the detector's joint
definitions (`synth.detector_view`, what training feeds: no detector errors), then that 2D with one group of
YOLO's keypoints put in (face, trunk, legs, arms), and YOLO's 2D with one group of the detector view put in.
(Reporting only: nothing is fitted to these numbers.)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from motionbert_cli.angles import ANGLES, joint_angles  # noqa: E402
from motionbert_cli.detect import INT8_RECIPE, cache_dir  # noqa: E402
from motionbert_cli.evaluate import evaluate_videopose3d, n_mpjpe, procrustes_align  # noqa: E402
from motionbert_cli.keypoints import H36M_JOINTS  # noqa: E402
from motionbert_cli.lift import load_pose3d  # noqa: E402
from motionbert_cli.people import PeopleOptions, find_people  # noqa: E402
from motionbert_cli.pipeline import Pose3dOptions, lift_people  # noqa: E402
from motionbert_cli.progress import Stages  # noqa: E402
from motionbert_cli.synth import detector_view  # noqa: E402
from motionbert_cli.tracks import Tracks  # noqa: E402
from motionbert_cli.video import probe  # noqa: E402

CLIP = "data/eval/h36m_s9_posing"
GROUPS = {"hips/pelvis": [0, 1, 4], "knees": [2, 5], "ankles": [3, 6], "spine/thorax": [7, 8],
          "head": [9, 10], "shoulders": [11, 14], "elbows": [12, 15], "wrists": [13, 16]}


def rotation_angles(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: the angle (degrees) of the rotation that best aligns root-relative pred onto gt [N, J, 3],
    the angle of its swing about the camera's y axis (image vertical) alone, and the rotation as a vector
    [N, 3] (axis x angle, degrees, camera axes: x right, y down, z forward)."""
    p, g = pred - pred.mean(1, keepdims=True), gt - gt.mean(1, keepdims=True)
    U, _, Vt = np.linalg.svd(np.einsum("nji,njk->nik", p, g))
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", U, Vt)))
    D = np.tile(np.eye(3), (len(p), 1, 1))
    D[:, 2, 2] = d
    R = np.einsum("nij,njk,nkl->nil", U, D, Vt)  # p @ R ~ g
    angle = np.degrees(np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    yaw = np.degrees(np.abs(np.arctan2(R[:, 0, 2] - R[:, 2, 0], R[:, 0, 0] + R[:, 2, 2])))
    from scipy.spatial.transform import Rotation

    vec = Rotation.from_matrix(np.transpose(R, (0, 2, 1))).as_rotvec(degrees=True)  # gt ~ R^T pred
    return angle, yaw, vec


def trunk_pitch(j: np.ndarray) -> np.ndarray:
    """[N, 17, 3] camera frame -> how far the pelvis -> thorax line leans towards the camera (degrees)."""
    v = j[:, 8] - j[:, 0]
    return np.degrees(np.arctan2(-v[:, 2], -v[:, 1]))


def acceleration(x: np.ndarray) -> np.ndarray:
    """[T, J, 3] -> [T - 2, J] |second difference|."""
    return np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)


def score(pred_m: np.ndarray, gt_m: np.ndarray) -> dict:
    """pred, gt [T, 17, 3] metres (camera frame; pred may have NaN frames) -> the benchmark's numbers."""
    ok = np.isfinite(pred_m).all((-1, -2))
    pr = (pred_m - pred_m[:, :1])[ok] * 1000
    gt = (gt_m - gt_m[:, :1])[ok] * 1000
    aligned = procrustes_align(pr, gt)
    per_joint = np.linalg.norm(aligned - gt, axis=-1).mean(0)
    angle, yaw, vec = rotation_angles(pr, gt)
    s = (pr * gt).sum() / (pr * pr).sum()
    run = ok[2:] & ok[1:-1] & ok[:-2]  # accelerations over consecutive scored frames only
    full_p, full_g = np.full_like(pred_m, np.nan), gt_m - gt_m[:, :1]
    full_p[ok] = pr * s / 1000
    a_p, a_g = acceleration(full_p * 1000)[run], acceleration(full_g * 1000)[run]
    return {"p_mpjpe": float(per_joint.mean()), "n_mpjpe": float(n_mpjpe(pr, gt).mean()),
            "rot_deg": float(np.median(angle)), "yaw_deg": float(np.median(yaw)),
            "rot_mean_xyz_deg": [float(v) for v in vec.mean(0)],
            "trunk_pitch_bias_deg": float((trunk_pitch(pr) - trunk_pitch(gt)).mean()),
            "accel_pred": float(a_p.mean()), "accel_gt": float(a_g.mean()),
            "accel_err": float(np.abs(a_p - a_g).mean()), "frames": int(ok.sum()),
            "per_joint": {n: float(e) for n, e in zip(H36M_JOINTS, per_joint)},
            "groups": {k: float(per_joint[v].mean()) for k, v in GROUPS.items()}}


def true_up(shared: Path, offset: bool = False):
    """The world's up direction in camera 55011271's frame (S9's calibration; X_cam = R^T (X - T), Z up);
    with offset=True also the floor's offset (height of a camera-frame point x = up . x + offset)."""
    import pickle

    with open(shared / "data/eval/h36m_sample/cameras.pkl", "rb") as f:
        cams = pickle.load(f)
    c = cams[("S9", "55011271")]
    up = np.asarray(c["R"], float).T @ np.array([0.0, 0.0, 1.0])
    return (up, float(np.ravel(c["T"])[2])) if offset else up


def angle_errors(pred_m: np.ndarray, gt_m: np.ndarray, up_gt: np.ndarray) -> dict:
    """{angle: (mean |err|, mean err, gt 5-95% range, pred 5-95% range)} in degrees."""
    a_p, a_g = joint_angles(pred_m, up=LAST_CAMERA.get("up", (0.0, -1.0, 0.0))), joint_angles(gt_m, up=tuple(up_gt))
    out = {}
    for k in ANGLES:
        ok = np.isfinite(a_p[k]) & np.isfinite(a_g[k])
        e = a_p[k][ok] - a_g[k][ok]
        out[k] = (float(np.abs(e).mean()), float(e.mean()), tuple(np.percentile(a_g[k][ok], [5, 95])),
                  tuple(np.percentile(a_p[k][ok], [5, 95])))
    return out


def gt_keypoints(gt: dict, joints: np.ndarray | None = None) -> np.ndarray:
    """The mocap joints (or `joints` [T, 17, 3] in the camera frame) projected into the image with the camera's
    distortion: [T, 17, 3] pixels + conf 1."""
    J = gt["joints3d_cam"].astype(np.float64) if joints is None else joints
    uv, _ = cv2.projectPoints(J.reshape(-1, 3), np.zeros(3), np.zeros(3), gt["K"], gt["dist"])
    uv = uv.reshape(J.shape[0], 17, 2)
    return np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1).astype(np.float32)


def yolo_tracks(video: Path, runtime: str, console, every: str = "1") -> tuple[Tracks, list[int]]:
    """pose3d's detection and person choice on the clip, cached in the tool's cache folder."""
    info = probe(video)
    kind = INT8_RECIPE if runtime == "int8" else runtime  # a new int8 recipe detects anew
    cache = cache_dir() / "bench" / f"h36m_s9_tracks_{kind}{'' if every == '1' else '_every' + every}.npz"
    people = PeopleOptions(detector_runtime=runtime, detect_every=every)
    if cache.is_file():
        d = np.load(cache)
        tracks = Tracks(int(d["T"]))
        tracks.ids, tracks.kpts, tracks.boxes = list(d["ids"]), list(d["kpts"]), list(d["boxes"])
        tracks.swaps_fixed = list(d["swaps"])
        return tracks, list(d["sel"])
    with Stages(console) as stages:
        tracks, sel = find_people(info, people, stages)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, T=tracks.num_frames, ids=np.array(tracks.ids), kpts=np.stack(tracks.kpts),
             boxes=np.stack(tracks.boxes), swaps=np.array(tracks.swaps_fixed or [0] * len(tracks.ids)),
             sel=np.array(sel))
    return tracks, sel


LAST_CAMERA = {}


def h36m_tracks(kp: np.ndarray) -> Tracks:
    """One person's given H36M-17 keypoints [T, 17, 3] as tracks, as `pose3d --keypoints` reads them."""
    tr = Tracks(len(kp))
    tr.ids, tr.kpts, tr.boxes, tr.layout = [1], [kp], [np.zeros((len(kp), 4))], "h36m"
    return tr


def lift(model, tracks: Tracks, sel: list[int], info) -> np.ndarray:
    """pose3d's lifting, smoothing and placement of the chosen person -> joints3d [T, 17, 3] metres
    (joints3d_camera kept in LAST_CAMERA for the placement numbers)."""
    motion = lift_people(model, tracks, sel[:1], info, Pose3dOptions(video=info.path))
    LAST_CAMERA["joints"] = motion.joints3d_camera[0].astype(np.float64)
    f = motion.floor
    LAST_CAMERA["up"] = tuple(f.normal) if f is not None and f.fitted else (0.0, -1.0, 0.0)  # as export.py
    LAST_CAMERA["floor"] = f
    return motion.joints3d[0].astype(np.float64)


def placement(cam: np.ndarray, gt: np.ndarray, up: np.ndarray, floor_offset: float) -> dict:
    """Where pose3d puts the person (joints3d_camera, default focal length) against the mocap: pelvis error
    and its depth part (m), the depth's swing (standard deviation of log(distance / true distance), %: how far
    it wanders once a constant error from the unknown size and focal length is taken out), pelvis path length
    (m) against the truth's, and how far the lower ankle is from its true height above the floor (median, m)."""
    ok = np.isfinite(cam).all((-1, -2))
    e = cam[ok, 0] - gt[ok, 0]
    path = lambda x: float(np.linalg.norm(np.diff(x[:, 0], axis=0), axis=-1).sum())  # noqa: E731
    h_pred = np.min(cam[ok][:, [3, 6]] @ up, axis=1) + floor_offset
    h_gt = np.min(gt[ok][:, [3, 6]] @ up, axis=1) + floor_offset
    swing = 100 * float(np.std(np.log(cam[ok, 0, 2] / gt[ok, 0, 2])))  # the distance's wander, constant error removed
    # what a BVH/TRC shows: the lower ankle above pose3d's own fitted floor, against the truth's
    floor = LAST_CAMERA.get("floor")
    own = (np.min(floor.height(cam[ok][:, [3, 6]]), axis=1) if floor is not None else np.full(int(ok.sum()), np.nan))
    # and in the BVH as written (the camera frame levelled by that floor, the person's own floor added)
    from motionbert_cli.bvh import FEET, bvh_from_camera, forward_kinematics
    from motionbert_cli.ground import level

    skel, local, root, _ = bvh_from_camera(cam @ (level(floor) if floor is not None else np.eye(3)).T)
    bvh = np.min(forward_kinematics(local, root, skel.offsets)[ok][:, FEET, 1], axis=1)
    return {"pelvis_err_m": float(np.linalg.norm(e, axis=-1).mean()), "depth_err_m": float(np.abs(e[:, 2]).mean()),
            "depth_swing_pct": swing,
            "path_pred_m": path(cam[ok]), "path_gt_m": path(gt[ok]),
            "ankle_height_err_m": float(np.median(np.abs(h_pred - h_gt))),
            "ankle_own_floor_err_m": float(np.median(np.abs(own - h_gt))),
            "ankle_bvh_err_m": float(np.median(np.abs(bvh - h_gt)))}


PARTS = {"face": [9, 10], "trunk": [0, 1, 4, 7, 8, 11, 14], "legs": [2, 3, 5, 6], "arms": [12, 13, 15, 16]}


def by_part(model, info, gt: dict, tracks: Tracks, sel: list[int]) -> None:
    """Rows that swap groups of keypoints between YOLO's 2D and the detector view of the mocap (both H36M-17)."""
    from motionbert_cli.keypoints import to_h36m

    yolo = to_h36m(tracks.kpts[sel[0]], tracks.layout).astype(np.float32)
    view = gt_keypoints(gt, detector_view(gt["joints3d_cam"].astype(np.float64), "mocap"))

    def row(name: str, kp: np.ndarray) -> None:
        r = score(lift(model, h36m_tracks(kp), [0], info), gt["joints3d_cam"])
        x, y, z = r["rot_mean_xyz_deg"]
        print(f"| {name} | {r['p_mpjpe']:.1f} | {r['n_mpjpe']:.1f} | {r['rot_deg']:.1f} | {x:+.1f} / {y:+.1f} / {z:+.1f} "
              f"| {r['trunk_pitch_bias_deg']:+.1f} |")

    def mix(base: np.ndarray, other: np.ndarray, idx: list[int]) -> np.ndarray:
        out = base.copy()
        out[:, idx] = other[:, idx]
        return out

    print("\n| 2D fed to the lifter | P-MPJPE | N-MPJPE | rot. (deg) | rotation about x / y / z | trunk lean error |")
    print("|---|---|---|---|---|---|")
    row("mocap in the detector's definitions (detector_view)", view)
    row("YOLO (as H36M-17)", yolo)
    for part, idx in PARTS.items():
        row(f"detector view, YOLO's {part}", mix(view, yolo, idx))
    for part, idx in PARTS.items():
        row(f"YOLO, the detector view's {part}", mix(yolo, view, idx))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", nargs="+", help="lifter file(s); default: pose3d's default lifter")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--detector-runtime", default="auto", help="as pose3d's (cached per runtime)")
    ap.add_argument("--detect-every", default=PeopleOptions.detect_every, help="as pose3d's (default: its default)")
    ap.add_argument("--humaneva", action="store_true", help="also HumanEva Validate with ground-truth 2D")
    ap.add_argument("--json", help="write the numbers here too")
    ap.add_argument("--by-part", action="store_true", help="also split the YOLO row's error by body part")
    args = ap.parse_args()
    folder = Path(args.shared) / CLIP
    if not folder.is_dir():
        sys.exit(f"error: {folder} not found: pass --shared with the shared data folder")
    console = Console(stderr=True)
    model = load_pose3d([Path(c) for c in args.checkpoint] if args.checkpoint else None, None, "cpu")
    gt = dict(np.load(folder / "gt_cam_55011271.npz"))
    info = probe(folder / "cam_55011271.mp4")
    rows, angles = {}, {}
    up = true_up(Path(args.shared))
    tracks, sel = yolo_tracks(info.path, args.detector_runtime, console, args.detect_every)
    pred = lift(model, tracks, sel, info)
    rows["YOLO 2D (pose3d defaults)"] = score(pred, gt["joints3d_cam"])
    angles["YOLO 2D (pose3d defaults)"] = angle_errors(pred, gt["joints3d_cam"], up)
    places = {"YOLO 2D (pose3d defaults)": placement(LAST_CAMERA["joints"], gt["joints3d_cam"], *true_up(
        Path(args.shared), offset=True))}
    pred = lift(model, h36m_tracks(gt_keypoints(gt)), [0], info)
    rows["GT 2D (--keypoints)"] = score(pred, gt["joints3d_cam"])
    angles["GT 2D (--keypoints)"] = angle_errors(pred, gt["joints3d_cam"], up)
    places["GT 2D (--keypoints)"] = placement(LAST_CAMERA["joints"], gt["joints3d_cam"], *true_up(
        Path(args.shared), offset=True))
    print(f"lifter: {model.source}")
    print("| input | P-MPJPE | N-MPJPE | rot. (deg) | about vertical | accel. pred | accel. GT | |a_pred - a_gt| "
          "| frames |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['p_mpjpe']:.1f} | {r['n_mpjpe']:.1f} | {r['rot_deg']:.1f} | {r['yaw_deg']:.1f} | "
              f"{r['accel_pred']:.1f} | {r['accel_gt']:.1f} | {r['accel_err']:.1f} | {r['frames']} |")
    print("\n| input | mean aligning rotation about camera x / y / z (deg, signed) | trunk lean towards the camera, "
          "pred - GT (deg) |\n|---|---|---|")
    for name, r in rows.items():
        x, y, z = r["rot_mean_xyz_deg"]
        print(f"| {name} | {x:+.1f} / {y:+.1f} / {z:+.1f} | {r['trunk_pitch_bias_deg']:+.1f} |")
    print()
    print("| input | " + " | ".join(GROUPS) + " |")
    print("|---|" + "---|" * len(GROUPS))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r['groups'][g]:.1f}" for g in GROUPS) + " |")
    print("\n| angle (degrees) | " + " | ".join(f"{n}: mean abs. err. / bias / range pred (GT)" for n in angles)
          + " |")
    print("|---|" + "---|" * len(angles))
    for k in ANGLES:
        cells = [f"{a[k][0]:.1f} / {a[k][1]:+.1f} / {a[k][3][0]:.0f}..{a[k][3][1]:.0f} "
                 f"({a[k][2][0]:.0f}..{a[k][2][1]:.0f})" for a in angles.values()]
        print(f"| {k} | " + " | ".join(cells) + " |")
    for name, a in angles.items():
        rows[name]["angles"] = {k: {"mae": v[0], "bias": v[1]} for k, v in a.items()}
    print("\n| placement (joints3d_camera, default focal) | pelvis error (m) | depth error (m) | depth swing (%) "
          "| pelvis path pred / GT (m) | lower ankle height error (m, median) | ... above its own floor | ... in the BVH |")
    print("|---|---|---|---|---|---|---|---|")
    for name, pl in places.items():
        rows[name]["placement"] = pl
        print(f"| {name} | {pl['pelvis_err_m']:.3f} | {pl['depth_err_m']:.3f} | {pl['depth_swing_pct']:.1f} | {pl['path_pred_m']:.1f} / "
              f"{pl['path_gt_m']:.1f} | {pl['ankle_height_err_m']:.3f} | {pl['ankle_own_floor_err_m']:.3f} "
              f"| {pl['ankle_bvh_err_m']:.3f} |")
    if args.by_part:
        by_part(model, info, gt, tracks, sel)
    if args.humaneva:
        he = Path(args.shared) / "data/eval/humaneva/data_3d_humaneva15.npz"
        res = evaluate_videopose3d(model, he, he.with_name("data_2d_humaneva15_gt.npz"), subjects=["Validate/"],
                                   actions=["Walking", "Jog", "Box"])
        rows["HumanEva Validate (GT 2D)"] = res["overall"]
        print(f"\nHumanEva Validate, GT 2D: P-MPJPE {res['overall']['p_mpjpe']:.1f} mm, "
              f"MPJPE {res['overall']['mpjpe']:.1f} mm ({res['overall']['frames']} frames)")
    if args.json:
        Path(args.json).write_text(json.dumps({"lifter": str(model.source), **rows}, indent=1))


if __name__ == "__main__":
    main()
