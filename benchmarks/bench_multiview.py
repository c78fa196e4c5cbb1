"""Single-view 3D on real footage against what four calibrated cameras see.

The pose2sim lab clips (`../shared/data/videos/pose2sim_single`, 4 synchronised views, Qualisys calibration) give
a reference without mocap: our 2D detections from the four views are triangulated (robustly: views that disagree
by more than 30 px or have left and right swapped are left out or corrected, as Pose2Sim does) and filtered in
time (zero-phase Butterworth, 6 Hz, as Pose2Sim filters its markers), and
each view's single-camera result from `motionbert pose3d` is compared with that reference in the view's own
camera frame. On the two-person clip the tracks of the four views are first matched to people (`associate`).
  pose      P-MPJPE / N-MPJPE of the lifted body (shape; mm): pose3d's metric `joints3d`, i.e. the lifter's
            pixel output unprojected with the focal length pose3d assumes (the longer frame side)
  ref. 2D   P-MPJPE when the lifter is given the reference projected into the view (clean 2D that agrees with
            the reference, the detector's confidences): the lifter's own error without the detector's noise
  mean pose P-MPJPE of the reference's own average posture over the clip (an oracle that knows the person's
            mean pose and never moves): a lifter has to beat this to show it follows the motion at all
  depth order  share of limbs (and the hip-to-hip line: which hip is nearer, i.e. which way the pelvis is
            turned) pointing towards the camera where the reference has them pointing away, or the other way
            round, counted where the reference's limb points at least 30% along the viewing direction: the
            front/back ambiguity of one view, robust to the reference's noise
  smoothness mean acceleration of the root-relative joints (mm/frame^2), prediction and reference
  placement pelvis position error of `joints3d_camera` with the true focal length and principal point, with
            average-adult limbs (what pose3d does) and with the reference's own limb lengths (what mesh does
            with the SMPL body's size), and with the default focal length (the longer frame side) that pose3d
            assumes when none is given.
The reference shares the detector's errors and definition of each joint, so it measures lifting and placement,
not the detector; its quality is shown as the reprojection residual and, per person, as how far two
references made from disjoint pairs of views (1+2 vs 3+4, 1+3 vs 2+4, 1+4 vs 2+3) are from each other
(P-MPJPE, mm): the detector's view-to-view disagreement, which the 4-view reference averages but keeps part of.

    python benchmarks/bench_multiview.py [--checkpoint PATH [PATH]] [--shared ../shared] [--clip all|pose2sim_single|pose2sim_multi]
                                         [--imgsz 640]
"""
from __future__ import annotations

import argparse
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from motionbert_cli.camera import default_intrinsics, limb_lengths, root_trajectory, smoothing_frames, unproject
from motionbert_cli.evaluate import n_mpjpe, p_mpjpe
from motionbert_cli.lift import lift_sequence, load_pose3d
from motionbert_cli.people import PeopleOptions
from motionbert_cli.pipeline import Pose3dOptions, run_pose3d, smooth_person

ROOT = Path(__file__).resolve().parent.parent
# Scored joints: all but nose and head top, which come from face keypoints that views from behind lack.
BODY = [j for j in range(17) if j not in (9, 10)]


def read_qca(path: Path) -> dict:
    """Qualisys calibration -> {serial: (K [3,3], dist [5], R [3,3] world->camera (OpenCV axes), t [3] m)}."""
    cams = {}
    for cam in ET.parse(path).getroot().iter("camera"):
        tr, it = cam.find("transform").attrib, cam.find("intrinsic").attrib
        # The rows of r11..r33 are the camera's axes in world coordinates (world -> camera), and Qualisys cameras
        # look along -z, so y and z flip for OpenCV. (Checked by triangulating: this reading reprojects our
        # detections within 15-20 px in every view; reading the columns as the axes, or not flipping, gives
        # 60-370 px.)
        M = np.array([[float(tr[f"r{i}{j}"]) for j in (1, 2, 3)] for i in (1, 2, 3)])
        R_cw = np.diag([1.0, -1.0, -1.0]) @ M
        pos = np.array([float(tr[k]) for k in "xyz"]) / 1000.0
        K = np.array([[float(it["focalLengthU"]) / 64, 0, float(it["centerPointU"]) / 64],
                      [0, float(it["focalLengthV"]) / 64, float(it["centerPointV"]) / 64], [0, 0, 1]])
        dist = np.array([float(it[k]) / 64 for k in ("radialDistortion1", "radialDistortion2",
                                                     "tangentalDistortion1", "tangentalDistortion2",
                                                     "radialDistortion3")])
        cams[cam.attrib["serial"]] = (K, dist, R_cw, pos)
    return cams


# H36M left/right joint pairs: detectors swap them in views from behind, which a triangulation must catch.
_PAIRS = [(1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)]
_SWAP = list(range(17))
for _a, _b in _PAIRS:
    _SWAP[_a], _SWAP[_b] = _b, _a


def _dlt(rows: list[np.ndarray]) -> np.ndarray:
    _, _, Vt = np.linalg.svd(np.array(rows))
    return Vt[-1, :3] / Vt[-1, 3]


def triangulate(kps: list[np.ndarray], cams: list[tuple], min_conf: float = 0.3, max_px: float = 30.0) -> np.ndarray:
    """Robust multi-view triangulation, Pose2Sim-style. kps: per view [T, 17, 3] pixels + confidence.

    Per frame and view, the left/right labels are swapped when that fits the other views better; per joint,
    the largest set of views (at least 2) whose reprojections all fall within `max_px` is triangulated with
    confidence-weighted DLT, the set with the smaller error winning ties. -> [T, 17, 3] world metres (NaN
    where no set qualifies).
    """
    from itertools import combinations

    T, V = kps[0].shape[0], len(kps)
    P = [np.hstack([R, (-R @ pos)[:, None]]) for _, _, R, pos in cams]  # normalised camera matrices
    und = [cv2.undistortPoints(kp[..., :2].reshape(-1, 1, 2).astype(np.float64), K, d).reshape(T, 17, 2)
           for kp, (K, d, _, _) in zip(kps, cams)]
    f = [c[0][0, 0] for c in cams]  # normalised -> pixel error

    def err(X, v, x):  # pixel distance between X projected into view v and normalised point x
        h = P[v] @ np.append(X, 1.0)
        return np.linalg.norm(h[:2] / h[2] - x) * f[v] if h[2] > 0 else np.inf

    def joint(t, j, pts, conf):
        seen = [v for v in range(V) if conf[v][j] >= min_conf]
        for n in range(len(seen), 1, -1):
            best = None
            for sub in combinations(seen, n):
                rows = []
                for v in sub:
                    x, y = pts[v][j]
                    rows += [conf[v][j] * (x * P[v][2] - P[v][0]), conf[v][j] * (y * P[v][2] - P[v][1])]
                X = _dlt(rows)
                e = [err(X, v, pts[v][j]) for v in sub]
                if max(e) < max_px and (best is None or np.mean(e) < best[0]):
                    best = (np.mean(e), X)
            if best is not None:
                return best[1]
        return np.full(3, np.nan)

    out = np.full((T, 17, 3), np.nan)
    for t in range(T):
        pts = [u[t] for u in und]
        conf = [k[t, :, 2] for k in kps]
        X = np.stack([joint(t, j, pts, conf) for j in range(17)])
        changed = False
        for v in range(V):  # a view whose left/right labels fit better swapped is swapped
            keep = [err(X[j], v, pts[v][j]) for j in range(17) if np.isfinite(X[j]).all() and conf[v][j] >= min_conf]
            swap = [err(X[j], v, pts[v][_SWAP[j]]) for j in range(17)
                    if np.isfinite(X[j]).all() and conf[v][_SWAP[j]] >= min_conf]
            if keep and swap and np.median(swap) < 0.7 * np.median(keep):
                pts[v], conf[v], changed = pts[v][_SWAP], conf[v][_SWAP], True
        if changed:
            X = np.stack([joint(t, j, pts, conf) for j in range(17)])
        out[t] = X
    return out


def smooth_reference(X: np.ndarray, fps: float, cutoff_hz: float = 6.0) -> np.ndarray:
    """Zero-phase 4th-order Butterworth low-pass (6 Hz, Pose2Sim's default for its triangulated markers) of
    each joint over each run of frames where it was triangulated; runs too short to filter stay as they are.
    Per-frame triangulation jitters by tens of mm (the detections' own noise); human motion is slower."""
    from scipy.signal import butter, filtfilt

    b, a = butter(4, cutoff_hz / (fps / 2))
    out = X.copy()
    ok = np.isfinite(X).all(-1)  # [T, 17]
    for j in range(X.shape[1]):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok[:, j].astype(int), [0]])))
        for s, e in zip(edges[::2], edges[1::2]):
            if e - s > 3 * max(len(a), len(b)):
                out[s:e, j] = filtfilt(b, a, X[s:e, j], axis=0)
    return out


def to_camera(X: np.ndarray, cam) -> np.ndarray:
    _, _, R, pos = cam
    return (X - pos) @ R.T


def project(Xc: np.ndarray, cam) -> np.ndarray:
    K, dist, _, _ = cam
    uv, _ = cv2.projectPoints(Xc.reshape(-1, 3), np.zeros(3), np.zeros(3), K, dist)
    return uv.reshape(Xc.shape[:-1] + (2,))


def associate(views: list[list[np.ndarray]], cams: list[tuple], max_px: float = 40.0) -> list[list[int | None]]:
    """Which track in each view is the same person. views[v][i]: track i of view v, H36M [T, 17, 3].

    Every choice of one track (or none) per view, with at least 3 views, is scored by triangulating the pelvis
    and shoulders of each frame from all chosen views (linear DLT) and taking the median reprojection error;
    among the choices below `max_px`, the one with the most views (then the lowest error) is a person, its
    tracks are removed, and so on. -> [[track or None per view]]
    """
    from itertools import product

    joints = [0, 11, 14]
    P = [np.hstack([R, (-R @ pos)[:, None]]) for _, _, R, pos in cams]
    und = [[cv2.undistortPoints(k[..., :2].reshape(-1, 1, 2).astype(np.float64), K, d).reshape(k.shape[0], 17, 2)
            for k in vt] for vt, (K, d, _, _) in zip(views, cams)]
    f = [c[0][0, 0] for c in cams]

    def cost(choice):
        used = [(v, i) for v, i in enumerate(choice) if i is not None]
        errs = []
        for j in joints:
            conf = np.stack([views[v][i][:, j, 2] for v, i in used], 1)          # [T, n]
            pts = np.stack([und[v][i][:, j] for v, i in used], 1)               # [T, n, 2]
            ok = (conf > 0.3).all(1)
            if ok.sum() < 5:
                return np.inf
            rows = []
            for k, (v, _) in enumerate(used):
                rows += [pts[ok, k, :1] * P[v][2] - P[v][0], pts[ok, k, 1:] * P[v][2] - P[v][1]]
            _, _, Vt = np.linalg.svd(np.stack(rows, 1))
            X = np.concatenate([Vt[:, -1, :3] / Vt[:, -1, 3:], np.ones((ok.sum(), 1))], 1)  # [t, 4]
            for k, (v, _) in enumerate(used):
                h = X @ P[v].T
                errs.append(np.linalg.norm(h[:, :2] / h[:, 2:] - pts[ok, k], axis=-1) * f[v])
        return float(np.median(np.concatenate(errs)))

    left = [set(range(len(vt))) for vt in views]
    people = []
    while True:
        options = [c for c in product(*[sorted(l) + [None] for l in left]) if sum(i is not None for i in c) >= 3]
        scored = [(c, e) for c in options if (e := cost(c)) <= max_px]
        if not scored:
            return people
        best = min(scored, key=lambda ce: (-sum(i is not None for i in ce[0]), ce[1]))[0]
        people.append(list(best))
        for v, i in enumerate(best):
            if i is not None:
                left[v].discard(i)


# Limbs whose front/back direction is scored: thighs, shins, upper arms, forearms, and right hip -> left hip.
_ORDER_LIMBS = [(1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16), (1, 4)]


def depth_order_errors(pred: np.ndarray, ref: np.ndarray, min_share: float = 0.3) -> tuple[int, int]:
    """(wrong, counted): limbs of pred [T, 17, 3] whose depth direction disagrees with ref's (camera frames),
    over the frames and limbs where ref's limb points at least `min_share` of its length along z."""
    wrong = counted = 0
    for a, b in _ORDER_LIMBS:
        dr, dp = ref[:, b] - ref[:, a], pred[:, b] - pred[:, a]
        with np.errstate(invalid="ignore", divide="ignore"):
            zr = dr[:, 2] / np.linalg.norm(dr, axis=-1)
        ok = np.isfinite(zr) & np.isfinite(dp).all(-1) & (np.abs(zr) >= min_share)
        counted += int(ok.sum())
        wrong += int((np.sign(zr[ok]) != np.sign(dp[ok, 2])).sum())
    return wrong, counted


def acceleration(x: np.ndarray) -> float:
    """Mean |second difference| of root-relative joints [T, J, 3] over runs of 3 frames with every joint."""
    a = np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1).mean(-1)
    return float(np.nanmean(a))


def subsampled(folder: Path, serials: list[str], n: int, dst: Path) -> Path:
    """Every nth frame of each view, written (losslessly enough: MJPG at high quality) as a video at 1/n of the
    frame rate into dst: the same scenes as if filmed at the lower rate."""
    dst.mkdir(parents=True, exist_ok=True)
    for s in serials:
        cap = cv2.VideoCapture(str(folder / f"{s}.mp4"))
        fps = cap.get(cv2.CAP_PROP_FPS)
        out, i = None, 0
        while True:
            ok, f = cap.read()
            if not ok:
                break
            if i % n == 0:
                if out is None:
                    out = cv2.VideoWriter(str(dst / f"{s}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), fps / n,
                                          (f.shape[1], f.shape[0]))
                    out.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
                out.write(f)
            i += 1
        out.release()
    return dst


def same_track(ref: np.ndarray, tracks: np.ndarray) -> int:
    """The index of the track in `tracks` [P, T, 17, 3] whose 2D is nearest (median over shared frames) to
    `ref` [T, 17, 3]: the same person in a second run of the detector."""
    d = [np.nanmedian(np.linalg.norm(t[..., :2] - ref[..., :2], axis=-1)) for t in tracks]
    return int(np.nanargmin(d))


def lift_views(folder: Path, serials: list[str], checkpoint: str | None, console, smooth: str = "butterworth",
               imgsz: int = 640, model=None, detect_every: str = "1", runtime: str = "openvino") -> dict:
    """motionbert pose3d (every track; `smooth`, `imgsz`, `detect_every`, `runtime` as its --smooth, --imgsz,
    --detect-every, --detector-runtime; lifting with `model` when given, else `checkpoint` or the default) on
    each view -> {serial: per-track arrays, size, fps}."""
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in serials:
            out = Path(tmp) / s
            video = folder / f"{s}.mp4" if (folder / f"{s}.mp4").is_file() else folder / f"{s}.avi"
            run_pose3d(Pose3dOptions(video=video, out=out, render=False,
                                     people=PeopleOptions(person="all", imgsz=imgsz, detect_every=detect_every,
                                                         detector_runtime=runtime), smooth=smooth,
                                     checkpoint=Path(checkpoint) if checkpoint else None), console, model=model)
            d = np.load(out / "motion.npz")
            res[s] = {k: d[k].astype(np.float64) for k in ("keypoints2d", "joints3d", "joints3d_pixels",
                                                             "joints3d_camera")}
            res[s]["size"], res[s]["fps"] = tuple(int(v) for v in d["frame_size"]), float(d["fps"])
    return res


def lift_clean(model, ref_c: np.ndarray, conf: np.ndarray, cam, fps: float, size: tuple[int, int]) -> np.ndarray:
    """Lift the reference projected into the view (pixels), as pose3d lifts detections: per-window boxes, flip,
    its default smoothing (6 Hz Butterworth), unprojected with its default focal length. conf [T, 17]: the
    detector's confidences (0 where the reference is missing)."""
    ok = np.isfinite(ref_c).all(-1)
    uv = project(np.where(ok[..., None], ref_c, 0.0), cam)
    x = np.concatenate([uv, np.where(ok, np.nan_to_num(conf), 0.0)[..., None]], -1).astype(np.float32)
    y = lift_sequence(model, x, flip=True, pixels=True, batch_size=8)
    y = smooth_person(y, x, fps, Pose3dOptions(video=None))[0]  # pose3d's default smoothing
    return unproject(y, *default_intrinsics(size))


def reference_spread(kps: list[np.ndarray], cams: list[tuple], fps: float) -> float:
    """Mean P-MPJPE (mm, BODY joints, root-relative) between references triangulated from disjoint pairs of
    the four views; NaN with fewer views."""
    if len(kps) != 4:
        return float("nan")
    out = []
    for a, b in (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))):
        A, B = (smooth_reference(triangulate([kps[i] for i in v], [cams[i] for i in v], max_px=np.inf), fps)
                for v in (a, b))
        A, B = A[:, BODY] * 1000, B[:, BODY] * 1000
        ok = np.isfinite(A).all((-1, -2)) & np.isfinite(B).all((-1, -2))
        out.append(p_mpjpe((A - A[:, :1])[ok], (B - B[:, :1])[ok]).mean())
    return float(np.mean(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", nargs="+", help="lifter file(s); two files: their average, as pose3d's default pair")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--clip", default="all", help="pose2sim_single, pose2sim_multi or all")
    ap.add_argument("--imgsz", type=int, default=640,
                    help="detector input size (pose3d's --imgsz); the reference is triangulated from the same 2D")
    ap.add_argument("--detect-every", default=None,
                    help="pose3d's --detect-every for the single-view results (default: pose3d's default)")
    ap.add_argument("--subsample", type=int, default=1,
                    help="keep every Nth frame of the 60 fps views (2: the same scenes as 30 fps video)")
    ap.add_argument("--detector-runtime", default="openvino",
                    help="pose3d's --detector-runtime for the single-view results (default: OpenVINO f32)")
    args = ap.parse_args()
    every = args.detect_every or PeopleOptions.detect_every
    tmp_root = tempfile.TemporaryDirectory()
    clips = ["pose2sim_single", "pose2sim_multi"] if args.clip == "all" else [args.clip]
    console = Console(stderr=True)
    model = load_pose3d([Path(c) for c in args.checkpoint] if args.checkpoint else None, None, "cpu")
    print(f"single views: --detect-every {every}, --detector-runtime {args.detector_runtime}; the reference: every "
          f"frame, OpenVINO f32")
    print("| clip | person | view | reproj. px | P-MPJPE | N-MPJPE | accel. pred | accel. ref | pelvis err (adult) | "
          "(own limbs) | (default focal) | depth bias (adult) | ref. depth (m) | P-MPJPE (ref. 2D) | mean pose "
          "| depth order wrong % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for clip in clips:
        folder = Path(args.shared) / "data/videos" / clip
        calib = read_qca(folder / "Calib.qca.txt")
        if args.subsample > 1:
            folder = subsampled(folder, sorted(calib), args.subsample, Path(tmp_root.name) / clip)
        serials = sorted(calib)
        # The reference is always triangulated from detections on every frame with the f32 detector, so that a
        # faster setting (--detect-every, int8) is measured against the same reference, not one sharing its 2D.
        ref_res = lift_views(folder, serials, None, console, imgsz=args.imgsz, model=model)
        res = ref_res if (every, args.detector_runtime) == ("1", "openvino") else lift_views(
            folder, serials, None, console, imgsz=args.imgsz, model=model, detect_every=every,
            runtime=args.detector_runtime)
        T = min(r["keypoints2d"].shape[1] for r in list(res.values()) + list(ref_res.values()))
        views = [[np.where(np.isfinite(k), k, 0.0) for k in ref_res[s]["keypoints2d"][:, :T]] for s in serials]
        people = associate(views, [calib[s] for s in serials])
        for pi, choice in enumerate(people):
            used = [(s, i) for s, i in zip(serials, choice) if i is not None]
            kps, cams = [views[serials.index(s)][i] for s, i in used], [calib[s] for s, _ in used]
            ref = smooth_reference(triangulate(kps, cams), res[used[0][0]]["fps"])
            spread = reference_spread(kps, cams, res[used[0][0]]["fps"])
            ok = np.isfinite(ref[:, BODY]).all((-1, -2))
            body = np.nanmedian(limb_lengths(ref[ok]), axis=0)
            for s, i in used:
                i = same_track(ref_res[s]["keypoints2d"][i][:T], res[s]["keypoints2d"][:, :T])
                cam, r = calib[s], {k: res[s][k][i][:T] for k in ("keypoints2d", "joints3d", "joints3d_pixels",
                                                                   "joints3d_camera")}
                ref_c = to_camera(ref, cam)
                reproj = np.linalg.norm(project(ref_c, cam) - r["keypoints2d"][..., :2], axis=-1)[:, BODY]
                good = ok & np.isfinite(r["joints3d_pixels"]).all((-1, -2))
                pix = r["joints3d_pixels"]
                K = cam[0]
                f, c = (K[0, 0] + K[1, 1]) / 2, (K[0, 2], K[1, 2])
                n = smoothing_frames(res[s]["fps"])
                gt_rel = (ref_c - ref_c[:, :1])[:, BODY] * 1000
                pr_rel = (r["joints3d"] - r["joints3d"][:, :1])[:, BODY] * 1000  # what pose3d gives in metres
                pm, nm = p_mpjpe(pr_rel[good], gt_rel[good]).mean(), n_mpjpe(pr_rel[good], gt_rel[good]).mean()
                # smoothness in mm: the prediction scaled to the reference by one factor for the clip
                scale = (pr_rel[good] * gt_rel[good]).sum() / (pr_rel[good] ** 2).sum()
                acc_p = acceleration(np.where(good[:, None, None], pr_rel * scale, np.nan))
                acc_r = acceleration(np.where(good[:, None, None], gt_rel, np.nan))
                e_adult = (root_trajectory(pix, f, c, smooth_frames=n) - ref_c[:, 0])[good] * 1000
                e_own = (root_trajectory(pix, f, c, body, smooth_frames=n) - ref_c[:, 0])[good] * 1000
                e_def = (r["joints3d_camera"][:, 0] - ref_c[:, 0])[good] * 1000
                yc = lift_clean(model, ref_c, r["keypoints2d"][..., 2], cam, res[s]["fps"], res[s]["size"])
                cl_rel = (yc - yc[:, :1])[:, BODY]
                good_c = ok & np.isfinite(cl_rel).all((-1, -2))
                pm_clean = p_mpjpe(cl_rel[good_c], gt_rel[good_c]).mean()
                mean_pose = np.repeat(gt_rel[ok].mean(0)[None], ok.sum(), 0)
                pm_mean = p_mpjpe(mean_pose, gt_rel[ok]).mean()
                wrong, counted = depth_order_errors(r["joints3d"][good], ref_c[good])
                row = [np.nanmedian(reproj[good]), pm, nm, acc_p, acc_r, np.linalg.norm(e_adult, axis=-1).mean(),
                       np.linalg.norm(e_own, axis=-1).mean(), np.linalg.norm(e_def, axis=-1).mean(),
                       e_adult[:, 2].mean(), ref_c[good, 0, 2].mean(), pm_clean, pm_mean, spread,
                       100 * wrong / max(counted, 1)]
                summary.setdefault((clip, pi + 1), []).append(row)
                print(f"| {clip} | {pi + 1} | {s} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.1f} | {row[3]:.2f} | "
                      f"{row[4]:.2f} | {row[5]:.0f} | {row[6]:.0f} | {row[7]:.0f} | {row[8]:+.0f} | {row[9]:.2f} "
                      f"| {row[10]:.1f} | {row[11]:.1f} | {row[13]:.0f} |", flush=True)
    print()
    print("| clip | person | views | reproj. px | P-MPJPE | N-MPJPE | accel. pred | accel. ref | P-MPJPE (ref. 2D) "
          "| mean pose | ref. pairs apart | depth order wrong % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (clip, person), rows in summary.items():
        m = np.mean(rows, axis=0)
        print(f"| {clip} | {person} | {len(rows)} | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.1f} | {m[3]:.2f} | {m[4]:.2f} "
              f"| {m[10]:.1f} | {m[11]:.1f} | {m[12]:.1f} | {m[13]:.0f} |")
    allm = np.nanmean([np.mean(r, axis=0) for r in summary.values()], axis=0)
    print(f"| all | | | {allm[0]:.1f} | {allm[1]:.1f} | {allm[2]:.1f} | {allm[3]:.2f} | {allm[4]:.2f} "
          f"| {allm[10]:.1f} | {allm[11]:.1f} | {allm[12]:.1f} | {allm[13]:.0f} |")
    print("(mm and mm/frame^2; reproj.: median distance between the reference projected into the view and the "
          "view's own detections; accel.: mean second difference of the root-relative joints, the prediction "
          "scaled to the reference by one factor; ref. 2D: the lifter given the reference's own projection; mean "
          "pose: the reference's average posture, never moving; ref. pairs apart: P-MPJPE between references "
          "triangulated from disjoint pairs of views, the detector's view-to-view disagreement; depth order wrong: "
          "limbs pointing towards the camera where the reference points away or the reverse)")


if __name__ == "__main__":
    main()
