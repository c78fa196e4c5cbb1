"""A tiny model trains on the shared mocap for a few steps: the loss falls and evaluation runs."""
import json

import numpy as np
import pytest

from conftest import SHARED, need
from motionbert_cli import load_model
from motionbert_cli.evaluate import evaluate_videopose3d
from motionbert_cli.train import TrainConfig, cpu_lifter_config, train_pose3d


@pytest.mark.slow  # trains (issue 11: training and subprocess tests stay out of the fast suite)
def test_train_tiny_model_and_evaluate(tmp_path):
    mocap = need(SHARED / "data/mocap")
    he = need(SHARED / "data/eval/humaneva/data_3d_humaneva15.npz")
    cfg = TrainConfig(model=cpu_lifter_config(dim_feat=32, dim_rep=32, depth=1, num_heads=4), epochs=3,
                      steps_per_epoch=25, batch_size=8, lr=2e-3, warmup_steps=5, precision="fp32", seed=1)
    logs = []
    best = train_pose3d([str(mocap), str(he)], tmp_path, cfg, device="cpu", log=logs.append)
    hist = [json.loads(l) for l in logs if l.startswith("{")]
    assert len(hist) == 3
    assert hist[-1]["loss"] < 0.8 * hist[0]["loss"], hist
    model = load_model(best)
    assert model.cfg.num_heads == 4 and model.meta["history"]
    assert model.cfg.box_ratio == pytest.approx(np.mean(cfg.augment.box_ratio))  # as it was trained
    res = evaluate_videopose3d(model, he, he.with_name("data_2d_humaneva15_gt.npz"), subjects=["Validate/S1"],
                               actions=["Walking"], cameras=[0], flip=False)
    o = res["overall"]
    assert o["frames"] > 100 and np.isfinite([o["mpjpe"], o["n_mpjpe"], o["p_mpjpe"]]).all()
    assert o["p_mpjpe"] <= o["n_mpjpe"] + 1e-6  # Procrustes can only help
    # resume continues from the saved state
    cfg.epochs = 4
    train_pose3d([str(mocap), str(he)], tmp_path, cfg, device="cpu", resume=True, log=logs.append)
    assert json.loads([l for l in logs if l.startswith("{")][-1])["epoch"] == 4


@pytest.mark.slow  # starts torchrun processes
def test_distributed_training_with_torchrun(tmp_path):
    """The same command under torchrun trains with DDP (2 CPU processes, gloo)."""
    import os
    import subprocess
    import sys

    mocap = need(SHARED / "data/mocap/cmu")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({"dim_feat": 16, "dim_rep": 16, "depth": 1, "num_heads": 2, "maxlen": 9,
                               "epochs": 2, "steps_per_epoch": 3, "batch_size": 4, "precision": "fp32"}))
    out = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m",
                          "motionbert_cli", "train", "pose3d", "--data", str(mocap), "--config", str(cfg),
                          "--out", str(out)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    hist = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2]  # one log line per epoch: only rank 0 writes
    assert load_model(out / "last.bin").cfg.dim_feat == 16
