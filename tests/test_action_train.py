"""`motionbert train action` on real folders of examples, its checkpoint used by `motionbert action`, and its
one-line errors."""
import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from motionbert_cli import load_model
from motionbert_cli.action import class_names, classify
from motionbert_cli.action_train import ActionTrainConfig, Example, predict, validation_inputs
from motionbert_cli.mocap import Motion
from test_bvh import REST
from test_cli_pose3d import one_line_error

pytestmark = pytest.mark.slow  # each test trains through the CLI in a subprocess


def arm_motion(kind: str, T: int, rate: float, phase: float) -> np.ndarray:
    """[T, 17, 3] Y-up metres: a person standing and 'wave' (a forearm swinging overhead) or 'squat'
    (pelvis and knees going down and up)."""
    out = np.empty((T, 17, 3))
    for t in range(T):
        j = REST.copy()
        s = np.sin(2 * np.pi * rate * t / 30 + phase)
        if kind == "wave":
            j[12] = j[11] + [0.05, 0.25, 0.0]        # upper arm raised
            j[13] = j[12] + [0.2 * s, 0.2, 0.0]      # forearm swinging side to side
        else:
            d = 0.25 * (1 + s) / 2
            j[[0, 1, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]] -= [0, d, 0]
            j[[2, 5]] += [0, -d / 2, 0.15 * d / 0.25]
        out[t] = j
    return out


def write_class(folder, kind, n, rng):
    folder.mkdir(parents=True)
    for i in range(n):
        j = arm_motion(kind, int(rng.integers(60, 120)), rng.uniform(0.5, 1.5), rng.uniform(0, 6))
        np.savez(folder / f"{kind}_{i}.npz", joints3d=j.astype(np.float32), fps=np.float32(30))


def test_train_action_on_3d_examples_and_use_the_checkpoint(tmp_path):
    """Two classes of 3D examples -> a checkpoint that carries its classes and tells fresh examples apart."""
    rng = np.random.default_rng(0)
    for kind in ("wave", "squat"):
        write_class(tmp_path / "data" / kind, kind, 4, rng)
    res = run_cli("--threads", "1", "train", "action", "--data", tmp_path / "data", "--out", tmp_path / "out",
                  "--views", "40", "--steps", "300", "--val-split", "0.25")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "validation accuracy" in res.stdout and "confusion" in res.stdout
    rep = json.loads((tmp_path / "out/report.json").read_text())
    assert rep["classes"] == ["squat", "wave"] and rep["train_files"] == 6 and rep["val_files"] == 2
    model = load_model(tmp_path / "out/action.bin")
    assert model.task == "action" and model.meta["classes"] == ["squat", "wave"]
    assert model.head.standardize and not torch.all(model.head.feat_std == 1)  # scaled by the training views
    assert class_names(model.head_cfg.num_classes, None, model.meta["classes"]) == ["squat", "wave"]
    # fresh examples, 8 per class, each through its own random camera
    exs = [Example(label=c, path=None, motion=Motion(arm_motion(k, 90, rng.uniform(0.5, 1.5), rng.uniform(0, 6)), 30.0, k))
           for c, k in enumerate(("squat", "wave")) for _ in range(8)]
    x = validation_inputs(exs, model.cfg.maxlen, ActionTrainConfig())
    pred = predict(model, x)
    # the CLI's path (ActionNet.forward on one clip's windows) gives the same answer
    assert [int(classify(model, xi[None]).argmax()) for xi in x] == pred.tolist()
    assert (pred == [e.label for e in exs]).mean() >= 0.9, pred


def test_action_cli_with_a_trained_checkpoint(tmp_path):
    """`motionbert action -c` on a keypoint file, with a model from `train action`: its class names."""
    rng = np.random.default_rng(1)
    for kind in ("wave", "squat"):
        write_class(tmp_path / "data" / kind, kind, 3, rng)
    assert run_cli("--threads", "1", "train", "action", "--data", tmp_path / "data", "--out", tmp_path / "out",
                   "--views", "30", "--steps", "300", "--val-split", "0").returncode == 0
    # a 2D keypoint file of a squat (H36M order, with names), as pose3d writes them
    cfg = ActionTrainConfig()
    ex = Example(0, None, motion=Motion(arm_motion("squat", 90, 1.0, 0.0), 30.0, "squat"))
    from motionbert_cli.action_train import _virtual_view
    from motionbert_cli.keypoints import H36M_JOINTS
    kp = _virtual_view(ex.motion.joints, np.random.default_rng(5), cfg.view)
    np.savez(tmp_path / "squat_kp.npz", keypoints2d=kp[None].astype(np.float32), joint_names=np.asarray(H36M_JOINTS),
             fps=np.float32(30), frame_size=np.asarray([1000, 1000]))
    out = tmp_path / "scores.json"
    res = run_cli("action", tmp_path / "squat_kp.npz", "-c", tmp_path / "out/action.bin", "--json", out)
    assert res.returncode == 0, res.stderr[-2000:]
    d = json.loads(out.read_text())
    assert d["prediction"] == "squat" and {t["label"] for t in d["top_k"]} == {"squat", "wave"}
    assert "A001" not in res.stdout  # NTU numbering only for NTU models


def test_bad_training_folders(tmp_path):
    (tmp_path / "one" / "walk").mkdir(parents=True)
    np.savez(tmp_path / "one/walk/a.npz", joints3d=np.zeros((10, 17, 3), np.float32), fps=30)
    one_line_error(run_cli("train", "action", "--data", tmp_path / "one", "--out", tmp_path / "o"),
                   "1 class folder", "at least two")
    (tmp_path / "one" / "run").mkdir()
    one_line_error(run_cli("train", "action", "--data", tmp_path / "one", "--out", tmp_path / "o"),
                   "holds no examples", "run")
    one_line_error(run_cli("train", "action", "--data", tmp_path / "missing", "--out", tmp_path / "o"),
                   "not found")
    assert not (tmp_path / "o").exists()


def test_no_person_in_a_video_example(tmp_path):
    """A video example where nobody is seen: a one-line error naming the file."""
    import cv2
    for c in ("a", "b"):
        (tmp_path / "d" / c).mkdir(parents=True)
        np.savez(tmp_path / f"d/{c}/m.npz", joints3d=arm_motion("wave", 40, 1, 0).astype(np.float32), fps=30)
    vid = tmp_path / "d/a/empty.mp4"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for _ in range(10):
        w.write(np.full((240, 320, 3), 90, np.uint8))
    w.release()
    one_line_error(run_cli("train", "action", "--data", tmp_path / "d", "--out", tmp_path / "o"),
                   "empty.mp4", "no person")
    assert not (tmp_path / "o").exists()


def test_finetune_backbone_uses_its_own_learning_rate(tmp_path):
    """--finetune-backbone trains the backbone at --lr-backbone (0: it stays the shipped lifter's, while the
    head still learns)."""
    from motionbert_cli.checkpoint import default_checkpoint

    rng = np.random.default_rng(2)
    for kind in ("wave", "squat"):
        write_class(tmp_path / "data" / kind, kind, 2, rng)
    start = load_model(default_checkpoint()).state_dict()
    moved = {}
    for lr_bb in ("0", "1e-3"):
        out = tmp_path / f"out{lr_bb}"
        res = run_cli("--threads", "1", "train", "action", "--data", tmp_path / "data", "--out", out, "--views", "6",
                      "--epochs", "1", "--val-split", "0", "--finetune-backbone", "--lr-backbone", lr_bb)
        assert res.returncode == 0, res.stderr[-3000:]
        bb = load_model(out / "action.bin").backbone.state_dict()
        moved[lr_bb] = max(float((bb[k].float() - start[k].float()).abs().max()) for k in bb
                           if k in start and bb[k].is_floating_point() and "running" not in k)
    assert moved["0"] == 0.0 and moved["1e-3"] > 1e-4, moved


def test_init_from_an_action_checkpoint_of_the_same_classes_keeps_its_head(tmp_path):
    """Head first, then --finetune-backbone from it: --init with an action checkpoint of the same classes
    continues its head (at learning rates 0 the model comes back unchanged), another class list gets a fresh
    head on that backbone."""
    rng = np.random.default_rng(3)
    for kind in ("wave", "squat"):
        write_class(tmp_path / "data" / kind, kind, 2, rng)
    first = tmp_path / "head"
    assert run_cli("--threads", "1", "train", "action", "--data", tmp_path / "data", "--out", first, "--views", "6",
                   "--steps", "20", "--val-split", "0").returncode == 0
    res = run_cli("--threads", "1", "train", "action", "--data", tmp_path / "data", "--out", tmp_path / "ft",
                  "--init", first / "action.bin", "--finetune-backbone", "--epochs", "1", "--views", "4",
                  "--lr", "0", "--lr-backbone", "0", "--val-split", "0")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "head and its feature scaling from --init" in res.stdout + res.stderr
    a, b = load_model(first / "action.bin").state_dict(), load_model(tmp_path / "ft/action.bin").state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a if "running" not in k and "num_batches" not in k)
    (tmp_path / "data" / "squat").rename(tmp_path / "data" / "crouch")
    res = run_cli("--threads", "1", "train", "action", "--data", tmp_path / "data", "--out", tmp_path / "new",
                  "--init", first / "action.bin", "--steps", "5", "--views", "4", "--val-split", "0")
    assert res.returncode == 0 and "from --init" not in res.stdout + res.stderr
