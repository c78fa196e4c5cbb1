"""Task heads on top of the DSTformer: action classification / embedding and SMPL mesh regression.

Each task model is a plain `nn.Module` with `.backbone` (a DSTformer) and `.head`; parameter names follow the
official `ActionNet` and `MeshRegressor` so official state dicts load as they are.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .model import DSTformer
from .smpl import NUM_BETAS, NUM_SMPL_JOINTS, SMPLLayer


class _Pool(nn.Module):
    """Representation [N, M, T, J, C] -> clip feature [N, J*C]: mean over time, then over persons (official).
    pool="mean_std" (our trained models) also keeps the spread over time, [N, J*2C]: how much each joint's
    features move (a wave and a raised hand have the same mean), then averages over M as well."""

    pool_mode = "mean"

    def time_pool(self, feat: torch.Tensor) -> torch.Tensor:
        """[N, M, T, J, C] -> [N, M, J, C or 2C], before the mean over M."""
        if self.pool_mode == "mean_std":
            return torch.cat([feat.mean(dim=2), feat.std(dim=2, unbiased=False)], dim=-1)
        return feat.mean(dim=2)

    def pool(self, feat: torch.Tensor) -> torch.Tensor:
        p = self.time_pool(feat)
        N, M = p.shape[:2]
        return p.reshape(N, M, -1).mean(dim=1)


class ActionHeadClassification(_Pool):
    """Pooled clip feature -> MLP -> logits. standardize=True (our trained heads) first rescales every pooled
    feature by the mean and std it had over the training views (buffers `feat_mean`, `feat_std`, set by
    `set_standardization`): the representation's channels differ in scale by orders of magnitude, and the
    first layer learned the small ones poorly (+0.06 held-out accuracy on 22 classes, models/README_action.md).
    Official heads have no such buffers and stay exactly as they are."""

    def __init__(self, dim_rep: int, num_classes: int, num_joints: int = 17, hidden_dim: int = 2048,
                 dropout: float = 0.0, pool: str = "mean", standardize: bool = False):
        super().__init__()
        self.pool_mode = pool
        width = 2 if pool == "mean_std" else 1
        self.standardize = standardize
        if standardize:
            self.register_buffer("feat_mean", torch.zeros(dim_rep * num_joints * width))
            self.register_buffer("feat_std", torch.ones(dim_rep * num_joints * width))
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Linear(dim_rep * num_joints * width, hidden_dim)
        self.bn = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden_dim, num_classes)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """feat [N, M, T, J, C] -> logits [N, num_classes]."""
        return self.fc2(self.relu(self.bn(self.fc1(self._standardized(self.pool(self.dropout(feat)))))))

    def classify_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled clip features [N, J*C or J*2C] (as `pool` makes them) -> logits; for training on cached
        features."""
        return self.fc2(self.relu(self.bn(self.fc1(self.dropout(self._standardized(pooled))))))

    def _standardized(self, pooled: torch.Tensor) -> torch.Tensor:
        return (pooled - self.feat_mean) / self.feat_std if self.standardize else pooled

    @torch.no_grad()
    def set_standardization(self, pooled: torch.Tensor, eps: float = 1e-6) -> None:
        """Fix the scaling from training features [N, J*C or J*2C]: their mean and std per feature."""
        if not self.standardize:
            raise ValueError("this head was built without standardize=True")
        self.feat_mean.copy_(pooled.mean(0))
        self.feat_std.copy_(pooled.std(0, unbiased=False).clamp_min(eps))


class ActionHeadEmbed(_Pool):
    def __init__(self, dim_rep: int, num_joints: int = 17, hidden_dim: int = 2048, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Linear(dim_rep * num_joints, hidden_dim)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """feat [N, M, T, J, C] -> unit-length embedding [N, hidden_dim]."""
        return F.normalize(self.fc1(self.pool(self.dropout(feat))), dim=-1)


@dataclass
class ActionConfig:
    version: str = "class"  # "class" (logits) or "embed" (one-shot embedding)
    num_classes: int = 60
    hidden_dim: int = 2048
    dropout: float = 0.0
    pool: str = "mean"      # "mean" (official) or "mean_std" (ours: also the spread over time)
    standardize: bool = False  # ours: pooled features rescaled by the training views' mean and std

    def to_dict(self) -> dict:
        return asdict(self)


class ActionNet(nn.Module):
    """forward(x [N, M, T, J, 3]) -> logits [N, classes] (version "class") or embedding [N, hidden] ("embed")."""

    task = "action"

    def __init__(self, backbone: DSTformer, cfg: ActionConfig | None = None):
        super().__init__()
        self.backbone = backbone
        self.head_cfg = cfg = cfg or ActionConfig()
        b = backbone.cfg
        if cfg.version == "class":
            self.head = ActionHeadClassification(b.dim_rep, cfg.num_classes, b.num_joints, cfg.hidden_dim, cfg.dropout,
                                                 cfg.pool, cfg.standardize)
        elif cfg.version == "embed":
            self.head = ActionHeadEmbed(b.dim_rep, b.num_joints, cfg.hidden_dim, cfg.dropout)
        else:
            raise ValueError(f"action head version must be 'class' or 'embed', got {cfg.version!r}")

    @property
    def cfg(self):
        return self.backbone.cfg

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, M, T, J, 3] -> representation [N, M, T, J, dim_rep]."""
        if x.ndim != 5:
            raise ValueError(f"expected input [N, M, T, J, 3], got {list(x.shape)}")
        N, M, T, J, C = x.shape
        return self.backbone.get_representation(x.reshape(N * M, T, J, C)).reshape(N, M, T, J, -1)

    def get_representation(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, J, 3] -> E [B, T, J, dim_rep]."""
        return self.backbone.get_representation(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------- mesh

def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D rotation (Zhou et al. 2019) [..., 6] -> rotation matrix [..., 3, 3] (columns b1, b2, b3)."""
    x = x.reshape(*x.shape[:-1], 3, 2)
    b1 = F.normalize(x[..., 0], dim=-1, eps=1e-6)
    b2 = F.normalize(x[..., 1] - (b1 * x[..., 1]).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-6)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] -> axis-angle [..., 3].

    Goes through a quaternion chosen by the largest-diagonal case split (as in kornia, which the official code
    uses), so results agree with official outputs even for rotations near 180 degrees, where the sign of the
    axis is otherwise arbitrary.
    """
    shape = R.shape[:-2]
    m = R.reshape(-1, 3, 3).transpose(1, 2)  # kornia's algorithm reads the transposed matrix
    eps = 1e-6
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    t0 = 1 + m00 - m11 - m22
    t1 = 1 - m00 + m11 - m22
    t2 = 1 - m00 - m11 + m22
    t3 = 1 + m00 + m11 + m22
    q0 = torch.stack([m[:, 1, 2] - m[:, 2, 1], t0, m[:, 0, 1] + m[:, 1, 0], m[:, 2, 0] + m[:, 0, 2]], -1)
    q1 = torch.stack([m[:, 2, 0] - m[:, 0, 2], m[:, 0, 1] + m[:, 1, 0], t1, m[:, 1, 2] + m[:, 2, 1]], -1)
    q2 = torch.stack([m[:, 0, 1] - m[:, 1, 0], m[:, 2, 0] + m[:, 0, 2], m[:, 1, 2] + m[:, 2, 1], t2], -1)
    q3 = torch.stack([t3, m[:, 1, 2] - m[:, 2, 1], m[:, 2, 0] - m[:, 0, 2], m[:, 0, 1] - m[:, 1, 0]], -1)
    low_z = m22 < eps
    c0 = (low_z & (m00 > m11)).unsqueeze(-1).to(R.dtype)
    c1 = (low_z & ~(m00 > m11)).unsqueeze(-1).to(R.dtype)
    c2 = (~low_z & (m00 < -m11)).unsqueeze(-1).to(R.dtype)
    c3 = (~low_z & ~(m00 < -m11)).unsqueeze(-1).to(R.dtype)
    q = q0 * c0 + q1 * c1 + q2 * c2 + q3 * c3
    t = t0.unsqueeze(-1) * c0 + t1.unsqueeze(-1) * c1 + t2.unsqueeze(-1) * c2 + t3.unsqueeze(-1) * c3
    q = q / torch.sqrt(t) * 0.5
    # quaternion (w, x, y, z) -> axis-angle
    xyz, w = q[:, 1:], q[:, 0]
    sin_sq = (xyz * xyz).sum(-1)
    sin = torch.sqrt(sin_sq)
    two_theta = 2.0 * torch.where(w < 0.0, torch.atan2(-sin, -w), torch.atan2(sin, w))
    k = torch.where(sin_sq > 0.0, two_theta / sin, torch.full_like(sin, 2.0))
    aa = xyz * k.unsqueeze(-1)
    aa = torch.nan_to_num(aa, nan=0.0)
    return aa.reshape(*shape, 3)


@dataclass
class MeshConfig:
    hidden_dim: int = 1024
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class SMPLRegressor(nn.Module):
    """Representation [N, T, J, C] -> SMPL pose per frame (6D, from the mean pose) and shape per clip."""

    def __init__(self, smpl: SMPLLayer, init_pose: torch.Tensor, init_shape: torch.Tensor, dim_rep: int,
                 num_joints: int = 17, hidden_dim: int = 1024):
        super().__init__()
        self.fc1 = nn.Linear(num_joints * dim_rep, hidden_dim)
        self.fc2 = nn.Linear(num_joints * dim_rep, hidden_dim)
        self.bn1 = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.bn2 = nn.BatchNorm1d(hidden_dim, momentum=0.1)
        self.head_pose = nn.Linear(hidden_dim, NUM_SMPL_JOINTS * 6)
        self.head_shape = nn.Linear(hidden_dim, NUM_BETAS)
        nn.init.xavier_uniform_(self.head_pose.weight, gain=0.01)
        nn.init.xavier_uniform_(self.head_shape.weight, gain=0.01)
        self.smpl = smpl
        self.register_buffer("init_pose", init_pose.reshape(1, NUM_SMPL_JOINTS * 6).float())
        self.register_buffer("init_shape", init_shape.reshape(1, NUM_BETAS).float())

    def params(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feat [N, T, J, C] -> (rotation matrices [N, T, 24, 3, 3], betas [N, T, 10])."""
        N, T, J, C = feat.shape
        feat = feat.reshape(N, T, J * C)
        f_pose = F.relu(self.bn1(self.fc1(feat.reshape(N * T, J * C))))
        f_shape = F.relu(self.bn2(self.fc2(feat.mean(dim=1))))
        pose6d = self.head_pose(f_pose) + self.init_pose            # [N*T, 144]
        shape = self.head_shape(f_shape) + self.init_shape          # [N, 10], one shape per clip
        rotmat = rot6d_to_rotmat(pose6d.reshape(N, T, NUM_SMPL_JOINTS, 6))
        return rotmat, shape[:, None].expand(N, T, NUM_BETAS)

    def smpl_output(self, rotmat: torch.Tensor, betas: torch.Tensor) -> dict[str, torch.Tensor]:
        """rotmat [N, T, 24, 3, 3], betas [N, T, 10] -> theta [N, T, 82], verts [N, T, 6890, 3] (mm),
        kp_3d [N, T, 17, 3] (mm)."""
        N, T = rotmat.shape[:2]
        r = rotmat.reshape(N * T, NUM_SMPL_JOINTS, 3, 3)
        b = betas.reshape(N * T, NUM_BETAS)
        verts = self.smpl(b, r) * 1000.0
        kp_3d = self.smpl.regress_h36m(verts)
        theta = torch.cat([rotmat_to_axis_angle(r).reshape(N * T, 72), b], dim=1)
        return {"theta": theta.reshape(N, T, 82), "verts": verts.reshape(N, T, -1, 3),
                "kp_3d": kp_3d.reshape(N, T, -1, 3)}

    def forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """feat [N, T, J, C] -> theta [N, T, 82], verts [N, T, 6890, 3] (mm), kp_3d [N, T, 17, 3] (mm)."""
        return self.smpl_output(*self.params(feat))


class MeshNet(nn.Module):
    """forward(x [N, T, J, 3]) -> dict theta [N, T, 82] (72 axis-angle pose + 10 betas),
    verts [N, T, 6890, 3] (mm), kp_3d [N, T, 17, 3] (mm, H36M joints regressed from the mesh)."""

    task = "mesh"

    def __init__(self, backbone: DSTformer, smpl: SMPLLayer, init_pose: torch.Tensor, init_shape: torch.Tensor,
                 cfg: MeshConfig | None = None):
        super().__init__()
        self.head_cfg = cfg = cfg or MeshConfig()
        self.backbone = backbone
        b = backbone.cfg
        self.head = SMPLRegressor(smpl, init_pose, init_shape, b.dim_rep, b.num_joints, cfg.hidden_dim)

    @property
    def cfg(self):
        return self.backbone.cfg

    @property
    def faces(self):
        return self.head.smpl.faces

    def get_representation(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, J, 3] -> E [B, T, J, dim_rep]."""
        return self.backbone.get_representation(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.backbone.get_representation(x))
