"""Contrastive representation distillation (Tian et al. 2020) as the CIFAR-100 benchmark
defines it: two momentum memory banks, negatives from other classes, NCE with a fixed
normaliser."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.distributed import draw_rows, gather_global, mean_over_processes
from ssllib.distill.losses import nce_loss
from ssllib.engine.params import Param
from ssllib.engine.registry import Method, register_method


def other_class_sampler(labels: torch.Tensor):
    """A function (batch labels (N,), m, generator) → indices (N, m) drawn uniformly, with
    replacement, from the samples whose class differs from each row's label.

    The dataset is sorted by class once; a draw u ∈ [0, n − n_c) skips over class c's block.
    """
    labels = labels.long()
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels)
    starts = torch.cumsum(counts, 0) - counts
    n = len(labels)

    def sample(batch_labels: torch.Tensor, m: int, generator=None) -> torch.Tensor:
        device = batch_labels.device
        c = batch_labels.long()
        available = (n - counts.to(device)[c]).float()
        u = draw_rows(lambda rows: torch.rand(rows, m, generator=generator, device=device), len(c))
        u = (u * available[:, None]).long()
        u = torch.minimum(u, available.long()[:, None] - 1)
        start, count = starts.to(device)[c][:, None], counts.to(device)[c][:, None]
        return order.to(device)[u + (u >= start) * count]
    return sample


class CRD(nn.Module):
    """Both embedding heads, both memory banks and the per-side normalisers.

    ``forward(h_s, h_t, index, labels)`` embeds the student's and the teacher's features,
    scores the student anchor against the teacher bank and the teacher anchor against the
    student bank (the positive is the sample's own slot, the negatives from other classes),
    returns the sum of the two NCE losses, and then updates both banks at the batch's slots.
    """

    def __init__(self, student_dim: int, teacher_dim: int, dataset_labels: torch.Tensor, embed_dim: int = 128,
                 negatives: int = 16384, temperature: float = 0.07, momentum: float = 0.5,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.embed_s = nn.Linear(student_dim, embed_dim)
        self.embed_t = nn.Linear(teacher_dim, embed_dim)
        n_data = len(dataset_labels)
        bound = 1.0 / math.sqrt(embed_dim / 3)
        for name in ("memory_s", "memory_t"):
            self.register_buffer(name, torch.rand(n_data, embed_dim, generator=generator) * 2 * bound - bound)
        self.register_buffer("z_s", torch.tensor(-1.0))  # normalisers, fixed on the first batch
        self.register_buffer("z_t", torch.tensor(-1.0))
        self.register_buffer("labels", dataset_labels.long().clone())
        self.negatives, self.temperature, self.momentum = negatives, temperature, momentum
        self._sampler = None
        self._z_known = False  # saves a host sync per step once both normalisers are set

    def sample_negatives(self, batch_labels: torch.Tensor, generator=None) -> torch.Tensor:
        if self._sampler is None:
            self._sampler = other_class_sampler(self.labels)
        return self._sampler(batch_labels, self.negatives, generator)

    def _scores(self, anchor: torch.Tensor, memory: torch.Tensor, idx: torch.Tensor, z: torch.Tensor):
        """exp(⟨anchor, memory[idx]⟩/τ)/Z, (N, 1 + m); Z set from this batch when still unset.

        The inner products are taken against the whole bank and then picked out: one (N, n_data)
        matrix product moves far less memory than gathering (N, 1 + m, D) rows when m is in the
        thousands (on CIFAR-100, 64 × 50,000 products against 64 × 16,385 × 128 gathered floats)."""
        out = torch.exp((anchor @ memory.t()).gather(1, idx) / self.temperature)
        if not self._z_known and z.item() < 0:
            z.fill_(mean_over_processes({"z": out.detach().mean()})["z"].item() * len(memory))
        return out / z

    def forward(self, h_s: torch.Tensor, h_t: torch.Tensor, index: torch.Tensor, labels: torch.Tensor,
                generator=None) -> torch.Tensor:
        with torch.autocast(h_s.device.type, enabled=False):
            v_s = F.normalize(self.embed_s(h_s.float()), dim=1)
            v_t = F.normalize(self.embed_t(h_t.detach().float()), dim=1)
            idx = torch.cat([index[:, None], self.sample_negatives(labels, generator)], dim=1)
            n_data = len(self.memory_s)
            loss = (nce_loss(self._scores(v_s, self.memory_t, idx, self.z_s), n_data)
                    + nce_loss(self._scores(v_t, self.memory_s, idx, self.z_t), n_data))
            self._z_known = True
            with torch.no_grad():  # out of place: the old banks are still needed for the backward pass
                index = gather_global(index)  # every process updates the slots of the global batch
                for name, v in (("memory_s", v_s), ("memory_t", v_t)):
                    memory = getattr(self, name)
                    updated = F.normalize(self.momentum * memory[index] + (1 - self.momentum) * gather_global(v), dim=1)
                    setattr(self, name, memory.index_copy(0, index, updated))
        return loss, {}


OPTIONS = {
    "crd_negatives": (Param("crd_negatives", int, "CRD: negatives per sample, drawn from other classes", min=1), 16384),
    "crd_temperature": (Param("crd_temperature", float, "CRD: temperature of the scores", min=1e-4), 0.07),
    "crd_momentum": (Param("crd_momentum", float, "CRD: memory-bank update m in normalize(m·old + (1−m)·new)",
                           min=0.0, max=1.0), 0.5),
}


def build_crd(cfg, student_dim: int, teacher_dim: int, labels: torch.Tensor, generator) -> CRD:
    o = cfg.options
    return CRD(student_dim, teacher_dim, labels, cfg.embed_dim, o["crd_negatives"], o["crd_temperature"],
               o["crd_momentum"], generator)


for _name, _title, _weights in (("crd", "CRD", (1.0, 0.0, 0.8)), ("crd_kd", "CRD+KD", (1.0, 1.0, 0.8))):
    register_method(Method(_name, "distill", build_crd, title=_title, options=OPTIONS,
                           defaults=dict(zip(("ce_weight", "kd_weight", "distill_weight"), _weights)),
                           help="contrastive representation distillation (NCE over two memory banks)"
                                + (" plus KD" if _name.endswith("_kd") else ""), code=("ssllib.distill.crd",)))
