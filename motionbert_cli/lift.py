"""2D -> 3D lifting of sequences of any length with overlapping, blended windows.

A sequence longer than the model's window (its maxlen, 243 for official models) is cut into windows that
overlap by at least a third; each frame's 3D is the weighted mean of the windows that contain it, with
weights that fall towards window edges (where the network sees the least context), so there are no seams.
Flip test-time augmentation averages the prediction with the mirrored prediction of the mirrored input.
A `LifterEnsemble` (the default lifter of `pose3d`) lifts with each member in turn, each with its own window,
and averages their outputs.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .keypoints import apply_crop, crop_box, flip_h36m


def window_starts(T: int, window: int, stride: int) -> list[int]:
    """Start frames covering [0, T) with windows of `window` frames; the last one ends at T."""
    if T <= window:
        return [0]
    starts = list(range(0, T - window, stride))
    starts.append(T - window)
    return starts


def default_stride(window: int) -> int:
    """Windows overlap by at least a third."""
    return max(1, (2 * window) // 3)


def count_windows(T: int, window: int) -> int:
    """How many windows lift_sequence runs over T frames with its default stride (for progress bars)."""
    W = min(T, window)
    return len(window_starts(T, W, default_stride(W)))


class LifterEnsemble(torch.nn.Module):
    """Several pose3d lifters over the same 2D, their outputs averaged by `lift_sequence`.

    Each member lifts with its own window length and box, in pixels, before the average, so members with
    different windows (27 and 81 frames in the shipped pair) can be combined; they make different depth
    mistakes on real footage, and the mean is closer to the truth than either (models/README.md).
    members: DSTformers with 3D output (official-format or ours). `cfg` is the first member's (for code that
    needs a single box ratio or window); `source` names every file. Not callable on a batch: lift with
    `lift_sequence`, or use one member."""

    def __init__(self, members: list[torch.nn.Module]):
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self.source = " + ".join(str(getattr(m, "source", "?")) for m in members)

    @property
    def cfg(self):
        return self.members[0].cfg

    def forward(self, x):
        raise TypeError("a LifterEnsemble lifts whole sequences: use lift_sequence, or one of .members")


def members(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The networks a lifter runs: an ensemble's members, or the model itself."""
    return list(model.members) if isinstance(model, LifterEnsemble) else [model]


def output_definitions(model: torch.nn.Module) -> str:
    """What a lifter's output joints are: 'h36m' (Human3.6M's mocap joint centres: official MotionBERT models
    and ours trained with h36m_targets) or 'detector' (the points coco_to_h36m makes of COCO keypoints: our
    earlier lifters). From the checkpoint's meta; for an ensemble see detector_share."""
    meta = getattr(model, "meta", None) or {}
    if "joints" in meta:
        return meta["joints"]
    return "detector" if meta else "h36m"  # ours without the key predate it; official files have no meta


def detector_share(model: torch.nn.Module) -> float:
    """How much of a lifter's output is the detector's points rather than mocap joint centres: 0 or 1 for one
    network; an ensemble averages its members' outputs, so its joints are that fraction of the way from one
    definition to the other (the default pair: 0.5)."""
    m = members(model)
    return sum(output_definitions(x) == "detector" for x in m) / len(m)


def lift_window_count(model: torch.nn.Module, T: int, fps: float | None = None) -> int:
    """Windows lift_sequence runs over T frames (at `fps`), over all members (for progress bars)."""
    k = upsample_factor(fps)
    T = (T - 1) * k + 1 if T > 1 else T
    return sum(count_windows(T, m.cfg.maxlen) for m in members(model))


# Videos slower than this are lifted at LIFT_FPS instead (2D interpolated up, lifted, sampled back): the lifters
# were trained on 20-60 fps motion, and a 10 fps clip seen as if it were 30-50 fps moves 3-5x too fast for them.
# On Human3.6M S9 at 10 fps with its ground-truth 2D: 56.8 -> 49.4 mm P-MPJPE with the same weights (issue 22).
MIN_LIFT_FPS = 25.0
LIFT_FPS = 50.0


def upsample_factor(fps: float | None) -> int:
    """How many lifted frames per video frame: 1 at MIN_LIFT_FPS and above, else about LIFT_FPS / fps."""
    if not fps or fps >= MIN_LIFT_FPS:
        return 1
    return max(2, round(LIFT_FPS / fps))


def interpolate_2d(x: np.ndarray, k: int) -> np.ndarray:
    """[T, 17, 3] pixels + confidence -> [(T - 1) k + 1, 17, 3]: k frames per input frame, linear between
    neighbours; a joint unseen (confidence 0) at either end of an interval stays unseen inside it."""
    T = x.shape[0]
    if k == 1 or T < 2:
        return x
    t = np.arange((T - 1) * k + 1) / k
    i0 = np.minimum(np.floor(t).astype(int), T - 2)
    w = (t - i0)[:, None, None]
    a, b = x[i0], x[i0 + 1]
    out = a * (1 - w) + b * w
    seen = (a[..., 2] > 0) & (b[..., 2] > 0) | (w[..., 0] == 0) & (a[..., 2] > 0)
    out[~seen] = 0.0
    out[-1] = x[-1]
    return out.astype(x.dtype)


def blend_weights(window: int) -> np.ndarray:
    """Per-frame weights of one window: 1 in the middle, falling linearly to a small floor at the edges."""
    ramp = np.minimum(np.arange(window) + 1, np.arange(window, 0, -1)) / (window / 3)
    return np.clip(ramp, 0.05, 1.0).astype(np.float32)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX). Without it bf16 autocast is emulated:
    5-8x slower than fp32 on an AVX2 machine here (shipped lifter and a Lite-sized model, 1 thread)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_context(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision == "fp16":
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    raise ValueError(f"precision must be fp32, bf16 or fp16, got {precision!r}")


def _to_pixels(y: np.ndarray, box) -> np.ndarray:
    """Network 3D in a window's box frame -> pixels (x, y) and pixel-scaled depth (z)."""
    x0, y0, size = box
    out = y * (size / 2)
    out[..., 0] += x0 + size / 2
    out[..., 1] += y0 + size / 2
    return out


@torch.no_grad()
def lift_pixel_windows(model: torch.nn.Module, windows: list[np.ndarray], *, flip: bool = True,
                       precision: str = "fp32", fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       flip_output: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       batch_flip: bool = False) -> list[np.ndarray | None]:
    """The one crop -> network (+ flip) -> un-crop step that lift_sequence (pixels=True) and live share.

    windows: [W_k, 17, 3] pixels + confidence each (lengths may differ). Returns each window's output
    [W_k, 17, C] with x, y in pixels and depth in pixels, or None where too few joints are confident to
    normalise by. Each window is normalised by its own box (crop_box with the model's box_ratio); windows of
    one length go through the network as one batch, in the order given; batch_flip: the mirrored copies in
    the same call (faster for OpenVINO, 49 against 2 x 32 ms for one window; slower for PyTorch, 111 against
    2 x 43, AVX2 EPYC)."""
    fn = fn or model
    flip_output = flip_output or flip_h36m
    device = next(model.parameters()).device
    boxes = [crop_box(w, model.cfg.box_ratio) for w in windows]
    outs: list[np.ndarray | None] = [None] * len(windows)
    by_len: dict[int, list[int]] = {}
    for k, (w, b) in enumerate(zip(windows, boxes)):
        if b is not None:
            by_len.setdefault(len(w), []).append(k)
    for ks in by_len.values():
        inp = torch.stack([torch.from_numpy(apply_crop(windows[k], boxes[k]).astype(np.float32, copy=False))
                           for k in ks])
        inp = inp.to(device)
        with autocast_context(device, precision):
            if flip and batch_flip:
                both = fn(torch.cat([inp, flip_h36m(inp)])).float()
                out = (both[:len(ks)] + flip_output(both[len(ks):])) / 2
            else:
                out = fn(inp).float()
                if flip:
                    out = (out + flip_output(fn(flip_h36m(inp)).float())) / 2
        for k, o in zip(ks, out.cpu().numpy()):
            outs[k] = _to_pixels(o, boxes[k])
    return outs


@torch.no_grad()
def lift_sequence(model: torch.nn.Module, x: np.ndarray, *, flip: bool = True, batch_size: int = 4,
                  precision: str = "fp32", stride: int | None = None, pixels: bool = False,
                  fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  flip_output: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  progress: Callable[[int], None] | None = None, fps: float | None = None) -> np.ndarray:
    """Run `model` over a whole sequence.

    x: [T, 17, 3] normalised 2D + confidence. Returns [T, 17, C] float32 (C = model output channels).
    pixels=True: x is in pixels instead; each window is normalised by its own bounding box (crop_scale over
    the window, enlarged by the model's box_ratio: for official models and clips no longer than one window
    exactly the official demo's normalisation) and its 3D mapped back to pixels before blending, so the
    person fills the network's input however far they walk across a long video. Returns pixel x, y and depth in pixels (3D outputs only).
    fn: what to call per window batch [B, W, 17, 3] -> [B, W, ...] (default: model itself).
    flip_output: how to mirror an output back (default: flip_h36m, right for joint outputs).
    progress: called with the number of windows finished after each batch.
    fps: the sequence's frame rate; below MIN_LIFT_FPS the 2D is interpolated to ~LIFT_FPS, lifted, and
    sampled back at the input's frames (pixels=True only).
    model may be a LifterEnsemble: each member lifts the whole sequence and the outputs are averaged.
    """
    k = upsample_factor(fps) if pixels else 1
    if k > 1:
        y = lift_sequence(model, interpolate_2d(x, k), flip=flip, batch_size=batch_size, precision=precision,
                          stride=stride, pixels=True, fn=fn, flip_output=flip_output, progress=progress)
        return y[::k]
    if isinstance(model, LifterEnsemble):
        if fn is not None or flip_output is not None:
            raise ValueError("fn and flip_output need a single network, not a LifterEnsemble")
        outs = [lift_sequence(m, x, flip=flip, batch_size=batch_size, precision=precision, stride=stride,
                              pixels=pixels, progress=progress) for m in model.members]
        return np.mean(outs, axis=0)
    fn = fn or model
    flip_output = flip_output or flip_h36m
    device = next(model.parameters()).device
    window = model.cfg.maxlen
    T = x.shape[0]
    W = min(T, window)
    stride = stride or default_stride(W)
    starts = window_starts(T, W, stride)
    weights = blend_weights(W) if len(starts) > 1 else np.ones(W, np.float32)
    acc = None
    wsum = np.zeros(T, np.float32)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    for b in range(0, len(starts), batch_size):
        chunk = starts[b:b + batch_size]
        if pixels:
            outs = lift_pixel_windows(model, [x[s:s + W] for s in chunk], flip=flip, precision=precision, fn=fn,
                                      flip_output=flip_output)
        else:
            inp = torch.stack([xt[s:s + W] for s in chunk]).to(device)
            with autocast_context(device, precision):
                out = fn(inp).float()
                if flip:
                    out = (out + flip_output(fn(flip_h36m(inp)).float())) / 2
            outs = list(out.cpu().numpy())
        for o, s in zip(outs, chunk):
            if o is None:  # nothing confident to normalise by: this window does not vote
                continue
            if acc is None:
                acc = np.zeros((T,) + o.shape[1:], np.float32)
            acc[s:s + W] += o * weights.reshape((W,) + (1,) * (o.ndim - 1))
            wsum[s:s + W] += weights
        if progress:
            progress(len(chunk))
    if acc is None:  # no window had enough confident joints: every frame is unknown (NaN below)
        acc = np.zeros((T, x.shape[1], model.cfg.dim_out), np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return acc / wsum.reshape((T,) + (1,) * (acc.ndim - 1))


def load_pose3d(checkpoint: Path | list[Path] | None, heads: int | None, device: str):
    """The lifter `checkpoint`; several files: their LifterEnsemble (outputs averaged, each with its own
    window); None: the shipped pair (27- and 81-frame windows; -c motionbert_cpu_pose3d.bin lifts with the
    27-frame one alone, a third of the work)."""
    from .checkpoint import DEFAULT_POSE3D_SECOND, default_checkpoint, load_model
    from .errors import UserError

    if isinstance(checkpoint, (list, tuple)):
        ckpts = list(checkpoint)
    else:
        ckpts = [checkpoint] if checkpoint else [default_checkpoint(), default_checkpoint(name=DEFAULT_POSE3D_SECOND)]
    models = []
    for ckpt in ckpts:
        model = load_model(ckpt, task="pose3d", num_heads=heads, device=device)
        if model.cfg.dim_out != 3:
            raise UserError(f"{ckpt}: its output head gives {model.cfg.dim_out} channels, not 3D joints")
        models.append(model)
    return models[0] if len(models) == 1 else LifterEnsemble(models)
