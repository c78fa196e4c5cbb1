"""Fast checks of the training pieces: configs, grown warm starts, detector-like joints and 2D errors, pairs."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from motionbert_cli.errors import UserError
from motionbert_cli.keypoints import H36M_FLIP_PERM
from motionbert_cli.mocap import to_detector_joints
from motionbert_cli.model import DSTformer
from motionbert_cli.synth import AugmentConfig, detector_noise, make_pair
from motionbert_cli.train import TrainConfig, cpu_lifter_config, grow_model, loss_terms

CONFIGS = Path(__file__).resolve().parent.parent / "models" / "configs"


def test_shipped_stage_configs_read_as_trained():
    """The flat JSON the shipped stages were trained with still reads, model fields into cfg.model."""
    s1 = TrainConfig.from_file(CONFIGS / "stage1_mocap.json")
    assert (s1.model.dim_feat, s1.model.depth, s1.model.maxlen, s1.model.residual_xy) == (96, 4, 27, True)
    assert (s1.epochs, s1.batch_size, s1.precision) == (12, 48, "bf16")
    s6 = TrainConfig.from_file(CONFIGS / "stage6_bandai_w81.json", epochs=3)
    assert s6.epochs == 3 and s6.grow == {"maxlen": 81, "depth": 6, "residual_xy": False}
    assert s6.augment.detector_joints and s6.augment.drift_px > 0
    assert TrainConfig.from_dict({"model": {"maxlen": 9}}).model.maxlen == 9
    for f in sorted(CONFIGS.glob("*.json")):  # every stage's config, as the model card's commands pass it
        TrainConfig.from_file(f)


def test_squared_error_hedges_between_two_answers_where_mpjpe_picks_one():
    """A joint seen twice as often in front as behind: the squared error is lowest at the mean of the two
    places, MPJPE is lowest at the likelier one (why stage 12 trains with `lambda_mse`)."""
    gt = torch.zeros(3, 1, 1, 3)
    gt[:2, ..., 2], gt[2, ..., 2] = 1.0, -1.0          # depth +1 twice, -1 once
    def total(z, term):
        pred = torch.zeros(3, 1, 1, 3)
        pred[..., 2] = z
        return float(loss_terms(pred, gt)[term])
    zs = np.linspace(-1, 1, 41)
    assert abs(zs[np.argmin([total(z, "mse") for z in zs])] - 1 / 3) < 0.03
    assert zs[np.argmin([total(z, "mpjpe") for z in zs])] == 1.0
    cfg = TrainConfig.from_file(CONFIGS / "stage12_w81_mse.json")
    assert (cfg.lambda_mpjpe, cfg.lambda_mse) == (0.0, 10.0) and TrainConfig().lambda_mse == 0.0


def test_config_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(UserError, match="epochz"):
        TrainConfig.from_file(bad)
    bad.write_text(json.dumps({"augment": {"noise": 1}}))
    with pytest.raises(UserError, match="augment"):
        TrainConfig.from_file(bad)
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        TrainConfig.from_file(bad)
    with pytest.raises(UserError, match="not found"):
        TrainConfig.from_file(tmp_path / "missing.json")


def test_grown_model_starts_where_the_small_one_was():
    torch.manual_seed(0)
    small = DSTformer(cpu_lifter_config(dim_feat=32, dim_rep=32, depth=2, num_heads=4, maxlen=9)).eval()
    x = torch.randn(2, 9, 17, 3)
    deeper = grow_model(small, depth=4).eval()
    assert deeper.cfg.depth == 4
    torch.testing.assert_close(deeper(x), small(x), rtol=0, atol=0)  # new layers begin as identities
    longer = grow_model(small, maxlen=27, residual_xy=False)
    assert longer.temp_embed.shape[1] == 27 and not longer.cfg.residual_xy
    torch.testing.assert_close(longer.temp_embed[:, 0], small.temp_embed[:, 0])  # ends kept, middle resampled
    torch.testing.assert_close(longer.temp_embed[:, -1], small.temp_embed[:, -1])
    with pytest.raises(UserError, match="shrink"):
        grow_model(small, maxlen=5)


def test_detector_joint_definitions():
    rng = np.random.default_rng(0)
    j = rng.normal(size=(5, 17, 3)).astype(np.float32)
    d = to_detector_joints(j)
    np.testing.assert_allclose(d[:, 0], (j[:, 1] + j[:, 4]) / 2, atol=1e-6)   # pelvis = mid hips
    np.testing.assert_allclose(d[:, 8], (j[:, 11] + j[:, 14]) / 2, atol=1e-6)  # thorax = mid shoulders
    np.testing.assert_allclose(d[:, 7], (d[:, 0] + d[:, 8]) / 2, atol=1e-6)
    np.testing.assert_array_equal(to_detector_joints(d), d)  # already detector-like: unchanged
    keep = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    np.testing.assert_array_equal(d[:, keep], j[:, keep])


def test_detector_noise_matches_what_it_was_measured_at():
    """Median error ~2% of the person's size, a heavy tail, slow drift, and short left/right swaps."""
    aug = AugmentConfig(drift_px=0.015, burst_p=0.006, swap_p=0.003)
    rng = np.random.default_rng(1)
    t = np.linspace(0, 2 * np.pi, 81)
    uv = np.zeros((81, 17, 2))
    uv[..., 0] = 500 + 100 * np.sin(t)[:, None] + np.linspace(-100, 100, 17)  # joints spread across 200 px
    uv[..., 1] = 300 + np.linspace(0, 400, 17)                                 # a 400 px tall person
    errs, lag1, swapped = [], [], 0
    for _ in range(200):
        noisy, conf = detector_noise(uv, rng, aug)
        e = noisy - uv
        errs.append(np.linalg.norm(e, axis=-1) / 400)
        body = e[:, [0, 1, 4], 0]  # pelvis and hips drift
        lag1.append(np.corrcoef(body[:-1].ravel(), body[1:].ravel())[0, 1])
        # the right hip labelled where the left one is (the two are 84 px apart here)
        swapped += (np.linalg.norm(noisy[:, 1] - uv[:, 4], axis=-1) < np.linalg.norm(noisy[:, 1] - uv[:, 1], axis=-1)).sum()
        assert conf.shape == (81, 17, 1) and (conf > 0).all() and (conf <= 1).all()
    errs = np.concatenate(errs)
    assert 0.012 < np.median(errs) < 0.03 and (errs > 0.05).mean() > 0.02
    assert np.median(lag1) > 0.6 and 0 < swapped < 0.05 * 200 * 81
    off = detector_noise(uv, np.random.default_rng(2), AugmentConfig())  # the old model: jitter only
    assert np.median(np.linalg.norm(off[0] - uv, axis=-1) / 400) < 0.01


def test_training_pairs_have_the_inference_layout():
    rng = np.random.default_rng(3)
    walk = np.zeros((40, 17, 3))
    walk[:, :, 1] = np.linspace(1.7, 0.0, 17)  # a standing figure, Y up
    walk[:, :, 0] = np.where(np.isin(np.arange(17), H36M_FLIP_PERM[:7]), 0.1, -0.1)
    walk[:, :, 2] = np.linspace(0, 2, 40)[:, None]
    aug = AugmentConfig(drift_px=0.015, burst_p=0.006, swap_p=0.003, mask_joint_p=0.0, mask_frame_p=0.0)
    x, y = make_pair(walk, rng, aug)
    assert x.shape == y.shape == (40, 17, 3) and x.dtype == y.dtype == np.float32
    assert np.abs(x[..., :2]).max() <= 1.0 and (x[..., 2] > 0).all()  # normalised 2D + confidence
    assert np.abs(x[..., :2] - y[..., :2]).mean() < 0.1  # the noisy 2D sits on the target's x, y


def test_detector_errors_reach_only_their_share_of_clips():
    """detector_error_p: the share of clips with drift, bursts and swaps; the others keep plain jitter."""
    rng = np.random.default_rng(0)
    T = 40
    uv = np.zeros((T, 17, 2))
    uv[:, :, 0] = np.arange(17) * 10.0  # every joint at its own place: a left/right swap moves them
    uv[:, :, 1] = 100.0

    def swapped_share(p):
        aug = AugmentConfig(noise_px=0.0, outlier_p=0.0, swap_p=0.5, detector_error_p=p)
        hit = [np.abs(detector_noise(uv, rng, aug)[0] - uv).max() > 1.0 for _ in range(200)]
        return np.mean(hit)

    assert swapped_share(1.0) == 1.0
    assert swapped_share(0.0) == 0.0
    assert 0.35 < swapped_share(0.5) < 0.65


def test_masked_targets_leave_joints_out_of_every_loss_term():
    """A NaN target (a joint the clip does not define the Human3.6M way) counts as if the joint were absent,
    and sends no gradient to the prediction."""
    g = torch.Generator().manual_seed(0)
    pred, gt = torch.randn(2, 5, 17, 3, generator=g), torch.randn(2, 5, 17, 3, generator=g)
    masked = gt.clone()
    masked[:, :, 9] = float("nan")
    keep = [j for j in range(17) if j != 9]
    a, b = loss_terms(pred, masked), loss_terms(pred[:, :, keep], gt[:, :, keep])
    for k in ("mpjpe", "mse", "n_mpjpe", "velocity"):
        assert abs(float(a[k]) - float(b[k])) < 1e-5, k
    pred.requires_grad_(True)
    sum(loss_terms(pred, masked).values()).backward()
    assert torch.isfinite(pred.grad).all() and float(pred.grad[:, :, 9].abs().max()) == 0.0


def _standing(T=4):
    """A Human3.6M-skeleton body standing at the origin, facing +z (Y up): [T, 17, 3] metres."""
    j = np.array([[0, .93, 0], [-.13, .94, 0], [-.10, .50, -.03], [-.08, .05, -.09], [.13, .92, 0],
                  [.10, .48, -.02], [.08, .03, -.09], [-.01, 1.16, -.03], [0, 1.42, -.03], [-.03, 1.52, .02],
                  [-.03, 1.60, -.06], [.13, 1.34, -.02], [.19, 1.07, -.03], [.23, .83, .01], [-.13, 1.35, -.05],
                  [-.20, 1.08, -.08], [-.23, .83, -.03]], float)
    return np.repeat(j[None], T, 0)


def test_detector_view_moves_the_joints_where_coco_keypoints_lie():
    """Hips nearer the midline, lower and forward; shoulders up; mid-shoulders below the neck base; eyes below
    Human3.6M's head top and in front of the neck; knees, elbows, wrists untouched; Bandai-style clips keep
    their face points."""
    from motionbert_cli.synth import detector_view
    j = _standing()
    d = detector_view(j, "h36m")
    assert d[0, 4, 0] < j[0, 4, 0] and d[0, 1, 0] > j[0, 1, 0]            # hips inwards (left is +x)
    assert (d[0, [1, 4], 1] < j[0, [1, 4], 1]).all() and (d[0, [1, 4], 2] > 0.01).all()
    assert (d[0, [11, 14], 1] > j[0, [11, 14], 1]).all()
    assert d[0, 8, 1] < j[0, 8, 1] - 0.04                                   # thorax = mid-shoulders
    assert j[0, 8, 1] + 0.1 < d[0, 10, 1] < j[0, 10, 1] and d[0, 10, 2] > j[0, 8, 2]
    np.testing.assert_allclose(d[:, [2, 5, 12, 13, 15, 16]], j[:, [2, 5, 12, 13, 15, 16]])
    np.testing.assert_allclose(d[:, 0], (d[:, 1] + d[:, 4]) / 2)
    b = to_detector_joints(j)
    np.testing.assert_allclose(detector_view(b, "detector")[:, 9:11], b[:, 9:11])


def test_h36m_targets_pairs_keep_mocap_joints_and_mask_what_a_clip_lacks():
    """With h36m_targets the 2D is the detector's view while the target stays the mocap body: the target's
    knee and the 2D knee agree (no offset there), the hips do not; a detector-defined clip's thorax, nose and
    head targets are NaN."""
    from motionbert_cli.synth import AugmentConfig, make_pair
    rng = np.random.default_rng(0)
    aug = AugmentConfig(h36m_targets=True, noise_px=0.0, outlier_p=0.0, mask_joint_p=0.0, mask_frame_p=0.0,
                        bone_scale=0.0, flip_p=0.0)
    x, y = make_pair(_standing(8), rng, aug, definitions="h36m")
    assert np.isfinite(y).all()
    np.testing.assert_allclose(x[:, 2, :2], y[:, 2, :2], atol=1e-5)
    assert np.abs(x[:, 1, :2] - y[:, 1, :2]).max() > 1e-3
    _, yd = make_pair(to_detector_joints(_standing(8)), rng, aug, definitions="detector")
    assert np.isnan(yd[:, [7, 8, 9, 10]]).all() and np.isfinite(np.delete(yd, [7, 8, 9, 10], 1)).all()


def test_studio_cameras_see_the_placed_clip_from_their_height():
    """Human3.6M's training-subject cameras read in our Y-up world: a body placed in the studio projects into
    the 1000x1000 frame, upright, seen from above the pelvis."""
    from conftest import SHARED, need
    from motionbert_cli.mocap import load_h36m_cameras
    from motionbert_cli.synth import place_in_studio, project
    cams = load_h36m_cameras(need(SHARED / "data/eval/h36m_sample/cameras.pkl"))
    assert len(cams) == 20 and all(1.4 < c.centre[1] < 1.7 for c in cams)
    rng = np.random.default_rng(0)
    for cam in cams:
        j = place_in_studio(_standing(), rng, 1.5)
        uv, _ = project(j, rng, AugmentConfig(), camera=cam)
        assert (uv > 0).all() and (uv < 1000).all()
        assert (uv[:, 10, 1] < uv[:, 0, 1]).all() and (uv[:, 0, 1] < uv[:, 3, 1]).all()
        assert cam.R[1, 2] < 0  # the optical axis points down
    cfg = TrainConfig.from_file(CONFIGS / "stage13_h36m.json")
    assert cfg.augment.h36m_targets and cfg.augment.studio_camera_p > 0 and cfg.grow == {"depth": 6}
