"""Smoothing joint trajectories over time, never across gaps where a person was not seen.

All filters take x [T, ...] (time first; any trailing shape, e.g. [T, 17, 3]) with NaN where a person is not
seen, and return the same shape. Each run of frames where a value is finite is filtered on its own, so a
person who leaves and comes back is not smeared across the gap.

- Butterworth low-pass (4th order): zero-phase (forward and backward: no lag) for files, causal (forward
  only: lags, but uses no future frames) for live input. Biomechanics' default for marker data, 6 Hz.
- One-euro (Casiez et al., CHI 2012): an adaptive low-pass whose cutoff rises with speed, so slow motion is
  smoothed hard and fast motion follows with little lag; causal by nature. Offline it runs forward and
  backward and averages the two, which cancels most of its lag.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, filtfilt, lfilter, lfilter_zi

METHODS = ("none", "butterworth", "one-euro")


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _per_run(x: np.ndarray, fn) -> np.ndarray:
    """Apply fn([n, C] finite) to every finite run of every column of x [T, ...]."""
    x = np.asarray(x, np.float64)
    flat = x.reshape(len(x), -1)
    out = flat.copy()
    ok = np.isfinite(flat)
    # columns that are seen in the same frames (all joints of a person, usually) are filtered together
    patterns: dict[bytes, list[int]] = {}
    for c in range(flat.shape[1]):
        patterns.setdefault(ok[:, c].tobytes(), []).append(c)
    for cols in patterns.values():
        for s, e in _runs(ok[:, cols[0]]):
            out[s:e, cols] = fn(flat[s:e, cols])
    return out.reshape(x.shape)


def butterworth(x: np.ndarray, fps: float, cutoff: float = 6.0, order: int = 4, causal: bool = False) -> np.ndarray:
    """Butterworth low-pass at `cutoff` Hz. Runs too short for the zero-phase filter's padding fall back to
    the causal filter started at their first value."""
    nyquist = fps / 2
    if cutoff >= nyquist:
        return np.array(x, np.float64, copy=True)
    b, a = butter(order, cutoff / nyquist)
    pad = 3 * max(len(a), len(b))

    def run(v):
        if causal or len(v) <= pad:
            zi = lfilter_zi(b, a)[:, None] * v[:1]
            return lfilter(b, a, v, axis=0, zi=zi)[0]
        return filtfilt(b, a, v, axis=0)

    return _per_run(x, run)


def _one_euro_pass(v: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float,
                   scale: float) -> np.ndarray:
    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)

    out = np.empty_like(v)
    out[0] = prev = v[0]
    dprev = np.zeros_like(v[0])
    a_d = alpha(d_cutoff)
    for t in range(1, len(v)):
        d = (v[t] - prev) * fps / scale
        dprev = a_d * d + (1 - a_d) * dprev
        a = alpha(min_cutoff + beta * np.abs(dprev))
        prev = a * v[t] + (1 - a) * prev
        out[t] = prev
    return out


def one_euro(x: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 5.0, d_cutoff: float = 1.0,
             scale: float = 1.0, causal: bool = False) -> np.ndarray:
    """One-euro filter: cutoff = min_cutoff + beta * |speed| Hz, speed in `scale`s per second (pass the
    person's height in x's units, so the same beta suits pixels and metres, near and far people)."""
    def run(v):
        fwd = _one_euro_pass(v, fps, min_cutoff, beta, d_cutoff, scale)
        if causal:
            return fwd
        return (fwd + _one_euro_pass(v[::-1], fps, min_cutoff, beta, d_cutoff, scale)[::-1]) / 2

    return _per_run(x, run)


def smooth(x: np.ndarray, method: str, fps: float, causal: bool = False, scale: float = 1.0,
           cutoff: float = 6.0, min_cutoff: float = 1.0, beta: float = 5.0) -> np.ndarray:
    """Dispatch on `method` (one of METHODS): cutoff for butterworth; min_cutoff, beta and scale for one-euro."""
    if method == "none":
        return np.array(x, copy=True)
    if method == "butterworth":
        return butterworth(x, fps, cutoff=cutoff, causal=causal)
    if method == "one-euro":
        return one_euro(x, fps, min_cutoff=min_cutoff, beta=beta, scale=scale, causal=causal)
    raise ValueError(f"smoothing must be one of {METHODS}, got {method!r}")


class OneEuroStream:
    """The causal one-euro filter one sample at a time (live input): `f(x, t)` takes the value x (any
    shape) at frame t and returns it filtered. Frames may be skipped (dropped by a slow machine): the step
    uses the real time since the last sample; after a gap longer than `reset_s` it starts afresh. On
    consecutive frames it equals `one_euro(..., causal=True)`."""

    def __init__(self, fps: float, min_cutoff: float = 1.0, beta: float = 5.0, scale: float = 1.0,
                 d_cutoff: float = 1.0, reset_s: float = 0.5):
        self.fps, self.min_cutoff, self.beta, self.scale, self.d_cutoff = fps, min_cutoff, beta, scale, d_cutoff
        self.reset_frames = max(1, round(reset_s * fps))
        self.prev = self.dprev = None
        self.t = None

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: int) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.prev is None or not np.isfinite(self.prev).all() or t - self.t > self.reset_frames:
            self.prev, self.dprev, self.t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = max(t - self.t, 1) / self.fps
        d = (x - self.prev) / dt / self.scale
        a_d = self._alpha(self.d_cutoff, dt)
        self.dprev = a_d * d + (1 - a_d) * self.dprev
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.dprev), dt)
        self.prev = a * x + (1 - a) * self.prev
        self.t = t
        return self.prev.copy()
