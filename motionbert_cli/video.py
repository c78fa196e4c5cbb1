"""Streaming video reading (OpenCV) and writing (H.264 through imageio-ffmpeg), never holding all frames.

OpenCV applies the rotation metadata of phone videos, so portrait clips come out upright. Writers go to a
temporary file that is renamed on success, so a failed run leaves no half-written video.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import UserError
from .fileio import temp_beside


@dataclass
class VideoInfo:
    path: Path | None  # None: keypoints lifted without their video
    fps: float
    width: int
    height: int
    frames: int  # from the container; may be approximate, the reader stops at the real end
    start: int = 0  # first frame used (--start): frame t of the results is the video's frame start + t
    # Keypoints without their video: whether the frame size (hence the principal point) is known (--size or
    # the file's own), and the file's focal length when it has one.
    size_known: bool = True
    focal: float | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open a video and read its properties; raises UserError for missing, unreadable or empty files."""
    import cv2

    p = Path(path)
    if not p.exists():
        raise UserError(f"video not found: {p}")
    if p.is_dir():
        raise UserError(f"{p} is a folder; pass a video file")
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise UserError(f"cannot read {p} as a video: it is not a video file or its codec is unsupported "
                            f"(convert it with: ffmpeg -i {p.name} -c:v libx264 out.mp4)")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise UserError(f"{p} has no readable frames (empty or corrupt video)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not fps or not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 30.0  # some containers do not say; 30 is the common case and only affects playback speed
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        h, w = frame.shape[:2]
        return VideoInfo(p, float(fps), w, h, max(n, 1))
    finally:
        cap.release()


def read_frames(path: str | os.PathLike, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Yield BGR frames [H, W, 3] uint8 one at a time, from frame `start`, at most `count` of them."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if start:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        n = 0
        while count is None or n < count:
            ok, frame = cap.read()
            if not ok:
                return
            n += 1
            yield frame
    finally:
        cap.release()


def parse_time(value: str, fps: float, name: str) -> int:
    """'12.5' (seconds) or '300f' (frames) -> a frame index."""
    v = value.strip().lower()
    try:
        return int(v[:-1]) if v.endswith("f") else int(round(float(v.rstrip("s")) * fps))
    except ValueError:
        raise UserError(f"{name} {value!r}: give seconds (12.5) or frames (300f)") from None


def segment(info: VideoInfo, start: str | None, end: str | None) -> VideoInfo:
    """The part of the video between --start and --end (seconds or frames; end exclusive)."""
    if start is None and end is None:
        return info
    s = parse_time(start, info.fps, "--start") if start is not None else 0
    e = parse_time(end, info.fps, "--end") if end is not None else info.frames
    e = min(e, info.frames)
    if s < 0 or s >= info.frames:
        raise UserError(f"--start {start} is outside the video ({info.frames} frames, "
                        f"{info.frames / info.fps:.1f} s)")
    if e - s < 2:
        raise UserError(f"--start {start} / --end {end} leave {max(e - s, 0)} frame: give a later --end")
    return VideoInfo(info.path, info.fps, info.width, info.height, e - s, start=s)


class VideoWriter:
    """H.264 (yuv420p) MP4 writer fed with BGR frames; writes `<name>.tmp.mp4`, renamed by close().

    Frames of odd width or height are padded by one pixel (yuv420p needs even sizes).
    """

    def __init__(self, path: str | os.PathLike, size: tuple[int, int], fps: float):
        import imageio_ffmpeg

        self.path = Path(path)
        w, h = size
        self.size = (w + w % 2, h + h % 2)
        self.tmp = temp_beside(self.path, ".tmp.mp4")
        self._gen = imageio_ffmpeg.write_frames(self.tmp, self.size, fps=fps, codec="libx264", quality=6,
                                                macro_block_size=1, pix_fmt_in="bgr24",
                                                output_params=["-preset", "ultrafast", "-tune", "zerolatency"],
                                                ffmpeg_log_level="error")
        self._gen.send(None)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if (w, h) != self.size:
            frame = np.pad(frame, ((0, self.size[1] - h), (0, self.size[0] - w), (0, 0)), mode="edge")
        self._gen.send(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> Path:
        self._gen.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._gen.close()
        except Exception:  # noqa: BLE001 - we are already failing; the temp file is what matters
            pass
        Path(self.tmp).unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
