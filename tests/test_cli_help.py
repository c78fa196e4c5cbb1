"""The command line as a new user first meets it: help that reads at 80 columns, -h, --version, and arguments
checked before any work starts."""
import os
import subprocess
import sys

import numpy as np

from conftest import ROOT, VIDEOS, need


def cli(*args, columns=80):
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "motionbert_cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


def test_help_at_80_columns():
    for cmd in (["pose3d"], ["action"], ["mesh"], ["train", "pose3d"], ["eval", "pose3d"]):
        res = cli(*cmd, "-h")
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0].startswith("Usage: motionbert " + " ".join(cmd))
        assert max(map(len, lines)) <= 80 and "<bool>" not in res.stdout
        assert res.stdout == cli(*cmd, "--help").stdout
    assert len(cli("pose3d", "-h").stdout.splitlines()) <= 70


def test_every_train_option_says_what_it_does_and_its_default():
    blocks, cur = {}, None
    for line in cli("train", "pose3d", "-h").stdout.splitlines():
        if line.startswith("  -"):
            cur = line.split()[0]
            blocks[cur] = line
        elif cur and line.startswith("      "):
            blocks[cur] += " " + line.strip()
    for opt, default in (("--epochs", "default: 10,"), ("--steps-per-epoch", "default: 100,"),
                         ("--batch-size", "default: 48,"), ("--lr", "default: 0.0015,"), ("--seed", "default: 0,"),
                         ("--precision", "default: auto,"), ("--device", "default: auto")):
        assert default in blocks[opt], blocks[opt]


def test_version():
    from motionbert_cli import __version__

    res = cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"motionbert-cli {__version__}"


def test_bad_person_is_refused_before_detection(tmp_path):
    res = cli("pose3d", need(VIDEOS / "sports2d_demo.mp4"), "--person", "bob", "-o", tmp_path / "o")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: --person must be a track id (a whole number), 'auto' or 'all', got 'bob'"]
    assert not (tmp_path / "o").exists()


def test_readme_python_api_runs_as_written():
    """The README's Python API snippet, exactly as printed, with the shipped model."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert tuple(scope["y"].shape) == (1, scope["T"], 17, 3)
    assert scope["e"].shape[:3] == (1, scope["T"], 17)
    assert scope["y_long"].shape == (1000, 17, 3) and np.isfinite(scope["y_long"]).all()
