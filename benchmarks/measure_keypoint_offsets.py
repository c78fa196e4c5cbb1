"""Where COCO keypoints lie relative to a skeleton's joints, measured on the free body model `anny`.

The numbers behind `synth.detector_view` (issue 22): Human3.6M's 3D joints are joint centres (hips at the
femoral heads, the thorax at the neck base, a head-top marker), while YOLO gives COCO keypoints (surface points
of the hips and shoulders, nose, eyes). For 18 anny bodies (gender 0 / 0.5 / 1, weight 0.2 / 0.5 / 0.8,
height 0.3 / 0.7) in the rest pose this prints each COCO keypoint's offset from the matching bone head
(`upperleg01` = hip joint, `upperarm01` = shoulder joint, `foot` = ankle, `neck01` = neck base...), in units of
the torso (pelvis to neck base) and in the body's (left, up, forward) axes: mean, min and max.

    pip install anny            # not a dependency of the tool; the first run builds anny's cache (~2-3 min)
    python benchmarks/measure_keypoint_offsets.py
"""
from __future__ import annotations

import numpy as np


def body_axes(left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rows (left, up, forward), orthonormal."""
    x = left / np.linalg.norm(left)
    y = up - x * (up @ x)
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)])


def measure(model, regressor, phenotype: dict) -> dict:
    out = model(phenotype_kwargs=phenotype)
    V = out["vertices"][0].numpy()
    head = {n: out["bone_poses"][0, i, :3, 3].numpy() for i, n in enumerate(model.bone_labels)}
    kp = dict(zip(regressor.labels, regressor(out)[0].numpy()))
    hip_l, hip_r = head["upperleg01.L"], head["upperleg01.R"]
    sh_l, neck = head["upperarm01.L"], head["neck01"]
    pelvis = (hip_l + hip_r) / 2
    F = body_axes(hip_l - hip_r, neck - pelvis)
    F[2] *= np.sign((kp["nose"] - pelvis) @ F[2])  # forward is where the nose is
    torso = np.linalg.norm(neck - pelvis)
    top = V[V[:, 2].argmax()]  # rest pose: Z up
    up = (top - neck) / np.linalg.norm(top - neck)
    fwd = F[2] - up * (F[2] @ up)
    fwd /= np.linalg.norm(fwd)
    eyes = (kp["left_eye"] + kp["right_eye"]) / 2

    def rel(a, b):
        return F @ (a - b) / torso

    def face(p):
        return np.array([(p - neck) @ up, (p - neck) @ fwd]) / torso

    return {"stature (m)": np.array([V[:, 2].max() - V[:, 2].min()]), "torso (m)": np.array([torso]),
            "left hip - hip joint": rel(kp["left_hip"], hip_l), "right hip - hip joint": rel(kp["right_hip"], hip_r),
            "left shoulder - shoulder joint": rel(kp["left_shoulder"], sh_l),
            "left knee - knee joint": rel(kp["left_knee"], head["lowerleg01.L"]),
            "left ankle - ankle joint": rel(kp["left_ankle"], head["foot.L"]),
            "left elbow - elbow joint": rel(kp["left_elbow"], head["lowerarm01.L"]),
            "left wrist - wrist joint": rel(kp["left_wrist"], head["wrist.L"]),
            "mid-shoulders - neck base": rel((kp["left_shoulder"] + kp["right_shoulder"]) / 2, neck),
            "nose from neck (up, fwd)": face(kp["nose"]), "mid-eyes from neck (up, fwd)": face(eyes),
            "skull top from neck (up)": np.array([np.linalg.norm(top - neck) / torso])}


def main():
    import anny
    import torch

    torch.set_grad_enabled(False)
    model = anny.Anny()
    regressor = anny.KeypointsRegressor.coco(model)
    rows = [measure(model, regressor, {"gender": g, "weight": w, "height": h, "age": 0.5, "muscle": 0.5,
                                       "proportions": 0.5})
            for g in (0.0, 0.5, 1.0) for w in (0.2, 0.5, 0.8) for h in (0.3, 0.7)]
    print(f"{len(rows)} anny bodies; offsets in torso units, axes (left, up, forward)")
    print("| quantity | mean | min | max |")
    print("|---|---|---|---|")
    for key in rows[0]:
        v = np.array([r[key] for r in rows])
        print(f"| {key} | {np.round(v.mean(0), 3).tolist()} | {np.round(v.min(0), 3).tolist()} | "
              f"{np.round(v.max(0), 3).tolist()} |")


if __name__ == "__main__":
    main()
