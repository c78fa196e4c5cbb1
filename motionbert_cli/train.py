"""Training the DSTformer to lift 2D to 3D (MotionBERT's pose3d stage), on one process or under torchrun.

Losses as MotionBERT: 3D position (MPJPE) + lambda_scale * N-MPJPE + lambda_velocity * velocity error.
Data: any mix that `mocap.load_training_data` reads; 2D comes from `synth.Sampler` (random cameras, noise,
masks, flips, bone scaling). An "epoch" is a fixed number of sampled batches, since sampling never runs out.

Under `torchrun --nproc-per-node N motionbert train pose3d ...` each process samples its own batches (seeded by
rank) and gradients are averaged by DistributedDataParallel; only rank 0 writes files.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model, save_model
from .errors import UserError
from .evaluate import evaluate_videopose3d
from .lift import cpu_has_native_bf16
from .mocap import load_training_data
from .model import DSTformer, DSTformerConfig, count_parameters
from .options import TrainSchedule
from .synth import AugmentConfig, Sampler


def cpu_lifter_config(**overrides) -> DSTformerConfig:
    """The architecture `train pose3d` builds by default: the shipped CPU lifter's first stage (1.2M params)."""
    return DSTformerConfig(**{"dim_feat": 96, "dim_rep": 192, "depth": 4, "num_heads": 8, "mlp_ratio": 2.0,
                              "maxlen": 27, "residual_xy": True, **overrides})


@dataclass
class TrainConfig(TrainSchedule):
    """Everything a training run uses: the optimisation (options.TrainSchedule: epochs, lr, losses, seed...),
    the network and the augmentation of the 2D."""

    # the network to build (ignored with --init, which brings its own architecture; see grow)
    model: DSTformerConfig = field(default_factory=cpu_lifter_config)
    # With --init: grow the loaded model before training, e.g. {"maxlen": 81, "depth": 6, "residual_xy": false}
    # (see grow_model). Empty: train the loaded architecture as it is.
    grow: dict = field(default_factory=dict)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_file(cls, path: str | Path | None, **overrides) -> "TrainConfig":
        data: dict = {}
        if path:
            p = Path(path)
            if not p.is_file():
                raise UserError(f"config file not found: {p}")
            try:
                data = json.loads(p.read_text())
            except json.JSONDecodeError as e:
                raise UserError(f"{p} is not valid JSON: {e}") from None
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """From JSON-like data: TrainConfig fields, `augment` and `model` sub-dicts; DSTformerConfig fields may
        also stand at the top level (the flat configs the shipped stages were trained with)."""
        data = dict(data)
        model_keys = {f.name for f in fields(DSTformerConfig)}
        model = {**{k: data.pop(k) for k in list(data) if k in model_keys}, **(data.pop("model", None) or {})}
        if set(model) - model_keys:
            raise UserError(f"unknown model options {sorted(set(model) - model_keys)}; known: {sorted(model_keys)}")
        known = {f.name for f in fields(cls)} - {"model"}
        unknown = set(data) - known
        if unknown:
            raise UserError(f"unknown training options {sorted(unknown)}; known: {sorted(known | model_keys)}")
        aug = data.pop("augment", {}) or {}
        aug_known = {f.name for f in fields(AugmentConfig)}
        if set(aug) - aug_known:
            raise UserError(f"unknown augment options {sorted(set(aug) - aug_known)}; known: {sorted(aug_known)}")
        return cls(**data, model=cpu_lifter_config(**model),
                   augment=AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in aug.items()}))


def grow_model(model: DSTformer, maxlen: int | None = None, depth: int | None = None,
               residual_xy: bool | None = None) -> DSTformer:
    """A larger DSTformer that starts from `model`'s weights (a warm start for a bigger lifter).

    maxlen: the temporal embedding is resampled (linear interpolation over time) to the new window length.
    depth: new layers are appended whose attention and MLP output projections start at zero, so they begin
    as identities (both streams equal, so the fusion passes them through) and the grown model computes
    exactly what the old one did. residual_xy: switched as asked; switching it off changes the output, which
    training then corrects (the network has to learn to reproduce the 2D it is given).
    """
    cfg = DSTformerConfig(**{**model.cfg.to_dict(), **{k: v for k, v in
                             {"maxlen": maxlen, "depth": depth, "residual_xy": residual_xy}.items() if v is not None}})
    if cfg.maxlen < model.cfg.maxlen or cfg.depth < model.cfg.depth:
        raise UserError(f"grow: cannot shrink the model (maxlen {model.cfg.maxlen} -> {cfg.maxlen}, "
                        f"depth {model.cfg.depth} -> {cfg.depth})")
    new = DSTformer(cfg)
    state = model.state_dict()
    te = state["temp_embed"]  # [1, maxlen, 1, d]
    if te.shape[1] != cfg.maxlen:
        state["temp_embed"] = torch.nn.functional.interpolate(
            te[0, :, 0].T[None], size=cfg.maxlen, mode="linear", align_corners=True)[0].T[None, :, None]
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    with torch.no_grad():
        for i in range(model.cfg.depth, cfg.depth):
            for blk in (new.blocks_st[i], new.blocks_ts[i]):
                for lin in (blk.attn_s.proj, blk.attn_t.proj, blk.mlp_s.fc2, blk.mlp_t.fc2):
                    lin.weight.zero_()
                    lin.bias.zero_()
    new.task = model.task
    return new


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' on CUDA and on CPUs with native bf16 arithmetic, else 'fp32' (bf16 emulated on an
    AVX2-only CPU made a training step ~10x slower than fp32 here)."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or cpu_has_native_bf16() else "fp32"


def loss_terms(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """pred, gt [B, T, J, 3] -> {'mpjpe', 'mse', 'n_mpjpe', 'velocity'} (network units).

    Joints whose target is NaN (a clip that does not define them the way the loss is scored:
    mocap.target_mask) are left out of every term."""
    valid = torch.isfinite(gt).all(-1, keepdim=True)  # [B, T, J, 1]
    if bool(valid.all()):
        d = pred - gt
        out = {"mpjpe": d.norm(dim=-1).mean(), "mse": d.pow(2).sum(-1).mean()}
        p, g = pred - pred[..., :1, :], gt - gt[..., :1, :]
        s = (p * g).sum((-1, -2), keepdim=True) / (p * p).sum((-1, -2), keepdim=True).clamp_min(1e-8)
        out["n_mpjpe"] = (s * p - g).norm(dim=-1).mean()
        if pred.shape[1] > 1:
            out["velocity"] = ((pred[:, 1:] - pred[:, :-1]) - (gt[:, 1:] - gt[:, :-1])).norm(dim=-1).mean()
        else:
            out["velocity"] = pred.new_zeros(())
        return out
    w = valid.to(pred.dtype)
    gt = torch.where(valid, gt, pred.detach())  # masked joints: no error, no gradient

    def mean(e, m):  # e [..., J], m [..., J, 1]
        return (e * m[..., 0]).sum() / m.sum().clamp_min(1)

    d = pred - gt
    out = {"mpjpe": mean(d.norm(dim=-1), w), "mse": mean(d.pow(2).sum(-1), w)}
    p, g = (pred - pred[..., :1, :]) * w, (gt - gt[..., :1, :]) * w
    s = (p * g).sum((-1, -2), keepdim=True) / (p * p).sum((-1, -2), keepdim=True).clamp_min(1e-8)
    out["n_mpjpe"] = mean((s * p - g).norm(dim=-1), w)
    if pred.shape[1] > 1:
        v = ((pred[:, 1:] - pred[:, :-1]) - (gt[:, 1:] - gt[:, :-1])).norm(dim=-1)
        out["velocity"] = mean(v, w[:, 1:] * w[:, :-1])
    else:
        out["velocity"] = pred.new_zeros(())
    return out


def _dist_info() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def train_pose3d(data: list[str], out: str | Path, cfg: TrainConfig, init: str | None = None,
                 resume: bool = False, device: str = "auto", num_heads: int | None = None,
                 val: dict | None = None, log=print, progress=None) -> Path:
    """Train and return the path of the best checkpoint (ours: `best.bin`; `last.bin` each epoch).

    val: optional {'data3d': ..., 'data2d': ..., 'subjects': [...], 'actions': [...]} evaluated each epoch
    (`train pose3d --val`); the best P-MPJPE picks `best.bin` (else the lowest training loss does). Each epoch's
    numbers are appended to OUT/log.jsonl.
    """
    rank, world, local_rank = _dist_info()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(f"cuda:{local_rank}" if device == "cuda" and world > 1 else device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    out = Path(out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    motions, paired = load_training_data(data)
    frames = sum(m.joints.shape[0] for m in motions) + sum(c.x2d.shape[0] for c in paired)
    if rank == 0:
        log(f"data: {len(motions)} motion clips + {len(paired)} paired clips, {frames} frames")
    sampler = Sampler(motions, paired, cfg.augment)
    if rank == 0 and any(m.meta.get("cameras") for m in motions):
        log(f"{sum(bool(m.meta.get('cameras')) for m in motions)} clips come with their real cameras")

    if init:
        model = load_model(init, num_heads=num_heads)
        model = getattr(model, "backbone", model)  # action/mesh checkpoints: finetune their backbone
        if model.cfg.dim_out != 3:
            raise UserError(f"--init {init}: its output head has {model.cfg.dim_out} channels, expected 3")
        if cfg.grow:
            unknown = set(cfg.grow) - {"maxlen", "depth", "residual_xy"}
            if unknown:
                raise UserError(f"grow: unknown keys {sorted(unknown)}; known: depth, maxlen, residual_xy")
            model = grow_model(model, **cfg.grow)
    else:
        model = DSTformer(replace(cfg.model, num_heads=num_heads or cfg.model.num_heads))
    model.task = "pose3d"
    # inference normalises by the box size the network was trained on: the middle of the augmented range
    model.cfg = replace(model.cfg, box_ratio=float(np.mean(cfg.augment.box_ratio)))
    model.to(dev).train()
    T = model.cfg.maxlen
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embed" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    total_steps = cfg.epochs * cfg.steps_per_epoch

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))

    state_path = out / "train_state.pt"
    start_epoch, best, history = 0, float("inf"), []
    if resume:
        if not state_path.is_file():
            raise UserError(f"--resume: no {state_path} to resume from (train once without --resume)")
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        start_epoch, best, history = st["epoch"], st["best"], st["history"]
        if rank == 0:
            log(f"resumed after epoch {start_epoch}")
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None) \
        if world > 1 else model
    rng = np.random.default_rng(cfg.seed + 1000 * rank + 7919 * start_epoch)
    precision = resolve_precision(cfg.precision, dev)
    amp = precision in ("bf16", "fp16")
    amp_dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if rank == 0:
        log(f"model: {count_parameters(model) / 1e6:.2f}M parameters, window {T} frames; precision {precision}")
    meta = {"train_config": asdict(cfg), "data": [str(d) for d in data], "frames": frames,
            "init": str(init) if init else None,
            # what the output joints are (lift.output_definitions): Human3.6M's mocap joints, or the detector's
            "joints": "h36m" if cfg.augment.h36m_targets else "detector"}
    t0 = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        sums: dict[str, float] = {}
        for i in range(cfg.steps_per_epoch):
            step = epoch * cfg.steps_per_epoch + i
            Tb = T if rng.random() >= cfg.short_clip_p else int(rng.integers(max(2, T // 8), T + 1))
            x, y = sampler.batch(rng, cfg.batch_size, Tb)
            x, y = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp):
                pred = ddp(x)
            terms = loss_terms(pred.float(), y)
            loss = (cfg.lambda_mpjpe * terms["mpjpe"] + cfg.lambda_mse * terms["mse"]
                    + cfg.lambda_scale * terms["n_mpjpe"] + cfg.lambda_velocity * terms["velocity"])
            if not torch.isfinite(loss):
                raise UserError(f"training diverged: loss is {loss.item()} at epoch {epoch + 1} step {i + 1}. "
                                f"Lower the learning rate (--lr) or use --precision fp32; "
                                f"resume from the last good epoch with --resume")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            for k, v in {"loss": loss, **terms}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            if progress and rank == 0:
                progress(epoch, i + 1, float(loss.detach()))
        avg = {k: v / cfg.steps_per_epoch for k, v in sums.items()}
        elapsed = time.time() - t0
        record = {"epoch": epoch + 1, **avg, "elapsed_s": round(elapsed, 1),
                  "eta_s": round(elapsed / (epoch + 1 - start_epoch) * (cfg.epochs - epoch - 1))}
        score = avg["loss"]
        if rank == 0:
            model.eval()
            if val:
                res = evaluate_videopose3d(model, **val)
                record["val"] = res["overall"]
                score = res["overall"]["p_mpjpe"]
            model.train()
            history.append(record)
            with open(out / "log.jsonl", "a") as f:  # one line per epoch, whoever calls us
                f.write(json.dumps(record) + "\n")
            meta_e = {**meta, "history": history, "epoch": epoch + 1}
            save_model(model, out / "last.bin", meta_e)
            if score < best:
                best = score
                save_model(model, out / "best.bin", {**meta_e, "best_score": best})
            tmp = state_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                        "best": best, "history": history}, tmp)
            os.replace(tmp, state_path)
            log(json.dumps(record))
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if rank == 0:
        log(f"trained {count_parameters(model) / 1e6:.2f}M parameters in {time.time() - t0:.0f} s; "
            f"best score {best:.4g}")
    return out / "best.bin"
