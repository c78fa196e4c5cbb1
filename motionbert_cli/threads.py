"""How many CPU threads torch uses, decided once for the process (`motionbert --threads N`, default all cores).

Ultralytics lowers torch's thread count for the whole process when it builds a predictor (to cores - 1, so 1
on a 2-core machine) and sets OMP_NUM_THREADS=1 when unset; the detector and the stage boundaries put it back
to this number (measured: YOLO and the DSTformer both 1.7-1.9x faster, ../shared/NOTES.md). Torch-free, so
`motionbert --help` stays instant.
"""
from __future__ import annotations

import os

ENV = "MOTIONBERT_THREADS"


def cpu_threads() -> int:
    """The configured thread count: MOTIONBERT_THREADS (set by --threads), else every core."""
    try:
        return max(1, int(os.environ.get(ENV) or 0) or os.cpu_count() or 1)
    except ValueError:
        return max(1, os.cpu_count() or 1)


def use_cpu_threads() -> None:
    """Set torch to the configured count (after anything that may have lowered it)."""
    import torch

    torch.set_num_threads(cpu_threads())
