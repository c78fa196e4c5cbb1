"""Progress on long work: one Rich bar per stage (frames/s or windows/s, elapsed, remaining) and the wall time
of every stage for the command's closing summary."""
from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .stop import raise_if_terminated


class Stages:
    """Rich progress bars with frames/s, one per stage, and wall time per stage for the summary."""

    def __init__(self, console):
        self.progress = Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console)
        self.timing: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # e.g. frames_detected, for the timing files

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *a):
        return self.progress.__exit__(*a)

    def stage(self, name: str, total: int | None, unit: str = "frames"):
        task = self.progress.add_task(name, total=total, rate="")
        t0 = time.perf_counter()
        done = [0]

        def advance(n: int = 1):
            raise_if_terminated()
            done[0] += n
            dt = time.perf_counter() - t0
            self.progress.update(task, advance=n, rate=f"{done[0] / max(dt, 1e-9):.1f} {unit}/s")
            self.timing[name] = dt

        def finish():
            self.timing[name] = time.perf_counter() - t0
            self.progress.update(task, total=done[0] or total, completed=done[0] or total)

        return advance, finish
