"""The `motionbert` command line. Heavy imports (torch, ultralytics) happen inside commands so --help is instant."""
from __future__ import annotations

import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from . import stop
from .errors import UserError
from .options import (ActionTrainSchedule, LiveOptions, MeshOptions, PeopleOptions, Pose3dOptions,
                      TrainSchedule, help_of)

# Plain (click) help rather than Rich panels: at 80 columns Rich gave option help a 22-character column
# and showed a <bool> placeholder on flags that take no value. -h works like --help everywhere.
HELP = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
app = typer.Typer(
    name="motionbert",
    help="MotionBERT from a video: 3D joints (pose3d), action labels (action) and body meshes (mesh).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=HELP,
)
train_app = typer.Typer(help="Train or finetune models on your own data.", no_args_is_help=True,
                        rich_markup_mode=None, context_settings=HELP)
eval_app = typer.Typer(help="Evaluate models on data with ground truth.", no_args_is_help=True,
                       rich_markup_mode=None, context_settings=HELP)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class DetectorRuntime(str, Enum):
    auto = "auto"
    int8 = "int8"
    openvino = "openvino"
    pytorch = "pytorch"


class BodyType(str, Enum):
    neutral = "neutral"
    female = "female"
    male = "male"


class KeypointOrder(str, Enum):
    auto = "auto"
    coco = "coco"
    halpe = "halpe"
    h36m = "h36m"


class Smooth(str, Enum):
    none = "none"
    butterworth = "butterworth"
    one_euro = "one-euro"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _threads() -> None:
    """torch on the process's thread count (threads.py: `motionbert --threads`, default every core)."""
    from .threads import use_cpu_threads

    use_cpu_threads()


def _resolve_device(device: Device) -> str:
    import torch

    if device == Device.cuda and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
    if device == Device.auto:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device.value


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"motionbert-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit."),
          threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads for every stage (default: all cores). Fewer leave room for other work: two processes that each use every core slow each other down many times over.")) -> None:
    """MotionBERT from a video: 3D joints (pose3d), action labels (action) and body meshes (mesh)."""
    if threads:  # before torch is imported (commands import it lazily): OpenMP reads it once
        from .threads import ENV

        os.environ[ENV] = os.environ["OMP_NUM_THREADS"] = str(threads)


def check_person(person: str) -> str:
    """--person is checked before any work (detection takes seconds to minutes)."""
    if person not in ("auto", "all") and not person.lstrip("-").isdigit():
        raise UserError(f"--person must be a track id (a whole number), 'auto' or 'all', got {person!r}")
    return person


def check_detect_every(value: str) -> str:
    """--detect-every: a whole number >= 1 or 'auto', checked before any work."""
    if value != "auto" and not (value.isdigit() and int(value) >= 1):
        raise UserError(f"--detect-every must be a whole number of frames (1 = every frame) or 'auto', got {value!r}")
    return value


def option(cls, name: str, *flags: str, **kw):
    """The Typer option for field `name` of an options dataclass (options.py), with the field's help text.
    Its default is given in the signature as `= Class.field`, so each default is written once."""
    return typer.Option(*flags, help=help_of(cls, name), **kw)


P, PO, MO, LO = PeopleOptions, Pose3dOptions, MeshOptions, LiveOptions

# Options that several commands take, declared once (Annotated types reused by each signature).
Heads = Annotated[Optional[int], option(PO, "heads", "--heads")]
DeviceOpt = Annotated[Device, option(P, "device", "--device")]
Detector = Annotated[Optional[str], option(P, "detector", "--detector")]
Imgsz = Annotated[int, option(P, "imgsz", "--imgsz")]
Runtime = Annotated[DetectorRuntime, option(P, "detector_runtime", "--detector-runtime")]
DetectEvery = Annotated[str, option(P, "detect_every", "--detect-every")]
Keypoints = Annotated[Optional[Path], option(P, "keypoints", "--keypoints")]
KeypointOrderOpt = Annotated[KeypointOrder, option(P, "keypoint_order", "--keypoint-order")]
Person = Annotated[str, option(P, "person", "--person")]
MinFrames = Annotated[int, option(P, "min_frames", "--min-frames", min=1)]
Start = Annotated[Optional[str], option(PO, "start", "--start")]
End = Annotated[Optional[str], option(PO, "end", "--end")]
FixSwaps = Annotated[bool, option(P, "fix_swaps", "--fix-swaps/--no-fix-swaps")]
Flip = Annotated[bool, option(PO, "flip", "--flip/--no-flip")]
Focal = Annotated[Optional[float], option(PO, "focal", "--focal", min=1.0)]
Height = Annotated[Optional[float], option(PO, "height", "--height", min=0.5, max=2.5)]
# the "auto" device is resolved by the command (_resolve_device); the dataclasses hold the resolved one
DEVICE = Device.auto


def _people(detector, imgsz, keypoints, keypoint_order, fix_swaps, person, min_frames, device, runtime,
            detect_every=PeopleOptions.detect_every):
    return PeopleOptions(detector=detector, imgsz=imgsz, detector_runtime=runtime.value, keypoints=keypoints,
                         keypoint_order=keypoint_order.value,
                         fix_swaps=fix_swaps, person=check_person(person), min_frames=min_frames,
                         device=_resolve_device(device), detect_every=check_detect_every(detect_every))


# ----------------------------------------------------------------------------------------------- pose3d

@app.command()
def pose3d(
    videos: Optional[List[Path]] = typer.Argument(None, metavar="VIDEO", help="Videos (mp4, mov, mkv...) or folders of them; none with --keypoints alone.", show_default=False),
    out: Annotated[Optional[Path], option(PO, "out", "-o", "--out")] = PO.out,
    checkpoint: Annotated[Optional[List[Path]], option(PO, "checkpoint", "--checkpoint", "-c", metavar="FILE")] = PO.checkpoint,
    heads: Heads = PO.heads,
    detector: Detector = P.detector,
    keypoints: Keypoints = P.keypoints,
    keypoint_order: KeypointOrderOpt = KeypointOrder(P.keypoint_order),
    person: Person = P.person,
    min_frames: MinFrames = P.min_frames,
    fix_swaps: FixSwaps = P.fix_swaps,
    imgsz: Imgsz = P.imgsz,
    detector_runtime: Runtime = DetectorRuntime(P.detector_runtime),
    detect_every: DetectEvery = P.detect_every,
    device: DeviceOpt = DEVICE,
    precision: Annotated[Precision, option(PO, "precision", "--precision")] = Precision(PO.precision),
    flip: Flip = PO.flip,
    pixel: Annotated[bool, option(PO, "pixel", "--pixel")] = PO.pixel,
    render: Annotated[bool, option(PO, "render", "--render/--no-render")] = PO.render,
    focal: Focal = PO.focal,
    height: Height = PO.height,
    smooth: Annotated[Smooth, option(PO, "smooth", "--smooth")] = Smooth(PO.smooth),
    cutoff: Annotated[Optional[float], option(PO, "cutoff", "--cutoff", min=0.1)] = PO.cutoff,
    beta: Annotated[float, option(PO, "beta", "--beta", min=0.0)] = PO.beta,
    steady_bones: Annotated[bool, option(PO, "steady_bones", "--steady-bones/--free-bones")] = PO.steady_bones,
    start: Start = PO.start,
    end: End = PO.end,
    fps: Annotated[Optional[float], option(PO, "fps", "--fps", min=1.0)] = PO.fps,
    size: Annotated[Optional[str], option(PO, "frame_size", "--size")] = None,
):
    """Lift the people in each VIDEO to 3D: motion.npz/.json, CSV, TRC, BVH and angles per person, overlay
    and 3D videos. Several videos share one loaded lifter; one that fails does not stop the others. With
    --keypoints and no video, the keypoints alone are lifted."""
    from .action import VIDEO_EXTS
    from .lift import load_pose3d
    from .pipeline import Pose3dOptions, run_pose3d

    files = _expand_videos(videos or [], VIDEO_EXTS)
    video = files[0] if len(files) == 1 else None
    checkpoint = checkpoint or None  # load_pose3d: one file alone, several averaged
    people = _people(detector, imgsz, keypoints, keypoint_order, fix_swaps, person, min_frames, device,
                     detector_runtime, detect_every)
    opts = Pose3dOptions(video=video, people=people, out=out, checkpoint=checkpoint, heads=heads,
                         precision=precision.value, flip=flip, pixel=pixel, render=render, focal=focal,
                         height=height, smooth=smooth.value, cutoff=cutoff, beta=beta, fps=fps,
                         steady_bones=steady_bones, frame_size=_parse_size(size), start=start, end=end)
    if files and (fps or size):
        raise UserError("--fps and --size describe keypoints given without a video; with a video they come from it")
    if not files and (start or end):
        raise UserError("--start and --end cut a video; without one, cut the keypoint file instead")
    if len(files) <= 1:
        run_pose3d(opts, _console())
        return
    if keypoints is not None:
        raise UserError("--keypoints belongs to one video; give a single video with it")
    import dataclasses

    console = _console()
    model = load_pose3d(checkpoint, heads, people.device)
    failed, summary = [], []
    for n, f in enumerate(files, 1):
        console.print(f"[bold]{n}/{len(files)}[/] {f}")
        one = dataclasses.replace(opts, video=f, out=(out / f.stem) if out else None)
        t0 = time.perf_counter()
        try:
            summary.append((f, str(run_pose3d(one, console, model=model)), time.perf_counter() - t0))
        except UserError as e:
            console.print(f"[red]error:[/] {f}: {e}")
            failed.append(f)
            summary.append((f, f"failed: {e}", time.perf_counter() - t0))
    for f, what, secs in summary:
        console.print(f"{f.name}: {what} ({secs:.1f} s)")
    if failed:
        raise UserError(f"{len(failed)} of {len(files)} videos failed: {', '.join(str(f) for f in failed)}")


def _expand_videos(paths: list[Path], exts: set[str]) -> list[Path]:
    """Videos given on the command line, folders replaced by the videos they hold (sorted)."""
    out = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in exts and not f.name.startswith("."))
            if not found:
                raise UserError(f"{p} holds no videos ({', '.join(sorted(exts))})")
            out += found
        else:
            out.append(p)
    return out


def _parse_size(size: str | None) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        w, h = (int(v) for v in size.lower().split("x"))
        if w > 0 and h > 0:
            return w, h
    except ValueError:
        pass
    raise UserError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1920x1080; got {size!r}")


# ----------------------------------------------------------------------------------------------- action

@app.command()
def action(
    clip: Path = typer.Argument(..., help="Video (or keypoint file) to recognise."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Action checkpoint: official NTU-60/120 or from `train action` (default: the shipped everyday-action model). With --gallery any model works (default there: the shipped pose model)."),
    heads: Heads = PO.heads,
    top_k: int = typer.Option(5, "--top-k", min=1, help="How many classes to show."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the scores as JSON."),
    window: Optional[float] = typer.Option(None, "--window", min=0.2, help="Score successive windows of this many seconds and print a timeline."),
    gallery: Optional[Path] = typer.Option(None, "--gallery", help="One-shot mode: folder of example clips in sub-folders named by action."),
    build_index: bool = typer.Option(False, "--build-index", help="Cache the gallery's embeddings in DIR/.motionbert_index.npz (reused while the files are unchanged)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Class names, one per line (overrides NTU-60/120)."),
    person: Person = P.person,
    start: Start = PO.start,
    end: End = PO.end,
    min_score: float = typer.Option(0.4, "--min-score", min=0.0, max=1.0, help="Below this top score the answer is 'unsure' (classifiers)."),
    min_margin: float = typer.Option(0.1, "--min-margin", min=0.0, max=1.0, help="--gallery: 'unsure' when the best action leads the next by less than this share of the next's distance to a perfect match."),
    detector: Detector = P.detector,
    imgsz: Imgsz = P.imgsz,
    device: DeviceOpt = DEVICE,
):
    """Recognise the action in CLIP, or match it against your own examples (--gallery).

    Without --checkpoint: the shipped model: 22 everyday and sport classes (walk, sit, wave, box...; models/README_action.md).
    With an official NTU-60/120 checkpoint: NTU RGB+D classes; with one from `train action`: its classes.
    Single-person models (ours) label the most prominent person (--person: a track id, or all); official NTU
    models see the two most prominent together. A low score answers 'unsure'."""
    import time
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from . import action as act
    from .checkpoint import default_checkpoint, load_model
    from .fileio import write_json_atomic
    from .progress import Stages

    dev = _resolve_device(device)
    err = _console()
    t0 = time.perf_counter()
    check_person(person)
    if gallery is None:
        model = load_model(checkpoint or default_checkpoint("action"), num_heads=heads, device=dev)
        if model.task != "action":
            raise UserError(f"{checkpoint} is a {model.task} model, not an action classifier; use it for "
                            f"one-shot matching with --gallery DIR, or pass an action checkpoint")
        if model.head_cfg.version != "class":
            raise UserError(f"{checkpoint} is a one-shot embedding model (no classes); use it with --gallery DIR")
    else:
        model = load_model(checkpoint or default_checkpoint(), num_heads=heads, device=dev)
    _threads()  # once: the detector restores torch's thread count after each frame (detect.PoseDetector)
    with Stages(err) as stages:
        single = gallery is None and act.single_person(model)
        ck = act.clip_keypoints(clip, detector, dev, imgsz, stages, person=person, start=start, end=end,
                                max_people=1 if single else 2)
        result: dict = {"clip": str(clip), "checkpoint": str(model.source), "track_ids": ck.ids}
        out = Console()
        tables: list = []
        if gallery is not None:
            names, files, E = act.build_gallery(gallery, model, detector, dev, imgsz, stages, use_cache=True,
                                                write_cache=build_index)
            ranked = act.match_gallery(model, ck, names, files, E, dev, top_k)
            table = Table(title=f"{clip.name}: one-shot match against {gallery}")
            for c in ("rank", "action", "similarity", "closest example"):
                table.add_column(c, justify="right" if c in ("rank", "similarity") else "left")
            for r, m in enumerate(ranked, 1):
                table.add_row(str(r), m.action, f"{m.similarity:.3f}", m.example)
            result["gallery"] = str(gallery)
            result["matches"] = [asdict(m) for m in ranked]
            # how much of the runner-up's distance to a perfect match (similarity 1) the best action closes:
            # raw similarities of one embedding model crowd together (0.8-0.97), their ordering does not
            margin = ((ranked[0].similarity - ranked[1].similarity) / max(1e-6, 1.0 - ranked[1].similarity)
                      if len(ranked) > 1 else 1.0)
            result["prediction"] = ranked[0].action if margin >= min_margin else "unsure"
            result["margin"] = round(float(margin), 4)
            tables.append(table)
        else:
            cls = act.class_names(model.head_cfg.num_classes, labels, model.meta.get("classes"))
            ntu = "classes" not in model.meta  # NTU models: show the dataset's action numbers
            # single-person models (ours) label each of the two most prominent people on their own
            subjects = ([(f"person #{ck.ids[i]}" if ck.ids else f"person {i + 1}", ck.person(i))
                         for i in range(len(ck.kpts))] if act.single_person(model) and len(ck.kpts) > 1
                        else [(None, ck)])
            people = []

            def said(lab) -> str:  # the clip's and each window's answer: a class, or unsure under --min-score
                return lab.label if lab.score >= min_score else "unsure"

            for who, sub in subjects:
                top, windows = act.classify_clip(model, sub, cls, dev, top_k, window)
                name = clip.name + (f", {who}" if who else "")
                table = Table(title=f"{name}: top-{top_k} of {len(cls)} classes")
                for c in ("rank", "class", "score"):
                    table.add_column(c, justify="left" if c == "class" else "right")
                for r, lab in enumerate(top, 1):
                    table.add_row(str(r), f"A{lab.index + 1:03d} {lab.label}" if ntu else lab.label, f"{lab.score:.3f}")
                tables.append(table)
                entry = {"person": who, "top_k": [{"index": lab.index, "label": lab.label, "score": lab.score}
                                                  for lab in top], "prediction": said(top[0])}
                if entry["prediction"] == "unsure":
                    table.caption = (f"unsure: the best class scores {top[0].score:.2f} < --min-score "
                                     f"{min_score:g}")
                if window:
                    timeline = Table(title=f"{name}: timeline ({window:g} s windows)")
                    for c in ("start s", "end s", "class", "score"):
                        timeline.add_column(c, justify="left" if c == "class" else "right")
                    for lab in windows:  # a window is unsure on the same terms as the clip
                        shown = said(lab) if said(lab) != "unsure" else f"unsure ({lab.label})"
                        timeline.add_row(f"{lab.start_s:.1f}", f"{lab.end_s:.1f}", shown, f"{lab.score:.3f}")
                    tables.append(timeline)
                    entry["windows"] = [{**asdict(lab), "prediction": said(lab)} for lab in windows]
                people.append(entry)
            best = max(people, key=lambda e: e["top_k"][0]["score"])  # the clip's label: the surest person's
            result.update({k: v for k, v in best.items() if k != "person"})
            if len(people) > 1:
                result["people"] = people
    for t in tables:
        out.print(t)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    if json_out:
        write_json_atomic(json_out, result)
    err.print(f"done in {result['seconds']:.1f} s")


# ------------------------------------------------------------------------------------------------- live

@app.command()
def live(
    source: str = typer.Argument(..., help=help_of(LO, "source")),
    out: Annotated[Optional[Path], option(LO, "out", "-o", "--out")] = None,
    checkpoint: Annotated[Optional[Path], option(LO, "checkpoint", "--checkpoint", "-c")] = LO.checkpoint,
    heads: Heads = PO.heads,
    detector: Detector = P.detector,
    imgsz: Imgsz = P.imgsz,
    detector_runtime: Runtime = DetectorRuntime(P.detector_runtime),
    device: DeviceOpt = DEVICE,
    realtime: Annotated[bool, option(LO, "realtime", "--realtime/--every-frame")] = LO.realtime,
    preview: Annotated[Optional[bool], option(LO, "preview", "--preview/--no-preview")] = LO.preview,
    seconds: Annotated[Optional[float], option(LO, "seconds", "--seconds", min=0.1)] = LO.seconds,
    person: Person = P.person,
    min_frames: MinFrames = P.min_frames,
    flip: Flip = PO.flip,
    lift_every: Annotated[int, option(LO, "lift_every", "--lift-every", min=1)] = LO.lift_every,
    min_cutoff: Annotated[float, option(LO, "min_cutoff", "--cutoff", min=0.01)] = LO.min_cutoff,
    beta: Annotated[float, option(LO, "beta", "--beta", min=0.0)] = LO.beta,
    focal: Focal = LO.focal,
    height: Height = LO.height,
):
    """3D joints from a camera, a stream or a file as it plays: windows that end at the newest frame (lifted
    every --lift-every frames: the frame between sees one frame ahead), frames dropped rather than falling
    behind, latency reported.

    When the stream ends or stalls, or on Ctrl-C / SIGTERM, the same files as pose3d (motion.npz/.json, CSV,
    TRC, BVH, angles) are written for the frames processed, plus live.jsonl (one line per processed frame,
    written as it goes) and timing_live.json."""
    from .live import LiveOptions, run_live

    if out is None:
        out = Path(time.strftime("live_%Y%m%d-%H%M%S"))
    from .people import PeopleOptions

    people = PeopleOptions(detector=detector, imgsz=imgsz, detector_runtime=detector_runtime.value,
                           device=_resolve_device(device), person=check_person(person), min_frames=min_frames)
    opts = LiveOptions(source=source, out=out, checkpoint=checkpoint, heads=heads, people=people,
                       realtime=realtime, preview=preview, flip=flip, lift_every=lift_every, seconds=seconds,
                       min_cutoff=min_cutoff,
                       beta=beta, focal=focal, height=height)
    run_live(opts, _console())


# ------------------------------------------------------------------------------------------------- mesh

@app.command()
def mesh(
    video: Path = typer.Argument(..., help=help_of(MO, "video")),
    checkpoint: Annotated[Optional[Path], option(MO, "checkpoint", "--checkpoint", "-c")] = None,
    body: Annotated[BodyType, option(MO, "body", "--body")] = BodyType(MO.body),
    height: Annotated[Optional[float], option(MO, "height", "--height", min=0.5, max=2.5)] = MO.height,
    render: Annotated[Optional[Path], option(MO, "render", "--render")] = MO.render,
    out: Annotated[Optional[Path], option(MO, "out", "-o", "--out")] = MO.out,
    pose_checkpoint: Annotated[Optional[Path], option(MO, "pose_checkpoint", "--pose-checkpoint")] = MO.pose_checkpoint,
    smpl_dir: Annotated[Optional[Path], option(MO, "smpl_dir", "--smpl-dir", envvar="MOTIONBERT_SMPL_DIR")] = MO.smpl_dir,
    heads: Heads = PO.heads,
    detector: Detector = P.detector,
    keypoints: Keypoints = P.keypoints,
    keypoint_order: KeypointOrderOpt = KeypointOrder(P.keypoint_order),
    person: Person = P.person,
    min_frames: MinFrames = P.min_frames,
    fix_swaps: FixSwaps = P.fix_swaps,
    imgsz: Imgsz = P.imgsz,
    detector_runtime: Runtime = DetectorRuntime(P.detector_runtime),
    device: DeviceOpt = DEVICE,
    flip: Flip = PO.flip,
    save_obj: Annotated[bool, option(MO, "save_obj", "--save-obj")] = MO.save_obj,
    save_verts: Annotated[bool, option(MO, "save_verts", "--save-verts")] = MO.save_verts,
    focal: Focal = MO.focal,
    opacity: Annotated[float, option(MO, "opacity", "--opacity", min=0.0, max=1.0)] = MO.opacity,
    start: Start = PO.start,
    end: End = PO.end,
):
    """A body mesh for each person in VIDEO, placed in the camera, and (--render) drawn over it.

    Default: the free Anny body (pip install anny) fitted to pose3d's 3D and the detections; mesh.npz holds
    its pose and phenotype, pose3d's files sit beside it. With -c an official MotionBERT mesh checkpoint:
    SMPL poses [P,T,72], betas [P,T,10], transl [P,T,3], pelvis and joints3d in camera metres.
    """
    from .mesh import MeshOptions, run_mesh

    _threads()
    people = _people(detector, imgsz, keypoints, keypoint_order, fix_swaps, person, min_frames, device,
                     detector_runtime)
    run_mesh(MeshOptions(video=video, checkpoint=checkpoint, people=people, pose_checkpoint=pose_checkpoint,
                         out=out, render=render, smpl_dir=smpl_dir, heads=heads, flip=flip, save_obj=save_obj,
                         save_verts=save_verts, focal=focal, opacity=opacity, start=start, end=end,
                         body=body.value, height=height), _console())


# ------------------------------------------------------------------------------------------------ train

class TrainPrecision(str, Enum):
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"


TS, AS = TrainSchedule, ActionTrainSchedule


def train_option(name: str, *flags: str, **kw):
    """A `train pose3d` option: None on the command line (a --config file may set it), else TrainSchedule's."""
    value = getattr(TS, name)
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return typer.Option(*flags, help=f"{help_of(TS, name).rstrip('.')} (default: {shown}, or the --config file's).",
                        **kw)


@train_app.command("pose3d")
def train_pose3d_cmd(
    data: List[Path] = typer.Option(..., "--data", help="Training data (repeatable): folders or files of BVH, our .npz, VideoPose3D .npz, MotionBERT MB3D clip folders."),
    out: Path = typer.Option(..., "--out", help="Folder for best.bin, last.bin, train_state.pt and log.jsonl."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this checkpoint (official or ours) instead of random weights."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON file with TrainConfig fields (sizes, epochs, lr, augment...)."),
    epochs: Annotated[Optional[int], train_option("epochs", "--epochs", min=1)] = None,
    steps_per_epoch: Annotated[Optional[int], train_option("steps_per_epoch", "--steps-per-epoch", min=1)] = None,
    batch_size: Annotated[Optional[int], train_option("batch_size", "--batch-size", min=1)] = None,
    lr: Annotated[Optional[float], train_option("lr", "--lr", min=0.0)] = None,
    precision: Annotated[Optional[TrainPrecision], train_option("precision", "--precision")] = None,
    heads: Optional[int] = typer.Option(None, "--heads", help="Attention heads (new models) or of the --init checkpoint."),
    seed: Annotated[Optional[int], train_option("seed", "--seed")] = None,
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/train_state.pt."),
    device: Device = typer.Option(Device.auto, "--device", help="Where to train."),
    val: Optional[Path] = typer.Option(None, "--val", help="Evaluate each epoch on this VideoPose3D 3D file's Validate/ subjects with the ground-truth 2D beside it (data_2d_<name>_gt.npz); the best P-MPJPE picks best.bin."),
):
    """Train a 2D-to-3D lifter (DSTformer) from 3D motion, with 2D made by random virtual cameras.

    Runs with DDP when started by torchrun: torchrun --nproc-per-node N -m motionbert_cli train pose3d ...
    """

    from .train import TrainConfig, train_pose3d

    _threads()
    cfg = TrainConfig.from_file(config, epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                                lr=lr, precision=precision.value if precision else None, seed=seed)
    console = _console()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(), console=console,
                  disable=int(os.environ.get("RANK", 0)) != 0) as prog:
        task = prog.add_task("train", total=cfg.epochs * cfg.steps_per_epoch, epoch=1, loss=float("nan"))
        started = [False]

        def progress(epoch, step, loss):
            if not started[0]:  # after --resume: start the bar (and its ETA) where training picks up
                prog.reset(task, completed=epoch * cfg.steps_per_epoch + step - 1)
                started[0] = True
            prog.update(task, completed=epoch * cfg.steps_per_epoch + step, epoch=epoch + 1, loss=loss)

        def log(msg):
            prog.console.print(msg, markup=False, highlight=False)

        best = train_pose3d([str(d) for d in data], out, cfg, init=str(init) if init else None, resume=resume,
                            device=_resolve_device(device), num_heads=heads, log=log, progress=progress,
                            val=_val_spec(val) if val else None)
    if int(os.environ.get("RANK", 0)) == 0:
        console.print(f"best checkpoint: {best}")


def _val_spec(path: Path) -> dict:
    """--val FILE: evaluate_videopose3d's arguments for FILE and the ground-truth 2D beside it, checked now."""
    p = Path(path)
    two_d = p.with_name(p.name.replace("data_3d_", "data_2d_").replace(".npz", "_gt.npz"))
    if not p.is_file() or not two_d.is_file():
        raise UserError(f"--val {p}: needs the VideoPose3D 3D file and its ground-truth 2D beside it ({two_d.name})")
    return {"data3d": str(p), "data2d": str(two_d), "subjects": ["Validate/"], "actions": ["Walking", "Jog", "Box"]}


@train_app.command("action")
def train_action_cmd(
    data: Path = typer.Option(..., "--data", help="Folder of examples, one sub-folder per class: DATA/<class>/<videos, keypoint files or 3D motion (.npz, .bvh)>."),
    out: Path = typer.Option(..., "--out", help="Folder for action.bin (carries the class names) and report.json."),
    init: Optional[Path] = typer.Option(None, "--init", help="Backbone to start from: any pose3d, action or mesh checkpoint, official or ours (default: the shipped lifter)."),
    val_dir: Optional[Path] = typer.Option(None, "--val-dir", help="Validation examples laid out like --data (default: hold out --val-split of each class's files)."),
    val_split: Annotated[float, option(AS, "val_split", "--val-split", min=0.0, max=0.9)] = AS.val_split,
    finetune_backbone: Annotated[bool, option(AS, "finetune_backbone", "--finetune-backbone")] = AS.finetune_backbone,
    steps: Annotated[int, option(AS, "steps", "--steps", min=1)] = AS.steps,
    epochs: Annotated[int, option(AS, "epochs", "--epochs", min=1)] = AS.epochs,
    views: Annotated[int, option(AS, "views", "--views", min=1)] = AS.views,
    lr: Annotated[float, option(AS, "lr", "--lr", min=0.0)] = AS.lr,
    lr_backbone: Annotated[float, option(AS, "lr_backbone", "--lr-backbone", min=0.0)] = AS.lr_backbone,
    seed: Annotated[int, option(AS, "seed", "--seed")] = AS.seed,
    heads: Heads = PO.heads,
    detector: Detector = P.detector,
    imgsz: Imgsz = P.imgsz,
    device: DeviceOpt = DEVICE,
):
    """Train an action classifier on your own classes, on top of a MotionBERT backbone.

    The checkpoint works with `motionbert action -c OUT/action.bin clip.mp4`."""
    from rich.table import Table

    from .action_train import ActionTrainConfig, train_action
    from .progress import Stages

    _threads()
    cfg = ActionTrainConfig(steps=steps, epochs=epochs, views=views, lr=lr, lr_backbone=lr_backbone, val_split=val_split,
                            finetune_backbone=finetune_backbone, seed=seed)
    console = _console()
    dev = _resolve_device(device)
    with Stages(console) as stages:
        rep = train_action(data, out, cfg, init=init, val_dir=val_dir, heads=heads, detector=detector,
                           device=dev, imgsz=imgsz, stages=stages,
                           log=lambda m: console.print(m, markup=False, highlight=False))
    from rich.console import Console

    out_console = Console()  # the result goes to stdout, progress and logs to stderr
    if rep.confusion is not None:
        out_console.print(f"validation accuracy {rep.val_accuracy:.3f} on {rep.val_files} files")
        table = Table(title="confusion (rows: true class, columns: predicted)")
        table.add_column("class")
        for i in range(len(rep.classes)):
            table.add_column(str(i + 1), justify="right")
        for i, (name, row) in enumerate(zip(rep.classes, rep.confusion)):
            table.add_row(f"{i + 1} {name}", *[str(v) for v in row])
        out_console.print(table)
    console.print(f"[green]wrote[/] {Path(out) / 'action.bin'} and report.json ({rep.seconds:.0f} s)")


# ------------------------------------------------------------------------------------------------- eval

@eval_app.command("pose3d")
def eval_pose3d_cmd(
    data: Path = typer.Option(..., "--data", help="VideoPose3D 3D file (data_3d_*.npz), H36M samples (npz with S and part) or our motion npz (joints3d)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Pose3d checkpoint (default: the shipped pair that pose3d uses)."),
    data_2d: Optional[Path] = typer.Option(None, "--data-2d", help="Matching 2D file (default: data_2d_<name>_gt.npz beside --data)."),
    subjects: str = typer.Option("Validate/", "--subjects", help="Comma-separated subject names or prefixes."),
    actions: str = typer.Option("Walking,Jog,Box", "--actions", help="Comma-separated actions ('' for all)."),
    heads: Heads = PO.heads,
    flip: Flip = PO.flip,
    precision: Annotated[Precision, option(PO, "precision", "--precision")] = Precision(PO.precision),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
    device: DeviceOpt = DEVICE,
):
    """MPJPE, N-MPJPE and P-MPJPE (mm), per action and overall."""
    from rich.table import Table

    from .evaluate import evaluate_file
    from .fileio import write_json_atomic
    from .lift import members
    from .lift import load_pose3d

    _threads()
    model = load_pose3d(checkpoint, heads, _resolve_device(device))
    if data_2d is None:
        guess = data.with_name(data.name.replace("data_3d_", "data_2d_").replace(".npz", "_gt.npz"))
        data_2d = guess if guess.is_file() else None
    res = evaluate_file(model, data, data_2d, subjects=[s for s in subjects.split(",") if s] or None,
                               actions=[a for a in actions.split(",") if a] or None, flip=flip,
                               precision=precision.value)
    names = " + ".join(Path(m.source).name for m in members(model))
    table = Table(title=f"{names} on {data.name}")
    cols = ["mpjpe", "n_mpjpe", "p_mpjpe", "frames"]
    table.add_column("action")
    for c in cols:
        table.add_column(c.upper().replace("_", "-"), justify="right")
    for name, row in [*sorted(res["per_action"].items()), ("overall", res["overall"])]:
        table.add_row(name, *[f"{row[c]:.1f}" if c != "frames" and c in row else str(row.get(c, "-")) for c in cols])
    from rich.console import Console

    Console().print(table)
    if json_out:
        write_json_atomic(json_out, res)


def _prepare_process() -> None:
    """Process-wide settings, once, before torch, OpenCV or Ultralytics are imported: OpenMP may use every
    core (Ultralytics pins OMP_NUM_THREADS=1 when it finds it unset, which would slow the lifter and the
    SMPL layer too), and FFmpeg's and OpenCV's own messages stay off stderr, where our errors are one line."""
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


def main() -> None:
    _prepare_process()
    stop.install()
    try:
        app(prog_name="motionbert")  # also under `python -m motionbert_cli`
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Typer turns it into exit 130 itself; this is for anything outside its reach
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit as e:
        if e.code == 130 and stop.terminated():
            # Staging folders are already removed. Leave now: runs stopped by SIGTERM have been seen to end
            # by SIGINT (-2, no traceback) instead of with the 130 scripts expect; exiting here rules it out.
            print("terminated", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise


if __name__ == "__main__":
    main()
