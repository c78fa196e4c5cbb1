"""Smoothing filters on signals with known spectra, and gaps kept as gaps."""
import numpy as np
import pytest

from motionbert_cli.filters import butterworth, one_euro, smooth

FPS = 60.0
t = np.arange(600) / FPS


def amplitude(x, hz):
    """Amplitude of the `hz` component of x (a whole number of periods long)."""
    return 2 * np.abs(np.exp(-2j * np.pi * hz * t[: len(x)]) @ x) / len(x)


def test_butterworth_keeps_motion_removes_jitter_without_lag():
    slow, fast = np.sin(2 * np.pi * 1.0 * t), 0.3 * np.sin(2 * np.pi * 15.0 * t)
    y = butterworth(slow + fast, FPS, cutoff=6.0)
    assert amplitude(y, 1.0) == pytest.approx(1.0, abs=0.02)     # 1 Hz motion kept
    assert amplitude(y, 15.0) < 0.01 * 0.3 * 10                  # 15 Hz jitter down by > 90%
    mid = slice(60, -60)
    assert np.abs(y[mid] - slow[mid]).max() < 0.03               # zero phase: no lag
    yc = butterworth(slow, FPS, cutoff=6.0, causal=True)
    lag = np.argmax(np.correlate(yc[mid], slow[mid], "full")) - (len(slow[mid]) - 1)
    assert lag > 0                                               # causal: follows, later


def test_filters_never_smooth_across_a_gap():
    x = np.concatenate([np.zeros(100), np.full(20, np.nan), np.ones(100)])[:, None, None] * np.ones((1, 17, 3))
    for method in ("butterworth", "one-euro"):
        for causal in (False, True):
            y = smooth(x, method, FPS, causal=causal)
            assert np.isnan(y[100:120]).all()
            np.testing.assert_allclose(y[:100], 0, atol=1e-9)    # each side on its own: no step to blur
            np.testing.assert_allclose(y[120:], 1, atol=1e-9)
    short = np.array([1.0, 2.0, np.nan, 3.0])  # runs too short for zero-phase padding still come back finite
    assert np.isfinite(butterworth(short, FPS)[[0, 1, 3]]).all()


def test_one_euro_holds_still_and_follows_fast_motion():
    rng = np.random.default_rng(0)
    still = 100 + rng.normal(0, 2.0, size=t.shape)
    y = one_euro(still, FPS, min_cutoff=1.0, beta=5.0, scale=400.0)
    assert np.std(y[60:]) < 0.3 * np.std(still[60:])             # jitter of a still joint mostly removed
    ramp = 400 * t                                               # one height per second
    yr = one_euro(ramp, FPS, min_cutoff=1.0, beta=5.0, scale=400.0, causal=True)
    lag_frames = np.mean(ramp[60:] - yr[60:]) / (400 / FPS)
    assert lag_frames < 4                                        # speed raises the cutoff: little lag
    yz = one_euro(ramp, FPS, min_cutoff=1.0, beta=5.0, scale=400.0)
    assert np.abs(yz[60:-60] - ramp[60:-60]).max() < 2.0          # forward-backward: lag cancels


def test_none_is_identity_and_unknown_is_refused():
    x = np.random.default_rng(1).normal(size=(10, 17, 3))
    np.testing.assert_array_equal(smooth(x, "none", FPS), x)
    with pytest.raises(ValueError):
        smooth(x, "kalman", FPS)


def test_streaming_one_euro_equals_the_causal_filter():
    """Live mode's per-sample filter gives what the causal array filter gives, and restarts after a gap."""
    from motionbert_cli.filters import OneEuroStream, one_euro

    x = np.cumsum(np.random.default_rng(0).normal(size=(120, 17, 3)), 0)
    f = OneEuroStream(30.0, min_cutoff=1.0, beta=5.0, scale=10.0)
    got = np.stack([f(x[t], t) for t in range(120)])
    np.testing.assert_allclose(got, one_euro(x, 30.0, 1.0, 5.0, scale=10.0, causal=True), atol=1e-9)
    # a long gap (dropped frames > 0.5 s): the next sample starts afresh instead of being pulled back
    np.testing.assert_array_equal(f(x[0] + 100, 140), x[0] + 100)
    # a short gap: filtered with the real time step (between the last output and the new sample)
    g = OneEuroStream(30.0)
    g(np.zeros(3), 0)
    y = g(np.ones(3), 3)
    assert 0 < y[0] < 1
