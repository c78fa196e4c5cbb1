"""People of a video: found (detected and tracked, or read from a keypoint file), stitched, repaired
(short left/right swaps), chosen (--person) and prepared for the lifter. The stage pose3d, mesh, action and
the benchmarks share.

video --detect.py / keypoint_files.py--> Tracks (COCO-17 pixels) --tracks.py: stitch, fix swaps, select-->
      chosen tracks --prepare_person: to H36M, gap filling, normalisation--> [T, 17, 3]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .detect import PoseDetector, detect_video
from .errors import UserError
from .keypoint_files import read_keypoints_file
from .options import PeopleOptions
from .keypoints import apply_crop, crop_box, fill_gaps, pixel_normalise, to_h36m
from .progress import Stages
from .threads import use_cpu_threads
from .tracks import Tracks, fix_swaps, select_tracks, stitch_tracks
from .video import VideoInfo, read_frames


def detection_stride(value: str | int, fps: float) -> tuple[int, int]:
    """--detect-every -> (stride, stride while everyone in view moves smoothly; 0: no such second stride).

    N: every Nth frame, whatever happens. 'auto': every frame, but every 2nd (every 3rd at 90 fps...) while
    everyone in view moves smoothly enough for the frames between to be interpolated (detect.STILL_ERROR);
    below 20 fps always every frame."""
    if str(value) == "auto":
        fps = fps or 30.0
        return (1, 0) if fps < 20 else (1, max(2, round(fps / 30.0)))
    return max(1, int(value)), 0


def get_tracks(video_info, keypoints: Path | None, detector: str | None, device: str, imgsz: int, stages: Stages,
               keypoint_order: str = "auto", fix_lr: bool = True, read: Tracks | None = None,
               runtime: str = "auto", detect_every: str | int = 1):
    """Keypoint tracks for the video: from a keypoint file (COCO/Halpe/H36M order, see `read_keypoints_file`),
    or by detection and tracking (COCO-17); fragments stitched, short left/right swaps undone (fix_lr)."""

    if read is not None:  # the keypoint file, already read by the caller
        tracks = read
    elif keypoints is not None:
        tracks = read_keypoints_file(keypoints, (video_info.start + video_info.frames) if video_info else None,
                                     keypoint_order)
        if video_info is not None and video_info.start:  # the file covers the whole video: keep the segment
            tracks = tracks.cut(video_info.start, video_info.start + video_info.frames)
    else:
        det = PoseDetector(detector, device=device, imgsz=imgsz, runtime=runtime,
                           notice=stages.progress.console.print)
        advance, finish = stages.stage("detect", video_info.frames)
        # (decoding in a thread ahead of the detector was tried: no faster on 2 cores, where both compete)
        every, still_every = detection_stride(detect_every, video_info.fps)
        tracks = detect_video(read_frames(video_info.path, video_info.start, video_info.frames), video_info.frames,
                              det, advance, every=every, still_every=still_every)
        stages.counts["frames_detected"] = tracks.frames_detected
        finish()
    if video_info is not None and tracks.num_frames > video_info.frames:
        video_info.frames = tracks.num_frames
    fps = video_info.fps if video_info else 30.0
    tracks = stitch_tracks(tracks, fps)
    # a swap of up to ~0.5 s is a detector glitch; longer runs are left to the lifter
    return fix_swaps(tracks, max_frames=max(8, round(0.5 * fps))) if fix_lr else tracks


def find_people(info: VideoInfo, people: PeopleOptions, stages: Stages,
                read: Tracks | None = None) -> tuple[Tracks, list[int]]:
    """The tracks of the video (detected, or read from people.keypoints unless `read` holds them already) and
    the indices of those to lift."""
    tracks = get_tracks(info, people.keypoints, people.detector, people.device, people.imgsz, stages,
                        people.keypoint_order, people.fix_swaps, read, people.detector_runtime, people.detect_every)
    sel = select_tracks(tracks, people.person, people.min_frames)
    use_cpu_threads()  # in case a detector elsewhere lowered it for the process
    return tracks, sel


def prepare_person(kpts: np.ndarray, frame_size: tuple[int, int], pixel: bool, layout: str | None = None):
    """Pixels [T, J, 3] in `layout` (COCO/Halpe/H36M; None: by joint count)
    -> (H36M pixels [T, 17, 3], normalised [T, 17, 3], box or None).

    Gaps of up to 10 frames are interpolated; the normalisation is the official demo's: the bounding box of
    all confident joints over the clip mapped to [-1, 1] (crop_scale), or the frame (--pixel).
    """
    h36 = fill_gaps(to_h36m(kpts, layout).astype(np.float32))
    if pixel:
        return h36, pixel_normalise(h36, frame_size), None
    box = crop_box(h36)
    if box is None:
        raise UserError("too few confident keypoints to normalise this person (need 4 or more)")
    return h36, apply_crop(h36, box), box
