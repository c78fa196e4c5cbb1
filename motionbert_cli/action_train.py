"""`motionbert train action`: an action classifier on the user's own classes, on top of a MotionBERT backbone.

Examples live in `DIR/<class name>/`: videos (people detected as `pose3d` does), keypoint files, or 3D motion
(our/mocap `.npz` with `joints3d`, `.bvh`), which is seen through random virtual cameras with detector-like
2D errors, as `train pose3d` does. Every example becomes the network's input exactly as `motionbert action`
prepares a clip for these models (`action.prepare_windows`: one person, at 30 fps, in windows of the
backbone's length whose representations are averaged), so training and use agree.

By default the backbone is frozen: its clip features are computed once per augmented view and only the head
learns (minutes on 2 cores). `--finetune-backbone` trains both (slower, needs more examples).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .action import KEYPOINT_EXTS, VIDEO_EXTS, clip_keypoints, model_frames, prepare_windows
from .checkpoint import CheckpointError, default_checkpoint, load_model, save_model
from .errors import UserError
from .heads import ActionConfig, ActionNet
from .keypoints import H36M_FLIP_PERM
from .options import DEFAULT_IMGSZ, ActionTrainSchedule
from .mocap import Motion, read_bvh, read_npz, to_detector_joints
from .synth import AugmentConfig, detector_noise, project

MOTION_EXTS = {".bvh"}  # .npz is told apart by its contents (3D joints3d vs 2D keypoints)


@dataclass
class ViewConfig:
    """The virtual cameras that see 3D examples (degrees, metres). The defaults leave out the high, far
    cameras of HELD_OUT_VIEWS, so accuracy there measures viewpoints training never saw."""

    elevation_deg: tuple[float, float] = (-10.0, 30.0)
    distance_m: tuple[float, float] = (3.0, 8.0)
    fov_deg: tuple[float, float] = (40.0, 80.0)


HELD_OUT_VIEWS = ViewConfig(elevation_deg=(40.0, 55.0), distance_m=(8.0, 12.0), fov_deg=(30.0, 50.0))


@dataclass
class ActionTrainConfig(ActionTrainSchedule):
    """options.ActionTrainSchedule (steps, epochs, views, lr, lr_backbone, val_split, finetune_backbone, seed) and
    the rest."""

    batch_size: int = 64
    weight_decay: float = 1e-2
    hidden_dim: int = 512
    dropout: float = 0.5
    pool: str = "mean_std"        # heads.ActionConfig.pool: mean and spread of the representation over time
    standardize: bool = True      # heads.ActionConfig.standardize: features scaled by the training views' mean, std
    crop: tuple[float, float] = (0.6, 1.0)  # each view keeps a random stretch of this share of the clip
    view: ViewConfig = field(default_factory=ViewConfig)


@dataclass
class Example:
    label: int
    path: Path
    motion: Motion | None = None          # 3D examples
    kpts: np.ndarray | None = None        # 2D examples: [T, J, 3] pixels + confidence (the main person)
    frame_size: tuple[int, int] = (1000, 1000)
    layout: str = "h36m"
    fps: float = 30.0


# ------------------------------------------------------------------------------------------------ data

def class_folders(root: Path) -> list[tuple[str, list[Path]]]:
    """[(class name, files)] of DIR/<class>/; one-line errors for what cannot be trained on."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"training folder not found: {root} (expected one sub-folder of examples per class)")
    exts = VIDEO_EXTS | KEYPOINT_EXTS | MOTION_EXTS
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.iterdir() if f.suffix.lower() in exts and not f.name.startswith("."))
        if not files:
            raise UserError(f"class folder {sub} holds no examples: add videos, keypoint files or 3D motion "
                            f"(.npz, .bvh), or remove the folder")
        out.append((sub.name, files))
    if len(out) < 2:
        raise UserError(f"{root} has {len(out)} class folder{'s' if len(out) != 1 else ''}: a classifier needs at "
                        f"least two (DIR/<class name>/<examples>)")
    return out


def _is_3d_npz(path: Path) -> bool:
    with np.load(path, allow_pickle=False) as d:
        return "joints3d" in d.files and "keypoints2d" not in d.files


def load_example(path: Path, label: int, detector, device: str, imgsz: int, stages) -> Example:
    """Read one example: 3D motion as it is; videos and keypoint files reduced to their main person."""
    suffix = path.suffix.lower()
    if suffix == ".bvh" or (suffix == ".npz" and _is_3d_npz(path)):
        m = read_bvh(path) if suffix == ".bvh" else read_npz(path)
        if m.joints.shape[0] < 2:
            raise UserError(f"{path} holds {m.joints.shape[0]} frame: an action example needs at least 2")
        return Example(label, path, motion=m)
    try:
        ck = clip_keypoints(path, detector, device, imgsz, stages)
    except UserError as e:
        raise UserError(f"training example {path}: {e}") from None
    if ck.num_frames < 2:
        raise UserError(f"{path} has {ck.num_frames} frame: an action example needs at least 2")
    return Example(label, path, kpts=ck.kpts[0], frame_size=ck.frame_size, layout=ck.layout, fps=ck.fps)


def _virtual_view(joints: np.ndarray, rng: np.random.Generator, view: ViewConfig) -> np.ndarray:
    """World joints [T, 17, 3] (Y up) -> detector-like 2D [T, 17, 3] (pixels of a 1000 px image + conf):
    a camera of `view` aimed at the mean pelvis, then the errors measured on real YOLO 2D."""
    aug = AugmentConfig(elevation_deg=view.elevation_deg, distance_m=view.distance_m, fov_deg=view.fov_deg,
                        drift_px=0.015, burst_p=0.006, swap_p=0.003)
    uv, _ = project(joints, rng, aug, aim_jitter_m=0.0)
    uv, conf = detector_noise(uv, rng, aug)
    return np.concatenate([uv, conf], -1)


def make_input(ex: Example, rng: np.random.Generator, T: int, cfg: ActionTrainConfig,
               view: ViewConfig | None = None, augment: bool = True) -> np.ndarray:
    """One network input [K, T, 17, 3] (K windows, see prepare_windows) from an example. 3D examples are
    seen through a random camera of `view` (default cfg.view); augment adds a random stretch of the clip,
    mirroring and extra jitter, else the whole clip is used as `motionbert action` sees it."""
    if ex.motion is not None:
        j = to_detector_joints(ex.motion.joints.astype(np.float64))
        if augment and rng.random() < 0.5:
            j = j[:, H36M_FLIP_PERM] * np.array([-1.0, 1.0, 1.0])
        j = _crop(j, rng, cfg.crop) if augment else j
        kpts, size, layout, fps = _virtual_view(j, rng, view or cfg.view), (1000, 1000), "h36m", ex.motion.fps
    else:
        kpts, size, layout, fps = (_crop(ex.kpts, rng, cfg.crop) if augment else ex.kpts), ex.frame_size, ex.layout, ex.fps
        if augment:  # a little extra jitter on detected keypoints
            kpts = kpts.copy()
            kpts[..., :2] += rng.normal(0, 0.005 * max(size), kpts[..., :2].shape) * (kpts[..., 2:] > 0)
    return prepare_windows(kpts, size, fps, T, layout)


def validation_inputs(examples: list[Example], T: int, cfg: ActionTrainConfig, view: ViewConfig | None = None,
                      seed: int = 1234) -> list[np.ndarray]:
    """Each example whole ([K, T, 17, 3]), 3D ones through one camera each (fixed per example and seed)."""
    return [make_input(e, np.random.default_rng(seed + i), T, cfg, view, augment=False)
            for i, e in enumerate(examples)]


def _crop(x: np.ndarray, rng: np.random.Generator, share: tuple[float, float]) -> np.ndarray:
    if len(x) < 4:
        return x
    n = max(2, int(round(len(x) * rng.uniform(*share))))
    s = int(rng.integers(0, len(x) - n + 1))
    return x[s:s + n]


def split_examples(files: list[tuple[str, list[Path]]], val_split: float, rng: np.random.Generator):
    """Per class: (train files, validation files), at least one of each when the class has two or more."""
    train, val = [], []
    for label, (_, fs) in enumerate(files):
        idx = rng.permutation(len(fs))
        n_val = int(round(len(fs) * val_split)) if len(fs) > 1 else 0
        n_val = min(max(n_val, 1 if len(fs) > 1 and val_split > 0 else 0), len(fs) - 1)
        val += [(label, fs[i]) for i in idx[:n_val]]
        train += [(label, fs[i]) for i in idx[n_val:]]
    return train, val


# ------------------------------------------------------------------------------------------------ model

def action_model(init: str | Path | None, names: list[str], cfg: ActionTrainConfig,
                 heads: int | None) -> tuple[ActionNet, bool]:
    """A fresh classification head on the backbone of `init` (a pose3d, action or mesh checkpoint; default
    the shipped lifter), or, when `init` is an action checkpoint of these very classes (its own head's shape
    and pooling), that whole model: its head then goes on learning from where it was (train the head alone
    first, then --finetune-backbone from it). Returns (model, whether the head came with it)."""
    src = init or default_checkpoint()
    try:
        base = load_model(src, num_heads=heads)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    if (base.task == "action" and list(base.meta.get("classes") or []) == list(names)
            and base.head_cfg.hidden_dim == cfg.hidden_dim and base.head_cfg.pool == cfg.pool):
        return base, True
    backbone = base if base.task == "pose3d" else base.backbone
    return ActionNet(backbone, ActionConfig(num_classes=len(names), hidden_dim=cfg.hidden_dim, dropout=cfg.dropout,
                                            pool=cfg.pool, standardize=cfg.standardize)), False


@torch.no_grad()
def pooled_features(model: ActionNet, inputs: list[np.ndarray], batch_frames: int = 2048) -> torch.Tensor:
    """Inputs (each [K, T, 17, 3]) -> the pooled clip features [N, J*C or J*2C] that the head's own pooling
    computes (over time within each window, then over windows), so training the head on these equals training
    it on the full representation. Windows of several inputs share a forward pass."""
    out, pending, sizes = [], [], []

    def flush():
        if not pending:
            return
        rep = model.backbone.get_representation(torch.from_numpy(np.concatenate(pending)))  # [sum K, T, J, C]
        per_window = model.head.time_pool(rep[None])[0]  # [sum K, J, C']
        for chunk in torch.split(per_window, sizes):
            out.append(chunk.mean(0).reshape(-1))
        pending.clear()
        sizes.clear()

    T = inputs[0].shape[1] if inputs else 1
    for x in inputs:
        pending.append(x)
        sizes.append(len(x))
        if sum(sizes) * T >= batch_frames:
            flush()
    flush()
    return torch.stack(out)


def predict(model: ActionNet, inputs: list[np.ndarray]) -> np.ndarray:
    """Class indices [N] for inputs (each [K, T, 17, 3])."""
    model.eval()
    with torch.no_grad():
        return model.head.classify_pooled(pooled_features(model, inputs)).argmax(-1).numpy()


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    m = np.zeros((k, k), int)
    np.add.at(m, (y_true, y_pred), 1)
    return m


@dataclass
class TrainReport:
    classes: list[str]
    train_files: int
    val_files: int
    val_accuracy: float | None
    confusion: list[list[int]] | None       # rows: true class, columns: predicted
    seconds: float
    config: dict
    extra: dict = field(default_factory=dict)


def evaluate(model: ActionNet, inputs: list[np.ndarray], labels: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    pred = predict(model, inputs)
    return float((pred == labels).mean()), confusion(labels, pred, k)


def train_action(data: Path, out: Path, cfg: ActionTrainConfig, *, init: Path | None = None,
                 val_dir: Path | None = None, heads: int | None = None, detector=None, device: str = "cpu",
                 imgsz: int = DEFAULT_IMGSZ, stages=None, log=print) -> TrainReport:
    """Train, evaluate on the held-out files, write `out/action.bin` (with its class names) and
    `out/report.json`. Returns the report."""
    t_start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    classes = class_folders(data)
    names = [n for n, _ in classes]
    if val_dir is not None:
        val_classes = dict(class_folders(val_dir))
        unknown = sorted(set(val_classes) - set(names))
        if unknown:
            raise UserError(f"--val-dir has classes the training folder lacks: {', '.join(unknown)}")
        train_files = [(i, f) for i, (_, fs) in enumerate(classes) for f in fs]
        val_files = [(names.index(n), f) for n, fs in val_classes.items() for f in fs]
    else:
        train_files, val_files = split_examples(classes, cfg.val_split, rng)
    model, warm = action_model(init, names, cfg, heads)
    T = model_frames(model)

    def load(items, what):
        exs = []
        for n, (label, f) in enumerate(items):
            exs.append(load_example(f, label, detector, device, imgsz, stages))
            if (n + 1) % 200 == 0:
                log(f"{what}: read {n + 1}/{len(items)} examples")
        return exs

    train_ex, val_ex = load(train_files, "train"), load(val_files, "validation")
    log(f"{len(names)} classes, {len(train_ex)} training and {len(val_ex)} validation examples; "
        f"backbone window {T} frames, {'finetuned' if cfg.finetune_backbone else 'frozen'}"
        + ("; head and its feature scaling from --init" if warm else ""))
    per_class = [[e for e in train_ex if e.label == c] for c in range(len(names))]

    def draw_views(seed_rng):
        """A class-balanced set of augmented views: cfg.views per class, spread over the class's files."""
        xs, ys = [], []
        for c, exs in enumerate(per_class):
            for v in range(cfg.views):
                ex = exs[v % len(exs)]
                xs.append(make_input(ex, seed_rng, T, cfg))
                ys.append(c)
        return xs, np.asarray(ys)

    val_x = validation_inputs(val_ex, T, cfg) if val_ex else None
    val_y = np.asarray([e.label for e in val_ex])
    head_params = list(model.head.parameters())
    groups = [{"params": head_params, "lr": cfg.lr}]
    if cfg.finetune_backbone:
        groups.append({"params": list(model.backbone.parameters()), "lr": cfg.lr_backbone})
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.1)
    if not cfg.finetune_backbone:
        model.eval()
        model.backbone.requires_grad_(False)
        x, y = draw_views(rng)
        log(f"backbone features of {len(x)} views...")
        feats = pooled_features(model, x)
        if cfg.standardize and not warm:
            model.head.set_standardization(feats)
        val_feats = pooled_features(model, val_x) if val_x is not None else None
        yt = torch.from_numpy(y)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
        model.head.train()
        perm, pos = torch.randperm(len(feats)), 0
        bs = max(2, min(cfg.batch_size, len(feats)))
        for step in range(cfg.steps):
            if pos + bs > len(perm):  # next pass over the views
                perm, pos = torch.randperm(len(feats)), 0
            b = perm[pos:pos + bs]
            pos += bs
            loss = lossf(model.head.classify_pooled(feats[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if (step + 1) % max(1, cfg.steps // 5) == 0:
                msg = f"step {step + 1}/{cfg.steps}: loss {loss.item():.3f}"
                if val_feats is not None:
                    model.head.eval()
                    with torch.no_grad():
                        acc = float((model.head.classify_pooled(val_feats).argmax(-1).numpy() == val_y).mean())
                    msg += f", validation accuracy {acc:.3f}"
                    model.head.train()
                log(msg)
    else:
        steps_per_epoch = int(np.ceil(cfg.views * len(names) / cfg.batch_size))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps_per_epoch)
        if cfg.standardize and not warm:  # scaled once by the starting backbone's features: fixed and stored
            model.eval()
            model.head.set_standardization(pooled_features(model, draw_views(np.random.default_rng(cfg.seed + 1))[0]))
        for epoch in range(cfg.epochs):
            x, y = draw_views(rng)  # fresh views every pass
            model.train()
            perm = rng.permutation(len(x))
            advance, finish = (stages.stage(f"epoch {epoch + 1}/{cfg.epochs}", len(perm), "views") if stages
                               else (lambda n=1: None, lambda: None))
            for i in range(0, len(perm), cfg.batch_size):
                b = perm[i:i + cfg.batch_size]
                if len(b) < 2:
                    continue  # BatchNorm needs two samples
                loss = _finetune_step(model, [x[j] for j in b], torch.from_numpy(y[b]), lossf, opt)
                sched.step()
                advance(len(b))
            finish()
            msg = f"epoch {epoch + 1}/{cfg.epochs}: loss {loss.item():.3f}"
            if val_x is not None:
                acc, _ = evaluate(model, val_x, val_y, len(names))
                msg += f", validation accuracy {acc:.3f}"
            log(msg)
    model.backbone.requires_grad_(True)
    model.eval()
    acc = conf = None
    if val_x is not None and not cfg.finetune_backbone:  # the backbone did not change: reuse its features
        with torch.no_grad():
            pred = model.head.classify_pooled(val_feats).argmax(-1).numpy()
        acc, conf = float((pred == val_y).mean()), confusion(val_y, pred, len(names))
    elif val_x is not None:
        acc, conf = evaluate(model, val_x, val_y, len(names))
    report = TrainReport(classes=names, train_files=len(train_ex), val_files=len(val_ex), val_accuracy=acc,
                         confusion=conf.tolist() if conf is not None else None,
                         seconds=round(time.perf_counter() - t_start, 1), config=_jsonable(asdict(cfg)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.task = "action"
    save_model(model, out / "action.bin", meta={"classes": names, "input": "windows", "persons": "single",
                                               "window": T,
                                               "val_accuracy": acc,
                                               "init": Path(init).name if init else f"{default_checkpoint().name} (shipped)"})
    from .fileio import write_json_atomic

    write_json_atomic(out / "report.json", asdict(report))
    return report


def _finetune_step(model: ActionNet, xs: list[np.ndarray], y: torch.Tensor, lossf, opt) -> torch.Tensor:
    """One update of backbone and head on a batch of inputs (each [K, T, 17, 3], K windows), holding one
    input's autograd graph at a time: the head (its BatchNorm needs the whole batch) runs on pooled features
    computed without gradients, then each input's backbone pass is run again and given its share of the
    gradient. Exact (dropout replays its random draws); keeping all 64 graphs took > 17 GB with the 27-frame
    lifter."""
    states, pooled = [], []
    with torch.no_grad():
        for x in xs:  # inputs have different window counts: each through the backbone alone
            states.append(torch.get_rng_state())
            pooled.append(model.head.pool(model.features(torch.from_numpy(x)[None])))
    pooled = torch.cat(pooled).requires_grad_(True)
    loss = lossf(model.head.classify_pooled(pooled), y)
    opt.zero_grad()
    loss.backward()
    for k, x in enumerate(xs):
        torch.set_rng_state(states[k])
        model.head.pool(model.features(torch.from_numpy(x)[None])).backward(pooled.grad[k:k + 1])
    opt.step()
    return loss.detach()


def _jsonable(d):
    return json.loads(json.dumps(d, default=list))
