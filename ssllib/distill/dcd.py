"""Discriminative and consistent distillation (DCD): an in-batch contrastive loss between
student and teacher embeddings with a learnable temperature and bias, plus a consistency term
between the row-wise and column-wise distributions of the same logit matrix."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.params import Param
from ssllib.engine.registry import Method, register_method

MAX_SCALE = 10.0  # the reference's clamp on κ


def dcd_loss(z_s: torch.Tensor, z_t: torch.Tensor, theta: torch.Tensor, bias: torch.Tensor,
             alpha: float = 0.5, max_scale: float = MAX_SCALE) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """DCD on one batch of unit embeddings z_s, z_t (N, D):

        κ = min(exp θ, κ_max),   L_ij = κ·⟨z_s,i, z_t,j⟩ + b                     (N × N)
        L_con  = (1/N) Σ_i −log softmax(L_i·)_i        (student i against the batch's teachers)
        P_i = softmax(L_i·),  Q_i = softmax(L_·i)      (row i; column i: teacher i over students)
        L_cons = (1/N) Σ_i KL(Q_i ‖ P_i)               (neither side detached)
        L_DCD  = L_con + α·L_cons

    A constant added to every logit cancels in every softmax, so b receives no gradient; it is
    kept because the reference code has it. While exp θ ≥ κ_max the clamp passes no gradient
    to θ: the temperature stops learning. Returns the loss, its parts, κ and ``at_clamp``
    (1 when exp θ ≥ κ_max; its epoch mean is the fraction of steps spent at the clamp).
    """
    raw = torch.exp(theta)
    scale = raw.clamp(max=max_scale)
    logits = scale * z_s.float() @ z_t.float().t() + bias
    targets = torch.arange(len(logits), device=logits.device)
    contrastive = F.cross_entropy(logits, targets)
    log_p = F.log_softmax(logits, dim=1)      # row i: P_i
    log_q = F.log_softmax(logits.t(), dim=1)  # row i: Q_i (column i of the logits)
    consistency = (log_q.exp() * (log_q - log_p)).sum(1).mean()
    return contrastive + alpha * consistency, {"contrastive": contrastive.detach(),
                                               "consistency": consistency.detach(), "scale": scale.detach(),
                                               "at_clamp": (raw >= max_scale).float().detach()}


class DCD(nn.Module):
    """Both projections (both learn), the temperature parameter θ (κ = min(exp θ, κ_max), θ
    starts at 1) and the bias b (starts at 0)."""

    def __init__(self, student_dim: int, teacher_dim: int, embed_dim: int = 128, alpha: float = 0.5,
                 max_scale: float = MAX_SCALE):
        super().__init__()
        self.embed_s = nn.Linear(student_dim, embed_dim)
        self.embed_t = nn.Linear(teacher_dim, embed_dim)
        self.theta = nn.Parameter(torch.tensor(1.0))
        self.bias = nn.Parameter(torch.tensor(0.0))
        self.alpha = alpha
        self.max_scale = max_scale

    def forward(self, h_s: torch.Tensor, h_t: torch.Tensor, index=None, labels=None, generator=None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.autocast(h_s.device.type, enabled=False):
            z_s = F.normalize(self.embed_s(h_s.float()), dim=1)
            z_t = F.normalize(self.embed_t(h_t.detach().float()), dim=1)
            return dcd_loss(z_s, z_t, self.theta, self.bias, self.alpha, self.max_scale)


OPTIONS = {"dcd_alpha": (Param("dcd_alpha", float, "DCD: weight α of the consistency term", min=0.0), 0.5),
           "dcd_max_scale": (Param("dcd_max_scale", float, "DCD: the clamp κ_max on the learnt scale exp θ (10 in "
                                   "the reference; a large value such as 1e6 removes it)", min=1.0), MAX_SCALE)}


def build_dcd(cfg, student_dim: int, teacher_dim: int, labels, generator) -> DCD:
    return DCD(student_dim, teacher_dim, cfg.embed_dim, cfg.options["dcd_alpha"], cfg.options["dcd_max_scale"])


for _name, _title, _weights in (("dcd", "DCD", (1.0, 0.0, 1.0)), ("dcd_kd", "DCD+KD", (1.0, 1.0, 1.0))):
    register_method(Method(_name, "distill", build_dcd, title=_title, options=OPTIONS,
                           defaults=dict(zip(("ce_weight", "kd_weight", "distill_weight"), _weights)),
                           help="discriminative and consistent distillation (in-batch contrast with a learnt "
                                "scale, plus consistency)" + (" plus KD" if _name.endswith("_kd") else ""),
                           code=("ssllib.distill.dcd",)))
