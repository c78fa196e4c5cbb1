"""Mocap readers and the evaluation metrics, against hand-checked values."""
import numpy as np
import pytest

from conftest import SHARED, need
from motionbert_cli.evaluate import mpjpe, n_mpjpe, p_mpjpe, procrustes_align
from motionbert_cli.mocap import load_training_data, read_bvh, read_videopose3d


def test_metrics_by_hand():
    gt = np.zeros((1, 2, 3))
    gt[0, 1] = [1, 0, 0]
    pred = gt + np.array([0, 0, 3.0])  # every joint 3 units off
    assert mpjpe(pred, gt)[0] == pytest.approx(3.0)
    pred2 = gt.copy()
    pred2[0, 1] += [3, 4, 0]  # joint 1 off by 5 (3-4-5 triangle), joint 0 exact
    assert mpjpe(pred2, gt)[0] == pytest.approx(2.5)


def test_alignment_removes_similarity_transforms():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 17, 3))
    a = np.deg2rad(40)
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    pred = 2.5 * gt @ R.T + np.array([1.0, -2.0, 0.5])
    assert p_mpjpe(pred, gt).max() < 1e-9
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-9)
    assert n_mpjpe(gt * 0.3, gt).max() < 1e-9
    # a mirror image is not a rotation: Procrustes must not undo it
    assert p_mpjpe(gt * np.array([-1, 1, 1]), gt).mean() > 0.1


def test_bvh_forward_kinematics():
    m = read_bvh(need(SHARED / "data/mocap/cmu/131_01.bvh"))
    assert m.joints.shape == (994, 17, 3) and m.fps == pytest.approx(120, rel=1e-3)
    j = m.joints
    thigh = np.linalg.norm(j[:, 1] - j[:, 2], axis=-1)
    assert np.ptp(thigh) < 1e-4  # rigid bone: constant length under FK
    assert 0.3 < thigh.mean() < 0.5  # metres
    assert (j[:, 10, 1] > j[:, 0, 1]).all() and (j[:, 0, 1] > j[:, 3, 1]).all()  # Y up: head > pelvis > ankle
    m2 = read_bvh(SHARED / "data/mocap/cmu/05_06.bvh")  # MotionBuilder naming
    assert m2.joints.shape[1:] == (17, 3)


def test_humaneva_split_and_axes():
    path = need(SHARED / "data/eval/humaneva/data_3d_humaneva15.npz")
    train = read_videopose3d(path, ["Train/"])
    assert train and all(m.meta["subject"].startswith("Train/") for m in train)
    j = train[0].joints
    assert (j[:, 10, 1] > j[:, 3, 1]).all()  # converted to Y up
    # One Motion per motion file under the folders, whatever they hold today, plus the Train/ clips.
    cmu, deepmimic = SHARED / "data/mocap/cmu", SHARED / "data/mocap/deepmimic"
    files = sorted(cmu.glob("*.bvh")) + sorted(deepmimic.glob("*.npz"))
    motions, paired = load_training_data([cmu, deepmimic, path])
    assert not paired and len(motions) == len(train) + len(files)
    assert {m.name for m in motions} >= {f.stem for f in files}
