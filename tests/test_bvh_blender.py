"""Our BVH opened by Blender's own importer (Blender 3.4 from Debian: `apt-get install blender`): an animated
armature, upright, whose bones sit where our reader puts the joints. Skips when Blender is not installed."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from motionbert_cli.bvh import write_bvh
from motionbert_cli.mocap import read_bvh_positions
from test_bvh import walking

BLENDER = shutil.which("blender")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BLENDER is None, reason="Blender is not installed (apt-get install blender)")]


def test_blender_imports_the_animation(tmp_path):
    cam = walking()
    write_bvh(tmp_path / "p.bvh", cam, 30.0)
    res = subprocess.run([BLENDER, "-b", "--factory-startup", "--python",
                          str(Path(__file__).parent / "blender" / "import_bvh.py"), "--",
                          str(tmp_path / "p.bvh"), str(tmp_path / "out.json")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and (tmp_path / "out.json").exists(), res.stdout[-2000:] + res.stderr[-2000:]
    got = json.loads((tmp_path / "out.json").read_text())
    assert got["fps"] == pytest.approx(30.0, rel=1e-5)
    ours, _ = read_bvh_positions(tmp_path / "p.bvh")
    T = len(cam)
    for name in ("Hips", "RightLeg", "RightFoot", "LeftArm", "LeftForeArm", "LeftHand", "Head"):
        heads = np.array(got["heads"][name])[:T]  # Blender's frame 1 is the file's frame 0
        # Blender is Z up, -Y forward: (x, y, z) = our (x, -z, y)
        np.testing.assert_allclose(heads, ours[name][:, [0, 2, 1]] * [1, -1, 1], atol=1e-3, err_msg=name)
    hips, head = np.array(got["heads"]["Hips"])[:T], np.array(got["heads"]["Head"])[:T]
    assert (head[:, 2] > hips[:, 2] + 0.5).all()  # upright in Blender's Z-up world
    assert hips[-1, 1] < hips[0, 1] - 1.0  # walks towards the viewer (Blender's -Y: front view)
