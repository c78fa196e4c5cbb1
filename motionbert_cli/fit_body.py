"""Fitting the free body model (Anny, `body.py`) to a person's lifted 3D joints, frame by frame.

The fit is geometric, not an optimiser's guess: every body segment's world rotation is built from the lifted
joints (a frame per segment: its bone along the limb, its hinge axis from the bend of the joint below), so
knees and elbows bend only about their hinge and limbs cannot twist. Anny is posed in its "world-orient"
parameterization (each bone's orientation in the camera frame, its head following its parent), then the
pose is read back in anny's default "local-ref" parameterization for the files.

Shapes: joints [T, 17, 3] H36M-17 in the camera frame (metres: x right, y down, z forward), NaN where the
person is unseen. Segment rotations G [T, S, 3, 3] map the rest body (anny's frame: Z up, facing -Y) into
the camera frame.

    shape  one phenotype per person: `--body` sets gender, `--height` the stature; the rest (height and
           proportions when not given) is the grid point whose limb lengths best match the lifted ones.
    pose   per frame: pelvis from the hips and spine, chest from the shoulders, head from neck and head,
           thigh / shin from hip-knee-ankle with the knee's hinge, upper arm / forearm likewise; spine and
           neck bones share the turn between pelvis and chest, chest and head; hands and feet follow the
           forearm and shin (H36M-17 has no hand or foot points).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .body import PHENOTYPES

# H36M-17 joint -> the anny bone whose head is that joint (pelvis: the mean of the hip joints; thorax: THORAX)
H36M_BONE = {1: "upperleg01.R", 2: "lowerleg01.R", 3: "foot.R", 4: "upperleg01.L", 5: "lowerleg01.L",
             6: "foot.L", 8: "neck01", 11: "upperarm01.L", 12: "lowerarm01.L", 13: "wrist.L",
             14: "upperarm01.R", 15: "lowerarm01.R", 16: "wrist.R"}
SCORED = [0, 1, 2, 3, 4, 5, 6, 8, 11, 12, 13, 14, 15, 16]  # joints both skeletons define alike
SEGMENTS = ["pelvis", "chest", "head", "thigh.L", "shin.L", "thigh.R", "shin.R",
            "upper.L", "fore.L", "upper.R", "fore.R"]
# bones driven by a segment (the rest follow their parent); spine and neck: a share of the turn between two
_DRIVEN = {"root": "pelvis", "pelvis.L": "pelvis", "pelvis.R": "pelvis", "spine05": "pelvis",
           "spine01": "chest", "clavicle.L": "chest", "clavicle.R": "chest", "shoulder01.L": "chest",
           "shoulder01.R": "chest", "head": "head",
           "upperleg01.L": "thigh.L", "upperleg02.L": "thigh.L", "lowerleg01.L": "shin.L",
           "upperleg01.R": "thigh.R", "upperleg02.R": "thigh.R", "lowerleg01.R": "shin.R",
           "upperarm01.L": "upper.L", "upperarm02.L": "upper.L", "lowerarm01.L": "fore.L",
           "upperarm01.R": "upper.R", "upperarm02.R": "upper.R", "lowerarm01.R": "fore.R"}
_BLENDED = {"spine04": ("pelvis", "chest", 0.25), "spine03": ("pelvis", "chest", 0.5),
            "spine02": ("pelvis", "chest", 0.75), "neck01": ("chest", "head", 0.33),
            "neck02": ("chest", "head", 0.66), "neck03": ("chest", "head", 1.0)}
# Human3.6M's thorax is not the neck's base: on its training subjects' mocap it sits 5.0 cm above the shoulder
# joints' midpoint (median over S1 and S8, in the chest's frame; 11% of the trunk), where anny's neck01 head is
# 9.7 cm above its shoulder joints. So the body's thorax is that share of the way from the shoulders' midpoint
# to neck01. Taking neck01 itself put the fitted shoulders 4-5 cm below the lifted ones on every shared clip.
THORAX = 0.5


def thorax(neck, lsho, rsho):
    """The body's H36M thorax from its neck01 head and shoulder joints ([..., 3], NumPy or torch)."""
    mid = (lsho + rsho) / 2
    return mid + THORAX * (neck - mid)


BODY_TYPES = {"neutral": 0.5, "female": 0.0, "male": 1.0}  # --body: anny's gender phenotype


def build_lengths(j: np.ndarray) -> np.ndarray:
    """[..., 17, 3] H36M-17 joints -> [..., 11]: the eight limbs (camera.LIMBS), the trunk (pelvis to
    mid-shoulders), the shoulder and the hip width."""
    from .camera import limb_lengths

    trunk = np.linalg.norm((j[..., 11, :] + j[..., 14, :]) / 2 - j[..., 0, :], axis=-1)
    return np.concatenate([limb_lengths(j), trunk[..., None], np.linalg.norm(j[..., 11, :] - j[..., 14, :], axis=-1)[..., None],
                           np.linalg.norm(j[..., 1, :] - j[..., 4, :], axis=-1)[..., None]], -1)


def _unit(v):
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)


def _frame(y, x_hint, z_hint=None):
    """Orthonormal frames [..., 3, 3] (columns x, y, z) with y along `y`, x from x_hint made perpendicular
    (or, with z_hint, z from it and x = y cross z)."""
    y = _unit(y)
    if z_hint is not None:
        z = _unit(z_hint - (z_hint * y).sum(-1, keepdims=True) * y)
        x = np.cross(y, z)
    else:
        x = _unit(x_hint - (x_hint * y).sum(-1, keepdims=True) * y)
        z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def _hinge(upper, lower, fallback, one_way: bool):
    """The hinge axis of a joint between segments `upper` and `lower` (directions [..., 3]): their cross
    product where the joint is bent (>~6 degrees), blending into `fallback` as it straightens; one_way (knees):
    a bend the wrong way counts as straight."""
    n = np.cross(_unit(upper), _unit(lower))
    s = np.linalg.norm(n, axis=-1, keepdims=True)
    n = n / (s + 1e-12)
    fb = _unit(fallback - (fallback * _unit(upper)).sum(-1, keepdims=True) * _unit(upper))
    w = np.clip((s - 0.1) / 0.25, 0.0, 1.0)
    if one_way:
        w = w * np.clip((n * fb).sum(-1, keepdims=True) * 3.0, 0.0, 1.0)
    return _unit(w * n + (1 - w) * fb)


def segment_frames(j: np.ndarray) -> np.ndarray:
    """H36M-17 joints [..., 17, 3] (any right-handed frame) -> segment frames [..., S, 3, 3] (SEGMENTS order)."""
    pelvis, rhip, rknee, rank, lhip, lknee, lank = (j[..., i, :] for i in range(7))
    spine, thorax, nose, head = j[..., 7, :], j[..., 8, :], j[..., 9, :], j[..., 10, :]
    lsho, lelb, lwr, rsho, relb, rwr = (j[..., i, :] for i in range(11, 17))
    left = lhip - rhip
    pel = _frame(thorax - pelvis, left)
    chest = _frame(thorax - spine, lsho - rsho)
    fwd = chest[..., :, 2]
    headf = _frame(head - thorax, None, z_hint=nose - thorax + 0.5 * np.linalg.norm(
        head - thorax, axis=-1, keepdims=True) * fwd)
    out = [pel, chest, headf]
    for hip, knee, ank in ((lhip, lknee, lank), (rhip, rknee, rank)):
        th, sh = knee - hip, ank - knee
        axis = _hinge(th, sh, pel[..., :, 0], one_way=True)
        out += [_frame(th, axis), _frame(sh, axis)]
    right = -chest[..., :, 0]
    for sho, elb, wr in ((lsho, lelb, lwr), (rsho, relb, rwr)):
        up, fo = elb - sho, wr - elb
        # straight arm: the hinge falls back to the chest's right (elbows flex forward from the anatomical
        # position); an arm raised along that line falls back to the chest's forward
        fb = right + 2.0 * fwd * (np.abs((_unit(up) * right).sum(-1, keepdims=True)) > 0.8)
        axis = _hinge(up, fo, fb, one_way=False)
        out += [_frame(up, axis), _frame(fo, axis)]
    return np.stack(out, axis=-3)


def _slerp_rot(A, B, t):
    """Rotation t of the way from A to B ([..., 3, 3])."""
    R = np.swapaxes(A, -1, -2) @ B
    cos = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1)
    ang = np.arccos(cos)[..., None, None]
    w = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    axis = _unit(w)
    K = np.zeros(R.shape)
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    a = ang * t
    return A @ (np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K)


def coco_to_h36m_torch(c: torch.Tensor) -> torch.Tensor:
    """COCO-17 [..., 17, 3] -> H36M-17 the way keypoints.coco_to_h36m builds it (for comparing a body with a
    lifter that outputs the detector's points)."""
    idx = [0, 12, 14, 16, 11, 13, 15, 0, 0, 0, 0, 5, 7, 9, 6, 8, 10]
    h = c[..., idx, :].clone()
    h[..., 0, :] = (c[..., 11, :] + c[..., 12, :]) / 2
    h[..., 8, :] = (c[..., 5, :] + c[..., 6, :]) / 2
    h[..., 7, :] = (h[..., 0, :] + h[..., 8, :]) / 2
    h[..., 10, :] = (c[..., 1, :] + c[..., 2, :]) / 2
    return h


def _rodrigues(w: torch.Tensor) -> torch.Tensor:
    """Axis-angle [..., 3] -> rotation matrices [..., 3, 3] (differentiable at 0)."""
    theta2 = (w * w).sum(-1, keepdim=True)[..., None]
    theta = torch.sqrt(theta2 + 1e-12)
    K = torch.zeros(w.shape[:-1] + (3, 3), dtype=w.dtype)
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -w[..., 2], w[..., 1], -w[..., 0]
    K = K - K.transpose(-1, -2)
    a = torch.sin(theta) / theta
    b = (1 - torch.cos(theta)) / (theta2 + 1e-12)
    return torch.eye(3, dtype=w.dtype) + a * K + b * K @ K


@dataclass
class BodyFit:
    """One person's fitted body over T frames (NaN where unseen)."""

    phenotype: dict                 # anny phenotype values in [0, 1]
    local_changes: dict             # anny local changes (body_model's local_change_labels) in [-1, 1]
    world_orient: np.ndarray        # [T, B, 4, 4] anny "world-orient" pose parameters (camera frame)
    local_ref: np.ndarray           # [T, B, 4, 4] the same pose in anny's default "local-ref" parameterization
    joints: np.ndarray              # [T, 17, 3] the body's own H36M joints, camera frame (head/spine: NaN)
    coco: np.ndarray                # [T, 17, 3] its COCO-17 keypoints (anny's regressor), camera frame
    joint_error_mm: float           # mean distance of SCORED joints to the lifted ones
    stature_m: float


class AnnyFitter:
    """Fits anny to lifted joints. model: `body.load_anny()`."""

    def __init__(self, model):
        import anny

        self.model = model
        self.labels = list(model.bone_labels)
        self.ix = {n: i for i, n in enumerate(self.labels)}
        self.parents = list(model.bone_parents)
        reg = anny.KeypointsRegressor.coco(model)
        W = reg.regression_weights[:17]  # COCO-17 (anny adds feet after them)
        self.kp_cols = torch.nonzero(W.abs().sum(0) > 0)[:, 0]
        self.kp_weights = W[:, self.kp_cols]
        # The 2D term's weight against the 3D one. Since pose3d holds each person's bones at one length
        # (camera.steady_bones) a body fits the lifted joints to ~1 cm, so the balance can lean on the
        # detections, which are what the rendered video is judged against: at 10 the body's keypoints land
        # 2.5-7.5 px (median) from them and its joints stay 19-24 mm from the lifted ones (bench_mesh.py;
        # 1: 3.8-11.5 px and 10-11 mm; 8: 2.7-7.9 px and 18-22 mm; 12: 2.4-7.2 px and 20-25 mm).
        self.w2d = 10.0
        # what the lifted joints are (lift.detector_share): 0 = mocap joint centres (our H36M-trained lifters
        # and MotionBERT's), 1 = COCO points after coco_to_h36m (hips and shoulders on the surface, thorax
        # mid-shoulders), between = an ensemble averaging both kinds
        self.detector_share = 0.0

    # ------------------------------------------------------------------ shape
    def shape_kwargs(self, shape: dict, n: int | None = None) -> dict:
        """A build {name: value} (phenotypes and local changes in one dict) -> anny's keyword arguments (values
        as tensors of n, or floats)."""
        v = (lambda x: float(x)) if n is None else (lambda x: torch.full((n,), float(x), dtype=self.model.dtype))
        kw = {"phenotype_kwargs": {k: v(x) for k, x in shape.items() if k in PHENOTYPES}}
        lc = {k: v(x) for k, x in shape.items() if k not in PHENOTYPES}
        if lc:
            kw["local_changes_kwargs"] = lc
        return kw

    def rest(self, shape: dict) -> dict:
        """The rest model for a build (phenotypes, local changes): bone heads [B, 3], rest bone rotations
        [B, 3, 3], rest vertices."""
        B = self.model.bone_count
        with torch.no_grad():
            out = self.model(pose_parameters=torch.eye(4).expand(1, B, 4, 4).to(self.model.dtype),
                             **self.shape_kwargs(shape))
        return {"heads": out["rest_bone_poses"][0, :, :3, 3].double().numpy(),
                "R": out["rest_bone_poses"][0, :, :3, :3].double().numpy(),
                "verts": out["rest_vertices"][0].double().numpy()}

    def bone_joints(self, heads: np.ndarray) -> np.ndarray:
        """Bone heads [..., B, 3] -> the body's own H36M-17 joint centres [..., 17, 3] (pelvis: mid hip joints;
        spine, nose and head: NaN)."""
        j = np.full(heads.shape[:-2] + (17, 3), np.nan)
        for k, name in H36M_BONE.items():
            j[..., k, :] = heads[..., self.ix[name], :]
        j[..., 0, :] = (j[..., 1, :] + j[..., 4, :]) / 2
        j[..., 8, :] = thorax(j[..., 8, :], j[..., 11, :], j[..., 14, :])
        return j

    def lifters_kind(self, joints: np.ndarray, coco: np.ndarray) -> np.ndarray:
        """The body's joints [..., 17, 3] and COCO keypoints [..., 17, 3] -> joints of the kind the lifter gives
        (detector_share of coco_to_h36m's points, the rest joint centres), to compare like with like."""
        a = self.detector_share
        if not a:
            return joints
        from .keypoints import coco_to_h36m

        return (1 - a) * joints + a * coco_to_h36m(coco)

    def rest_joints(self, rest: dict) -> np.ndarray:
        """The rest body's H36M-17 joints [17, 3] of the lifter's kind (spine, nose and head NaN)."""
        coco = self.kp_weights.double().numpy() @ rest["verts"][self.kp_cols.numpy()]
        return self.lifters_kind(self.bone_joints(rest["heads"]), coco)

    def stature(self, verts: np.ndarray) -> float:
        return float(np.ptp(verts[:, 2]))

    def build(self, shape: dict) -> np.ndarray:
        """A build's lengths [11] (build_lengths) at rest, on joints of the lifter's kind."""
        return build_lengths(self.rest_joints(self.rest(shape))[None])[0]

    def fit_shape(self, joints: np.ndarray, body: str = "neutral", height: float | None = None) -> dict:
        """The build (phenotypes and local changes, one dict) whose lengths best match the lifted joints'
        (medians over frames): its eight limbs, the trunk (pelvis to mid-shoulders) and the shoulder and hip
        widths, measured on joints of the lifter's kind. Gender from `body`; height (when given, the stature in
        metres; else searched) and proportions (which sets the trunk against the limbs) on a grid; then the
        local changes the body file carries (`local_lengths`) take up what the phenotypes leave: they set one
        length each. Phenotypes alone left the trunk 2-6 cm short of the lifted one on the shared clips, and
        could not give Human3.6M S1's widths (shoulder joints 27 cm apart, Anny's 36; hips 27, Anny's 19-20)."""
        target = np.nanmedian(build_lengths(joints), axis=0)
        base = {k: 0.5 for k in PHENOTYPES}
        base["gender"] = BODY_TYPES[body]
        heights = np.linspace(0.0, 1.0, 11)
        if height is not None:  # the height phenotype whose stature is the given height
            base["height"] = self._height_for(base, height)
            heights = [base["height"]]
        best, best_err = base, np.inf
        for h in heights:
            for p in np.linspace(0.0, 1.0, 9):
                ph = {**base, "height": float(h), "proportions": float(p)}
                err = np.nanmean(np.abs(self.build(ph) - target))
                if err < best_err:
                    best, best_err = ph, err
        for _ in range(2 if height is not None else 1):
            best = self.local_lengths(best, target)
            if height is not None:  # the legs' and trunk's changes moved the stature: give it back
                best["height"] = self._height_for(best, height)
        return best

    def _height_for(self, shape: dict, stature: float) -> float:
        """The height phenotype at which the build's stature is `stature` metres (the rest of it fixed)."""
        heights = np.linspace(0.0, 1.0, 11)
        st = [self.stature(self.rest({**shape, "height": h})["verts"]) for h in heights]
        return float(np.interp(stature, st, heights))

    def local_lengths(self, shape: dict, target: np.ndarray, passes: int = 2) -> dict:
        """shape with the body file's local changes set so its lengths [11] meet `target` (medians, NaN
        ignored). Each change drives one length (a limb's: both sides' mean; its slope on either side of 0
        measured here), so a few passes of one-at-a-time solves converge; values kept in anny's range [-1, 1]."""
        labels = list(getattr(self.model, "local_change_labels", []))
        if not labels:
            return shape
        shape = {**shape, **{k: 0.0 for k in labels}}
        base = self.build(shape)
        effect = {}
        for k in labels:  # what +1 and -1 of each change do to every length
            up, down = self.build({**shape, k: 1.0}) - base, self.build({**shape, k: -1.0}) - base
            size = np.abs(up) + np.abs(down)
            i = size > 0.5 * size.max()  # both sides' limbs for a limb's change
            effect[k] = (i, up[i].mean(), -down[i].mean())
        for _ in range(passes):
            cur = self.build(shape)
            for k, (i, s_up, s_down) in effect.items():
                miss = np.nanmean(target[i] - cur[i]) if np.isfinite(target[i]).any() else np.nan
                if not np.isfinite(miss):
                    continue
                v = shape[k] + miss / (s_up if shape[k] + miss / s_up >= 0 else s_down)
                shape[k] = float(np.clip(v, -1.0, 1.0))
        return shape

    # ------------------------------------------------------------------ pose
    def fit(self, joints: np.ndarray, body: str = "neutral", height: float | None = None,
            phenotype: dict | None = None, keypoints: np.ndarray | None = None, camera=None,
            steps: int = 80, progress=None) -> BodyFit:
        """joints [T, 17, 3] camera-frame metres (NaN where unseen) -> BodyFit.

        keypoints [T, 17, 3] COCO-17 pixels + confidence and camera (focal, (cx, cy)): the geometric pose is
        then refined (`refine`) so the body's own COCO keypoints land on the detections while its joints stay
        near the lifted ones."""
        T = len(joints)
        ok = np.isfinite(joints[:, SCORED]).all((-1, -2))
        ph = phenotype or self.fit_shape(joints[ok], body, height)
        rest = self.rest(ph)
        rest_j = self.bone_joints(rest["heads"])
        rest_j[7] = rest["heads"][self.ix["spine03"]]
        rest_j[10] = rest["heads"][self.ix["head"]] + np.array([0, 0, 0.1])
        rest_j[9] = rest["heads"][self.ix["head"]] + np.array([0, -0.08, 0])  # the face is towards -Y
        F_rest = segment_frames(rest_j[None])[0]                      # [S, 3, 3]
        J = np.where(ok[:, None, None], joints, rest_j[None])          # unseen frames: rest (then NaN)
        F = segment_frames(J)                                          # [T, S, 3, 3]
        G_seg = F @ np.swapaxes(F_rest, -1, -2)[None]                  # rest -> camera, per segment
        G = np.empty((T, len(self.labels), 3, 3))
        seg = {n: i for i, n in enumerate(SEGMENTS)}
        blended = list(_BLENDED)
        self.source = []  # what turns each bone: a segment, a blended spine/neck bone, or its parent's source
        for b, name in enumerate(self.labels):  # parents come first in anny's bone order
            if name in _DRIVEN:
                G[:, b] = G_seg[:, seg[_DRIVEN[name]]]
                self.source.append(seg[_DRIVEN[name]])
            elif name in _BLENDED:
                a, c, t = _BLENDED[name]
                G[:, b] = _slerp_rot(G_seg[:, seg[a]], G_seg[:, seg[c]], t)
                self.source.append(len(SEGMENTS) + blended.index(name))
            else:
                G[:, b] = G[:, self.parents[b]]
                self.source.append(self.source[self.parents[b]])
        root = J[:, 0].copy()  # anny's root is its hip centre: where the lifted pelvis is
        if steps:
            G, root = self.refine(G, root, rest, J, ok, keypoints, camera, steps)
        D = np.zeros((T, len(self.labels), 4, 4))
        D[..., :3, :3] = G @ rest["R"][None]
        D[..., 3, 3] = 1.0
        D[:, 0, :3, 3] = root
        out = self._pose(D, ph, progress)
        mine = self.lifters_kind(out["joints"], out["coco"])
        err = np.linalg.norm(mine[:, SCORED] - J[:, SCORED], axis=-1)[ok]
        for k in ("joints", "coco"):
            out[k][~ok] = np.nan
        D[~ok] = np.nan
        out["local_ref"][~ok] = np.nan
        return BodyFit(phenotype={k: v for k, v in ph.items() if k in PHENOTYPES},
                       local_changes={k: v for k, v in ph.items() if k not in PHENOTYPES},
                       world_orient=D.astype(np.float32), local_ref=out["local_ref"],
                       joints=out["joints"], coco=out["coco"], joint_error_mm=float(err.mean() * 1000),
                       stature_m=self.stature(rest["verts"]))

    def refine(self, G: np.ndarray, root: np.ndarray, rest: dict, J: np.ndarray, ok: np.ndarray,
               keypoints: np.ndarray | None, camera, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Small corrections to every bone's rotation and the root's position, all frames at once (Adam):
        the body's joints near the lifted ones (the geometric pose's bone directions ignore the body's own
        bone lengths), its COCO keypoints on the detections (Huber, confidence-weighted), corrections kept
        small (no twisting away from the geometric pose) and smooth in time.
        G [T, B, 3, 3] rest -> camera per bone, root [T, 3] -> the refined pair."""
        T, B = G.shape[:2]
        Gt = torch.from_numpy(G)
        heads = torch.from_numpy(rest["heads"])
        parents = self.parents
        # each keypoint as the bones' affine images of rest points: kp_k = sum_j G_j m_kj + (q_j - G_j h_j) s_kj
        w = self.kp_weights.double()                                   # [17, V']
        vb = self.model.vertex_bone_indices[self.kp_cols]              # [V', 9]
        vw = self.model.vertex_bone_weights[self.kp_cols].double()     # [V', 9]
        A = torch.zeros(len(self.kp_cols), B, dtype=torch.float64)
        A.scatter_add_(1, vb, vw)                                      # [V', B] skinning weights, dense
        rv = torch.from_numpy(rest["verts"][self.kp_cols.numpy()])     # [V', 3]
        S = w @ A                                                      # [17, B]
        M = torch.einsum("kv,vb,vd->kbd", w, A, rv)                    # [17, B, 3]
        used = torch.nonzero(S.abs().sum(0) > 1e-9)[:, 0]
        S, M = S[:, used], M[:, used]
        jt = torch.from_numpy(np.where(ok[:, None, None], J, 0.0))
        okt = torch.from_numpy(ok.astype(np.float64))[:, None]
        bones = [self.ix[H36M_BONE[k]] for k in SCORED if k != 0]
        th, ls, rs = SCORED.index(8), SCORED.index(11), SCORED.index(14)
        if keypoints is not None and camera is not None:
            kp = torch.from_numpy(np.asarray(keypoints, np.float64))
            f, c = float(camera[0]), torch.tensor(camera[1], dtype=torch.float64)
            conf = kp[..., 2] * okt
        src = torch.tensor(self.source)
        omega = torch.zeros(T, len(SEGMENTS) + len(_BLENDED), 3, dtype=torch.float64, requires_grad=True)
        dq = torch.zeros(T, 3, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([omega, dq], lr=0.01)
        offsets = [heads[b] - heads[parents[b]] if parents[b] >= 0 else None for b in range(B)]
        a = self.detector_share
        for _ in range(steps):
            Gn = _rodrigues(omega)[:, src] @ Gt
            q = [None] * B
            q[0] = torch.from_numpy(root) + dq
            for b in range(1, B):  # world-orient: a head follows its parent's rotation
                q[b] = q[parents[b]] + Gn[:, parents[b]] @ offsets[b]
            Q = torch.stack(q, 1)                                      # [T, B, 3]
            Gu, Qu = Gn[:, used], Q[:, used]
            tj = Qu - torch.einsum("tbij,bj->tbi", Gu, heads[used])
            kp3 = torch.einsum("tbij,kbj->tki", Gu, M) + torch.einsum("tbi,kb->tki", tj, S)  # COCO-17, camera
            # compare like with like: the body's joints of the lifter's kind(s)
            pelvis = (Q[:, self.ix["upperleg01.L"]] + Q[:, self.ix["upperleg01.R"]]) / 2
            body = torch.cat([pelvis[:, None], Q[:, bones]], 1)
            body = torch.cat([body[:, :th], thorax(body[:, th], body[:, ls], body[:, rs])[:, None], body[:, th + 1:]], 1)
            if a:
                body = (1 - a) * body + a * coco_to_h36m_torch(kp3)[:, SCORED]
            e3 = ((body - jt[:, SCORED]) ** 2).sum(-1)
            loss = (e3 * okt).sum() / (okt.sum() * e3.shape[1]).clamp_min(1) / 0.02 ** 2
            if keypoints is not None and camera is not None:
                uv = f * kp3[..., :2] / kp3[..., 2:].clamp_min(0.1) + c
                # pixels -> metres at the person's distance, so the balance with the 3D term does not depend on
                # the video's resolution; Huber beyond 3 cm (a misplaced keypoint should not drag the body)
                r = (uv - kp[..., :2]).norm(dim=-1) * (Q[:, :1, 2].detach() / f)
                hub = torch.where(r < 0.03, 0.5 * r ** 2, 0.03 * (r - 0.015))
                loss = loss + self.w2d * (hub * conf).sum() / conf.sum().clamp_min(1) / 0.02 ** 2
            n = omega.shape[1]
            loss = loss + (omega ** 2).sum(-1).mean() * n / 0.15 ** 2 * 0.05
            if T > 2:
                acc = omega[2:] - 2 * omega[1:-1] + omega[:-2]
                loss = loss + (acc ** 2).sum(-1).mean() * n / 0.02 ** 2 * 0.05
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return (_rodrigues(omega)[:, src] @ Gt).numpy(), (torch.from_numpy(root) + dq).numpy()

    def _pose(self, D: np.ndarray, ph: dict, progress=None, chunk: int = 64, verts: bool = False) -> dict:
        """Anny posed by world-orient parameters D [T, B, 4, 4] -> joints, COCO keypoints, local-ref pose."""
        T = len(D)
        joints = np.full((T, 17, 3), np.nan)
        coco = np.full((T, 17, 3), np.nan)
        local = np.zeros((T, len(self.labels), 4, 4), np.float32)
        V = [] if verts else None
        for a in range(0, T, chunk):
            d = torch.from_numpy(np.nan_to_num(D[a:a + chunk])).to(self.model.dtype)
            n = len(d)
            with torch.no_grad():
                o = self.model(pose_parameters=d, **self.shape_kwargs(ph, n), pose_parameterization="world-orient")
                local[a:a + n] = self.model.get_pose_parameterization(o, "local-ref").float().numpy()
            joints[a:a + n] = self.bone_joints(o["bone_poses"][:, :, :3, 3].double().numpy())
            v = o["vertices"]
            coco[a:a + n] = torch.einsum("kv,bvd->bkd", self.kp_weights, v[:, self.kp_cols]).double().numpy()
            if verts:
                V.append(v.float().numpy())
            if progress:
                progress(n)
        out = {"joints": joints, "coco": coco, "local_ref": local}
        if verts:
            out["verts"] = np.concatenate(V) if V else np.zeros((0, self.model.template_vertices.shape[0], 3))
        return out

    def vertices(self, fit: BodyFit, chunk: int = 64) -> np.ndarray:
        """The fitted mesh [T, V, 3] float32, camera frame (NaN where unseen)."""
        ok = np.isfinite(fit.world_orient).all((-1, -2, -3))
        v = self._pose(np.nan_to_num(fit.world_orient.astype(np.float64)), {**fit.phenotype, **fit.local_changes},
                       chunk=chunk,
                       verts=True)["verts"]
        v[~ok] = np.nan
        return v

    @property
    def faces(self) -> np.ndarray:
        return self.model.get_triangular_faces().numpy().astype(np.int32)
