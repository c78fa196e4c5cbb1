"""`motionbert live`: 3D joints from a camera, a stream or a file played at its own speed, as frames arrive.

A capture thread reads frames at the source's pace and keeps only the newest; the main loop detects, tracks
and lifts whatever frame is newest when it is free, so a slow machine drops frames (counted) instead of
falling behind. Each person's window ends at the newest frame and is lifted every `lift_every` processed
frames (default 2: half the lifting, which costs as much as detecting); the newest frame's 3D is causal, a
frame in between sees the frames after it up to the newest, and comes that much later. A causal one-euro
filter smooths the 3D. When the stream ends, stalls, or on Ctrl-C / SIGTERM, the
same files as `pose3d` are written for the frames processed (dropped frames are gaps).
"""
from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError
from .export import OutputDir, write_pose3d
from .filters import OneEuroStream
from .keypoints import coco_to_h36m, person_height
from .lift import lift_pixel_windows
from .pipeline import place_people
from .options import LiveOptions
from .results import Motion3D
from .stop import raise_if_terminated
from .tracks import Tracks, select_tracks
from .video import VideoInfo


@dataclass
class Frame:
    index: int            # the source's frame number (0-based)
    captured: float       # time.perf_counter() when it was read
    image: np.ndarray


class FrameSource:
    """Reads a source on a thread. `latest()` returns the newest unread frame (older unread ones are dropped
    and counted), or None when the source has ended. With realtime=False every frame is delivered."""

    def __init__(self, source: str, realtime: bool = True, stall_s: float = 5.0, start: bool = True):
        import cv2

        self.is_file = Path(source).is_file()  # a named pipe exists but is read as a stream
        if not Path(source).exists() and not source.isdigit() and "://" not in source:
            raise UserError(f"live source not found: {source} (give a camera index such as 0, a stream URL "
                            f"such as rtsp://..., or a video file)")
        # One decoding thread: FFmpeg's default (one per core) takes the cores from the detector and lifter in
        # bursts; the networks need them more than the reader does (README "live").
        self.cap = cv2.VideoCapture(int(source) if source.isdigit() else source, cv2.CAP_ANY,
                                    [cv2.CAP_PROP_N_THREADS, 1])
        if not self.cap.isOpened():
            raise UserError(f"cannot open {source} as a camera, stream or video (check the index, URL or file)")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 1 <= fps <= 240 else 30.0
        w, h = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self.size = (w, h) if w > 0 and h > 0 else None  # (width, height) when the source says
        self.realtime = realtime or not self.is_file  # cameras and streams come in real time anyway
        self.stall_s = stall_s
        self.dropped = 0
        self.read_count = 0
        self.stalled = False
        self._slot: queue.Queue = queue.Queue(maxsize=1 if self.realtime else 8)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        """Begin reading (a file's clock starts now)."""
        self._thread.start()

    def _run(self) -> None:
        t0 = time.perf_counter()
        i = 0
        try:
            while not self._stop.is_set():
                ok, img = self.cap.read()
                if not ok or img is None:
                    break
                now = time.perf_counter()
                if self.is_file and self.realtime:  # a file played as a stream: frame i is due at i / fps
                    due = t0 + i / self.fps
                    if due > now:
                        time.sleep(due - now)
                        now = time.perf_counter()
                f = Frame(i, now, img)
                i += 1
                self.read_count = i
                if self.realtime:
                    try:
                        self._slot.put_nowait(f)
                    except queue.Full:  # the consumer is behind: replace the unread frame
                        try:
                            self._slot.get_nowait()
                            self.dropped += 1
                        except queue.Empty:
                            pass
                        self._slot.put_nowait(f)
                else:
                    while not self._stop.is_set():
                        try:
                            self._slot.put(f, timeout=0.2)
                            break
                        except queue.Full:
                            continue
        finally:
            self._done.set()

    def latest(self) -> Frame | None:
        waited = 0.0
        while True:
            try:
                return self._slot.get(timeout=0.1)
            except queue.Empty:
                if self._done.is_set() and self._slot.empty():
                    return None
                waited += 0.1
                if waited >= self.stall_s:  # a stream that stalls is treated as ended
                    self.stalled = True
                    return None

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.cap.release()


@dataclass
class PersonState:
    """One tracked person: the recent 2D (H36M pixels) for the causal window and the per-frame results."""

    window: int
    frames: deque = field(default_factory=deque)      # source frame indices of the window
    kpts: deque = field(default_factory=deque)        # [17, 3] H36M pixels + confidence
    filt: OneEuroStream | None = None
    out: dict = field(default_factory=dict)           # frame index -> (kp2d [17, 3], pix3d [17, 3], box [4])

    def push(self, t: int, kp: np.ndarray, max_gap: int) -> None:
        if self.frames and t - self.frames[-1] > max_gap:  # back after a while: the old window is stale
            self.frames.clear()
            self.kpts.clear()
        self.frames.append(t)
        self.kpts.append(kp)
        while len(self.frames) > self.window:
            self.frames.popleft()
            self.kpts.popleft()


def lift_newest(model, windows: list[np.ndarray], flip: bool, fn=None) -> list[np.ndarray | None]:
    """Causal lifting: for each window [W, 17, 3] (pixels, newest frame last) the 3D [17, 3] of its newest
    frame in pixels (x, y) and pixel-scaled depth, or None when it has too few confident joints. The same
    crop / network / flip / un-crop step as pose3d's (lift.lift_pixel_windows); fn: the network's forward
    (default: the model itself; lift_openvino.openvino_forward on CPU, which takes the flipped copies in the
    same batch)."""
    outs = lift_pixel_windows(model, windows, flip=flip, fn=fn, batch_flip=fn is not None)
    return [None if y is None else y[-1] for y in outs]


def detect_frame(f: Frame, det, model, people: dict[int, PersonState], opts: LiveOptions, fps: float) -> list:
    """Detect and track one frame; each person's 2D joins their window. Returns the people in the frame as
    (track id, state, box), the most visible first (at most opts.max_people)."""
    ids, kp, boxes = det(f.image)
    order = np.argsort([-(k[:, 2] > 0.3).sum() for k in kp])[:opts.max_people]  # the most visible people
    active = []
    for n in order:
        tid = int(ids[n])
        st = people.setdefault(tid, PersonState(model.cfg.maxlen))
        st.push(f.index, coco_to_h36m(kp[n][None])[0].astype(np.float32), max_gap=max(2, round(0.5 * fps)))
        active.append((tid, st, boxes[n]))
    return active


def lift_waiting(waiting: list, model, opts: LiveOptions, fps: float, lift_fn=None) -> list[dict]:
    """Lift the frames detected since the last lift, `waiting` = [(Frame, detect_frame's people)], oldest first:
    one window per person, ending at their newest frame (causal for the newest frame; an older waiting frame
    sees the frames after it up to the newest). Each person's 3D is filtered (causal one-euro, frames in order)
    and kept in their state. Returns each waiting frame's live.jsonl record."""
    states = {}
    for _, active in waiting:
        for tid, st, _ in active:
            states[tid] = st
    tids = list(states)
    outs = lift_pixel_windows(model, [np.stack(states[t].kpts) for t in tids], flip=opts.flip, fn=lift_fn,
                              batch_flip=lift_fn is not None) if tids else []
    window = dict(zip(tids, outs))
    records = []
    for f, active in waiting:
        record = {"frame": f.index, "time_s": round(f.index / fps, 4), "people": {}}
        for tid, st, box in active:
            y = window[tid]
            if y is None or f.index not in st.frames:  # too few confident joints; or left the window already
                continue
            y = y[list(st.frames).index(f.index)]
            if st.filt is None:
                st.filt = OneEuroStream(fps, opts.min_cutoff, opts.beta, max(person_height(st.kpts[-1][None]), 1.0))
            y = st.filt(y, f.index)
            st.out[f.index] = (st.kpts[list(st.frames).index(f.index)], y.astype(np.float32), box)
            record["people"][tid] = np.round(y, 2).tolist()
        records.append(record)
    return records


def process_frame(f: Frame, det, model, people: dict[int, PersonState], opts: LiveOptions, fps: float,
                  lift_fn=None):
    """Detect, track and lift one frame (its newest-frame 3D: causal). Returns (the people in this frame as
    (track id, state), the frame's live.jsonl record)."""
    active = detect_frame(f, det, model, people, opts, fps)
    return [(tid, st) for tid, st, _ in active], lift_waiting([(f, active)], model, opts, fps, lift_fn)[0]


def _lifter_runtime(model, pp, console):
    """On CPU, the lifter's forward through OpenVINO (f32) whenever the detector may use OpenVINO: one
    27-frame window per frame is dominated by PyTorch's per-operator overhead (lift_openvino). None: PyTorch
    (--detector-runtime pytorch, a GPU, or no openvino package)."""
    from .detect import openvino_available

    if pp.device != "cpu" or pp.detector_runtime == "pytorch" or not openvino_available():
        return None
    from .lift_openvino import openvino_forward

    try:
        return openvino_forward(model)
    except Exception as e:  # an unusual checkpoint OpenVINO cannot convert: PyTorch lifts it, as pose3d does
        console.print(f"[yellow]note:[/] lifting with PyTorch (OpenVINO could not convert the lifter: "
                      f"{str(e).splitlines()[0][:120]})")
        return None


def has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_live(opts: LiveOptions, console) -> Path:
    """Run until the source ends, stalls, `opts.seconds` pass, or Ctrl-C / SIGTERM; then write the files."""
    from .checkpoint import default_checkpoint
    from .detect import PoseDetector
    from .lift import load_pose3d

    # One network, not pose3d's default pair: the 27-frame lifter alone keeps each frame's latency low.
    pp = opts.people
    model = load_pose3d(opts.checkpoint or default_checkpoint(), opts.heads, pp.device)
    lift_fn = _lifter_runtime(model, pp, console)
    det = PoseDetector(pp.detector, device=pp.device, imgsz=pp.imgsz, runtime=pp.detector_runtime,
                       notice=console.print)
    src = FrameSource(opts.source, opts.realtime, opts.stall_s, start=False)
    # warm both networks up before the clock starts: first calls are slow (allocation, Ultralytics' setup, the
    # detector's OpenVINO model for this frame size)
    w, h = src.size or (640, 480)
    det(np.zeros((h, w, 3), np.uint8))
    lift_newest(model, [np.tile(np.array([[100.0, 100.0, 1.0]], np.float32), (8, 17, 1)) +
                        np.random.default_rng(0).normal(0, 20, (8, 17, 3)).astype(np.float32) * [1, 1, 0]], opts.flip,
                lift_fn)
    src.start()
    preview = has_display() if opts.preview is None else opts.preview
    if preview and not has_display():
        src.close()
        raise UserError("--preview needs a display (none found: DISPLAY is not set); run without it")
    people: dict[int, PersonState] = {}
    latencies: list[float] = []
    size = None
    processed = 0
    last_index = -1
    t_start = time.perf_counter()
    interrupted = None
    time_up = False
    outdir = OutputDir(opts.out)
    stream = open(outdir.path("live.jsonl"), "w")
    waiting: list = []  # frames detected, not yet lifted (opts.lift_every)

    def flush() -> None:
        """Lift the waiting frames; their records go to live.jsonl with their latency (capture -> 3D)."""
        records = lift_waiting(waiting, model, opts, src.fps, lift_fn)
        done = time.perf_counter()
        for (fw, _), record in zip(waiting, records):
            latencies.append(done - fw.captured)
            record["latency_ms"] = round(1000 * latencies[-1], 1)
            stream.write(json.dumps(record) + "\n")
        stream.flush()
        waiting.clear()

    console.print(f"live: {opts.source} at {src.fps:g} fps; the newest 3D goes to {outdir.path('live.jsonl')} as "
                  f"it comes; all files land in {opts.out} when the stream ends or on Ctrl-C")
    try:
        while True:
            raise_if_terminated()
            if opts.seconds is not None and time.perf_counter() - t_start >= opts.seconds:
                time_up = True
                break
            f = src.latest()
            if f is None:
                break
            size = (f.image.shape[1], f.image.shape[0])
            active = detect_frame(f, det, model, people, opts, src.fps)
            waiting.append((f, active))
            processed += 1
            last_index = f.index
            if len(waiting) >= opts.lift_every:
                flush()
            if preview:
                if _show(f.image, active, src, latencies[-1] if latencies else 0.0):
                    break
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM turned into it by the CLI
        interrupted = e
    finally:
        src.close()
        if waiting:  # the frames detected since the last lift, interrupted or not
            flush()
        stream.close()
        if preview:
            import cv2
            cv2.destroyAllWindows()
    try:
        if processed == 0 or not any(st.out for st in people.values()):
            raise UserError(f"no person was seen in {opts.source} ({processed} frames processed): check that "
                            f"people are visible, or try --imgsz 960")
        try:
            motion = _assemble(people, last_index + 1, src.fps, size, str(model.source), pp.person,
                               pp.min_frames, opts.focal, opts.height)
        except UserError as e:  # e.g. --person 7 never appeared: keep the capture, with everyone in it
            console.print(f"[yellow]warning:[/] {e}; writing every person instead")
            motion = _assemble(people, last_index + 1, src.fps, size, str(model.source), "all", 1,
                               opts.focal, opts.height)
        write_pose3d(outdir, motion)
        lat = np.array(latencies) * 1000
        summary = {"source": opts.source, "fps": src.fps, "frames_read": src.read_count, "frames_processed": processed,
                   "frames_dropped": src.read_count - processed, "stalled": src.stalled,
                   "interrupted": interrupted is not None, "seconds": round(time.perf_counter() - t_start, 2),
                   "latency_ms_median": round(float(np.median(lat)), 1),
                   "latency_ms_p90": round(float(np.percentile(lat, 90)), 1),
                   "processed_fps": round(processed / max(time.perf_counter() - t_start, 1e-6), 2)}
        with open(outdir.path("timing_live.json"), "w") as fh:
            json.dump(summary, fh, indent=1)
        outdir.commit()
    except BaseException:
        outdir.abort()
        raise
    why = ("interrupted" if interrupted is not None else "time limit" if time_up
           else "stream stalled" if src.stalled else "stream ended")
    console.print(f"[green]wrote[/] {opts.out} ({why}): {processed} of {src.read_count} frames processed, "
                  f"{summary['frames_dropped']} dropped to keep up; {summary['processed_fps']:.1f} frames/s; "
                  f"latency (capture -> 3D) median {summary['latency_ms_median']:.0f} ms, "
                  f"p90 {summary['latency_ms_p90']:.0f} ms")
    return Path(opts.out)


def _assemble(people: dict[int, PersonState], T: int, fps: float, size, checkpoint: str, person: str,
              min_frames: int, focal: float | None = None, height: float | None = None) -> Motion3D:
    """Per-frame live results -> the Motion3D that pose3d writes (dropped and unseen frames are gaps), for
    the people `person` selects as pose3d's --person does, placed by pose3d's placement (place_people)."""
    ids = [t for t, st in sorted(people.items()) if st.out]
    tracks = Tracks(T, layout="h36m")
    for tid in ids:
        k, b = np.zeros((T, 17, 3), np.float32), np.full((T, 4), np.nan, np.float32)
        for t, (kp, _, box) in people[tid].out.items():
            k[t], b[t] = kp, box
        tracks.ids.append(tid)
        tracks.kpts.append(k)
        tracks.boxes.append(b)
    tids = [ids[i] for i in select_tracks(tracks, person, min_frames)]
    P = len(tids)
    kp2d = np.zeros((P, T, 17, 3), np.float32)
    pix = np.full((P, T, 17, 3), np.nan, np.float32)
    for p, tid in enumerate(tids):
        for t, (k, y, _) in people[tid].out.items():
            kp2d[p, t], pix[p, t] = k, y
    # from first to last seen, as pose3d places them
    spans = [(min(people[tid].out), max(people[tid].out) + 1) for tid in tids]
    info = VideoInfo(path=Path("live"), fps=fps, width=size[0], height=size[1], frames=T)
    return Motion3D(track_ids=tids, fps=fps, frame_size=size, keypoints2d=kp2d, joints3d_pixels=pix,
                    lr_swaps_fixed=np.zeros(P, np.int64), checkpoint=checkpoint, smoothing="one-euro (causal)",
                    **place_people(pix, kp2d, spans, info, focal, height))


def _show(image: np.ndarray, active, src: FrameSource, latency: float) -> bool:
    """Preview: the frame with each person's 2D; True when the user pressed q or Esc."""
    import cv2

    from .render import draw_legend, draw_skeleton_2d, person_colour

    img = image.copy()
    for k, (tid, st, _) in enumerate(active):
        draw_skeleton_2d(img, st.kpts[-1], person_colour(k), f"#{tid}")
    draw_legend(img)
    cv2.putText(img, f"latency {latency * 1000:.0f} ms  dropped {src.dropped}", (10, 25), cv2.FONT_HERSHEY_SIMPLEX,
                0.6, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imshow("motionbert live (q to stop)", img)
    return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)
