"""Shared test fixtures. Data comes from ../shared (see its README); tests that need it skip, saying why,
when it is absent (a user's fresh clone)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MOTIONBERT_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "official_small"
VIDEOS = SHARED / "data" / "videos"


def need(path: Path) -> Path:
    """Skip the calling test with a visible reason when a shared file is missing."""
    if not path.exists():
        pytest.skip(f"needs {path} (the ../shared data folder is not present)")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    return need(FIXTURES)


def run_cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the real `motionbert` command in a subprocess (as a user would)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "motionbert_cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)
