"""DSTformer speed: ours (SDPA, [B, T, J, C] layout) against a plain eager implementation of the same maths.

The reference follows the official code's layout ([B*T, J, C] tokens, explicit q @ k^T, softmax, @ v, with
reshapes between the spatial and temporal views) and loads the very same weights, so the table also shows the
largest output difference. Prints one table; run on an idle machine:

    python benchmarks/bench_dstformer.py [--repeats 3] [--configs full,lite] [--batches 1,2]
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

from motionbert_cli.model import DSTformer, DSTformerConfig


class RefAttention(nn.Module):
    def __init__(self, dim, heads, mode):
        super().__init__()
        self.h, self.mode, self.scale = heads, mode, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, T):
        BT, N, C = x.shape
        qkv = self.qkv(x).reshape(BT, N, 3, self.h, C // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.mode == "spatial":
            a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(-1)
            x = (a @ v).transpose(1, 2).reshape(BT, N, C)
        else:
            qt, kt, vt = (t.reshape(-1, T, self.h, N, C // self.h).permute(0, 2, 3, 1, 4) for t in (q, k, v))
            a = ((qt @ kt.transpose(-2, -1)) * self.scale).softmax(-1)
            x = (a @ vt).permute(0, 3, 2, 1, 4).reshape(BT, N, C)
        return self.proj(x)


class RefMLP(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, h), nn.Linear(h, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class RefBlock(nn.Module):
    def __init__(self, cfg, order):
        super().__init__()
        d = cfg.dim_feat
        self.order = order
        for n in ("norm1_s", "norm1_t", "norm2_s", "norm2_t"):
            setattr(self, n, nn.LayerNorm(d, eps=cfg.norm_eps))
        self.attn_s, self.attn_t = RefAttention(d, cfg.num_heads, "spatial"), RefAttention(d, cfg.num_heads, "temporal")
        self.mlp_s, self.mlp_t = RefMLP(d, int(d * cfg.mlp_ratio)), RefMLP(d, int(d * cfg.mlp_ratio))

    def forward(self, x, T):
        def s(x):
            x = x + self.attn_s(self.norm1_s(x), T)
            return x + self.mlp_s(self.norm2_s(x))

        def t(x):
            x = x + self.attn_t(self.norm1_t(x), T)
            return x + self.mlp_t(self.norm2_t(x))
        return t(s(x)) if self.order == "st" else s(t(x))


class RefDSTformer(nn.Module):
    def __init__(self, cfg: DSTformerConfig):
        super().__init__()
        d = cfg.dim_feat
        self.joints_embed = nn.Linear(cfg.dim_in, d)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_joints, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.maxlen, 1, d))
        self.blocks_st = nn.ModuleList([RefBlock(cfg, "st") for _ in range(cfg.depth)])
        self.blocks_ts = nn.ModuleList([RefBlock(cfg, "ts") for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(d, eps=cfg.norm_eps)
        self.pre_logits = nn.Sequential()
        self.pre_logits.add_module("fc", nn.Linear(d, cfg.dim_rep))
        self.pre_logits.add_module("act", nn.Tanh())
        self.head = nn.Linear(cfg.dim_rep, cfg.dim_out)
        self.ts_attn = nn.ModuleList([nn.Linear(2 * d, 2) for _ in range(cfg.depth)])

    def forward(self, x):
        B, T, J, C = x.shape
        x = self.joints_embed(x.reshape(-1, J, C)) + self.pos_embed
        x = (x.reshape(B, T, J, -1) + self.temp_embed[:, :T]).reshape(B * T, J, -1)
        for st, ts, fuse in zip(self.blocks_st, self.blocks_ts, self.ts_attn):
            a, b = st(x, T), ts(x, T)
            w = fuse(torch.cat([a, b], -1)).softmax(-1)
            x = a * w[..., 0:1] + b * w[..., 1:2]
        return self.head(self.pre_logits(self.norm(x))).reshape(B, T, J, -1)


def bench(fn, x, repeats):
    with torch.no_grad():
        fn(x)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            y = fn(x)
            times.append(time.perf_counter() - t)
    return min(times), y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", default="full,lite")
    ap.add_argument("--batches", default="1,2")
    ap.add_argument("--frames", type=int, default=243)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    configs = {"full": DSTformerConfig(), "lite": DSTformerConfig.lite()}
    rows = []
    for name in args.configs.split(","):
        cfg = configs[name]
        ours = DSTformer(cfg).eval()
        # random but realistic weights (the fuse layers start at zero otherwise)
        for p in ours.parameters():
            p.data.normal_(0, 0.02)
        ref = RefDSTformer(cfg).eval()
        ref.load_state_dict(ours.state_dict(), strict=True)
        for B in map(int, args.batches.split(",")):
            x = torch.randn(B, args.frames, 17, 3)
            t_ref, y_ref = bench(ref, x, args.repeats)
            t_ours, y_ours = bench(ours, x, args.repeats)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                t_ref16, y_ref16 = bench(ref, x, args.repeats)
                t_bf16, y_bf16 = bench(ours, x, args.repeats)
            frames = B * args.frames
            scale = y_ref.abs().mean().item()
            rows.append((name, B, frames / t_ref, frames / t_ours, frames / t_ref16, frames / t_bf16,
                         (y_ours - y_ref).abs().max().item(),
                         (y_bf16.float() - y_ref).abs().mean().item() / scale))
    print(f"DSTformer, {args.frames} frames, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| model | batch | reference fp32 fr/s | ours fp32 fr/s | reference bf16 fr/s | ours bf16 fr/s "
          "| ours bf16 / ref fp32 | max abs diff fp32 | mean rel. error bf16 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, B, r, o, r16, o16, d, e in rows:
        print(f"| {n} | {B} | {r:.0f} | {o:.0f} | {r16:.0f} | {o16:.0f} | {o16 / r:.2f}x | {d:.1e} | {e:.2%} |")


if __name__ == "__main__":
    main()
