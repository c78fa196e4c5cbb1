"""The DSTformer: MotionBERT's dual-stream spatio-temporal transformer, in one file.

Shapes use B = batch, T = frames (<= maxlen), J = joints (17), C = channels.

    x [B, T, J, dim_in] --joints_embed + pos_embed + temp_embed--> [B, T, J, dim_feat]
      --depth x (ST block | TS block, fused by learned per-joint weights)--> [B, T, J, dim_feat]
      --norm, pre_logits (Linear + tanh)--> E [B, T, J, dim_rep] --head--> [B, T, J, dim_out]

Parameter names follow the official implementation so that official state dicts load with no renaming
(only wrapper prefixes are stripped, see `checkpoint.py`). Attention runs through
`torch.nn.functional.scaled_dot_product_attention` on GPUs (and when training with attention dropout), and
through two matmuls on CPUs, where that is faster; activations stay [B, T, J, C] throughout so the spatial
and temporal streams differ only in which axis attends.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DSTformerConfig:
    """Architecture sizes. Defaults are the official full model (MB_ft_h36m: 42.5M parameters)."""

    dim_in: int = 3
    dim_out: int = 3
    dim_feat: int = 512
    dim_rep: int = 512
    depth: int = 5
    num_heads: int = 8
    mlp_ratio: float = 2.0
    num_joints: int = 17
    maxlen: int = 243
    qkv_bias: bool = True
    att_fuse: bool = True
    norm_eps: float = 1e-6
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    # Ours, not in official models: add the input's 2D to the output's x, y so the network only learns the
    # correction (and depth). Makes small CPU-trained lifters converge far faster.
    residual_xy: bool = False
    # Ours: how much larger than the person's 2D bounding box the square box is that pose3d normalises each
    # window to [-1, 1] by. Official models: 1.0 (the official demo's crop_scale). Our lifters are trained on
    # boxes 1.0-1.4 times the person (synth.AugmentConfig.box_ratio) and are given the middle of that range.
    box_ratio: float = 1.0

    @classmethod
    def lite(cls, **kw) -> "DSTformerConfig":
        """The official "Lite" model (MB_ft_h36m_global_lite: dim_feat 256, 16.0M parameters)."""
        return cls(**{"dim_feat": 256, "mlp_ratio": 4.0, **kw})

    def to_dict(self) -> dict:
        return asdict(self)


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch per sample while training."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention over joints (`axis="spatial"`) or over frames (`axis="temporal"`).

    x [B, T, J, C] -> [B, T, J, C]. Spatial attention mixes the J joints of one frame; temporal attention
    mixes the T frames of one joint.
    """

    def __init__(self, dim: int, num_heads: int, axis: str, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if axis not in ("spatial", "temporal"):
            raise ValueError(f"axis must be 'spatial' or 'temporal', got {axis!r}")
        self.num_heads = num_heads
        self.axis = axis
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, J, C = x.shape
        H = self.num_heads
        qkv = self.qkv(x).view(B, T, J, 3, H, C // H)
        # Put the attended axis second to last: [B, T, H, J, d] (spatial) or [B, J, H, T, d] (temporal).
        perm = (3, 0, 1, 4, 2, 5) if self.axis == "spatial" else (3, 0, 2, 4, 1, 5)
        q, k, v = qkv.permute(*perm).unbind(0)
        drop = self.attn_drop if self.training else 0.0
        if x.is_cuda or drop:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:
            # On CPUs SDPA's kernels lose to two plain matmuls at these sizes (17 joints, <= 243 frames,
            # head dim 64): 94 vs 103 frames/s in fp32 and 143 vs 195 under bf16 autocast for the full model
            # (benchmarks/bench_dstformer.py). Same maths; GPUs keep the fused kernel.
            attn = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            out = attn.softmax(dim=-1) @ v
        # Back to [B, T, J, H, d], then merge heads.
        out = out.permute(0, 1, 3, 2, 4) if self.axis == "spatial" else out.permute(0, 3, 1, 2, 4)
        return self.proj_drop(self.proj(out.reshape(B, T, J, C)))


class Block(nn.Module):
    """One stream's layer: spatial then temporal (order "st") or temporal then spatial ("ts"),
    each a pre-norm attention + MLP residual pair."""

    def __init__(self, cfg: DSTformerConfig, order: str, drop_path: float = 0.0):
        super().__init__()
        dim, norm = cfg.dim_feat, lambda: nn.LayerNorm(cfg.dim_feat, eps=cfg.norm_eps)
        hidden = int(dim * cfg.mlp_ratio)
        self.order = order
        self.norm1_s, self.norm1_t = norm(), norm()
        self.norm2_s, self.norm2_t = norm(), norm()
        self.attn_s = Attention(dim, cfg.num_heads, "spatial", cfg.qkv_bias, cfg.attn_drop_rate, cfg.drop_rate)
        self.attn_t = Attention(dim, cfg.num_heads, "temporal", cfg.qkv_bias, cfg.attn_drop_rate, cfg.drop_rate)
        self.mlp_s = MLP(dim, hidden, cfg.drop_rate)
        self.mlp_t = MLP(dim, hidden, cfg.drop_rate)
        self.drop_path = DropPath(drop_path)

    def _spatial(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn_s(self.norm1_s(x)))
        return x + self.drop_path(self.mlp_s(self.norm2_s(x)))

    def _temporal(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn_t(self.norm1_t(x)))
        return x + self.drop_path(self.mlp_t(self.norm2_t(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.order == "st":
            return self._temporal(self._spatial(x))
        return self._spatial(self._temporal(x))


class DSTformer(nn.Module):
    """MotionBERT's motion encoder.

    forward(x) with x [B, T, J, dim_in] (T <= maxlen) -> [B, T, J, dim_out];
    get_representation(x) -> E [B, T, J, dim_rep] (the tanh-activated motion representation).
    """

    task = "pose3d"

    def __init__(self, cfg: DSTformerConfig | None = None, **overrides):
        super().__init__()
        cfg = cfg or DSTformerConfig()
        if overrides:
            cfg = DSTformerConfig(**{**cfg.to_dict(), **overrides})
        self.cfg = cfg
        d = cfg.dim_feat
        self.joints_embed = nn.Linear(cfg.dim_in, d)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_joints, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.maxlen, 1, d))
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        dpr = torch.linspace(0, cfg.drop_path_rate, cfg.depth).tolist()
        self.blocks_st = nn.ModuleList([Block(cfg, "st", dpr[i]) for i in range(cfg.depth)])
        self.blocks_ts = nn.ModuleList([Block(cfg, "ts", dpr[i]) for i in range(cfg.depth)])
        self.norm = nn.LayerNorm(d, eps=cfg.norm_eps)
        if cfg.dim_rep:
            self.pre_logits = nn.Sequential()
            self.pre_logits.add_module("fc", nn.Linear(d, cfg.dim_rep))
            self.pre_logits.add_module("act", nn.Tanh())
        else:
            self.pre_logits = nn.Identity()
        rep = cfg.dim_rep or d
        self.head = nn.Linear(rep, cfg.dim_out) if cfg.dim_out > 0 else nn.Identity()
        if cfg.att_fuse:
            self.ts_attn = nn.ModuleList([nn.Linear(2 * d, 2) for _ in range(cfg.depth)])
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.cfg.att_fuse:
            # Start as an even average of the two streams.
            for lin in self.ts_attn:
                nn.init.zeros_(lin.weight)
                nn.init.constant_(lin.bias, 0.5)

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.cfg
        if x.ndim != 4 or x.shape[2] != cfg.num_joints or x.shape[3] != cfg.dim_in:
            raise ValueError(f"expected input [B, T, {cfg.num_joints}, {cfg.dim_in}], got {list(x.shape)}")
        if x.shape[1] > cfg.maxlen:
            raise ValueError(f"{x.shape[1]} frames exceed this model's maxlen {cfg.maxlen}: "
                             f"lift longer sequences with motionbert_cli.lift_sequence(model, x), which runs "
                             f"blended windows as the CLI does")

    def get_representation(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, J, dim_in] -> E [B, T, J, dim_rep]."""
        self._check_input(x)
        T = x.shape[1]
        x = self.joints_embed(x) + self.pos_embed + self.temp_embed[:, :T]
        x = self.pos_drop(x)
        for i, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts)):
            x_st, x_ts = blk_st(x), blk_ts(x)
            if self.cfg.att_fuse:
                alpha = self.ts_attn[i](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)
                x = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
            else:
                x = (x_st + x_ts) * 0.5
        return self.pre_logits(self.norm(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, J, dim_in] -> [B, T, J, dim_out]."""
        y = self.head(self.get_representation(x))
        if self.cfg.residual_xy:
            y = torch.cat([y[..., :2] + x[..., :2], y[..., 2:]], dim=-1)
        return y


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

