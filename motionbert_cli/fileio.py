"""Files that appear whole or not at all: every writer goes through a temporary name beside the target and a
rename, so an error (or Ctrl-C) never leaves a half-written result where a finished one is expected."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError


def temp_beside(path: Path, suffix: str) -> Path:
    """Create an empty temporary file next to `path` (same folder, so the final rename is atomic)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=suffix, dir=path.parent)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are for sharing
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path` (same suffix); it replaces `path` only if the block succeeds."""
    path = Path(path)
    tmp = temp_beside(path, ".tmp" + path.suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_value(v):
    """Plain JSON values from numpy arrays and scalars (dicts and lists converted recursively); NaN and
    infinities (a person not in view) become null, since bare NaN is not JSON: JavaScript's JSON.parse and
    other strict parsers reject it. Floats are rounded to 5 decimals."""
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    if isinstance(v, (np.ndarray, np.generic)):
        a = np.asarray(v)
        if np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float64)
            return np.where(np.isfinite(a), np.round(a, 5), None).tolist()
        return a.tolist()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def write_json_atomic(path, obj, indent: int | None = 1) -> None:
    """JSON that any strict parser reads (allow_nan=False after json_value), written atomically."""
    seps = (",", ":") if indent is None else None
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(json_value(obj), f, indent=indent, separators=seps, allow_nan=False)
