"""SIGTERM handled like Ctrl-C, and never lost.

The handler raises `Terminated` (a KeyboardInterrupt, so every command unwinds the same way: staging folders
removed, live's files completed) and remembers that it fired. Native code can run Python inside a C++ call
(OpenVINO, torch) and swallow an exception raised there; `raise_if_terminated`, called at every progress step
and live frame, raises it again so the run still stops at the next frame instead of finishing and writing.
"""
from __future__ import annotations

import signal

_fired = False


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM. A subclass, not KeyboardInterrupt itself: CPython ends a process by
    SIGINT (status -2) when it records a bare KeyboardInterrupt as unhandled, a check that only matches the
    exact type; our best explanation of the -2 exits seen (not proven), which would hide exit status 130."""


def _on_sigterm(signum, frame):
    global _fired
    _fired = True
    raise Terminated


def install() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)


def terminated() -> bool:
    return _fired


def raise_if_terminated() -> None:
    if _fired:
        raise Terminated
