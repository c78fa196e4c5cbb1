"""A plain wheel install works: the wheel carries the shipped weights, and `pose3d` and `action` run from an
install outside the source tree (issue 25: the editable install hid that the weights lived beside the
package, not in it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_wheel_carries_the_weights_and_runs_outside_the_repo(tmp_path):
    wheels = tmp_path / "wheels"
    # --no-build-isolation: build with the setuptools already installed (no index needed)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("motionbert_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("motionbert_cpu_pose3d.bin", "motionbert_cpu_pose3d_w81.bin", "motionbert_cpu_pose3d_h36m.bin",
              "motionbert_cpu_action.bin"):
        assert f"motionbert_cli/weights/{f}" in names, names
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                        str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    work = tmp_path / "elsewhere"  # not the repo: nothing can be found beside the source tree
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}

    def run(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900, env=env,
                              cwd=work)

    where = run("-c", "import motionbert_cli; print(motionbert_cli.__file__)")
    assert where.returncode == 0 and where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    clip = ROOT / "assets" / "lunge_portrait.mp4"
    res = run("-m", "motionbert_cli", "pose3d", str(clip), "-o", str(work / "out"), "--no-render")
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / "out" / "motion.npz").is_file() and (work / "out" / "person_1.bvh").is_file()
    res = run("-m", "motionbert_cli", "action", str(clip), "--json", str(work / "action.json"))
    assert res.returncode == 0, res.stderr[-3000:]
    scores = json.loads((work / "action.json").read_text())
    assert scores["checkpoint"].startswith(str(site)) and scores["top_k"][0]["label"], scores
