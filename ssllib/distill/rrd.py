"""Relational representation distillation: the student's relation to a memory of teacher
embeddings is pulled towards the teacher's own relation to it (loss in
:func:`~ssllib.distill.losses.rrd_loss`)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.params import Param, ParameterError
from ssllib.engine.registry import Method, register_method
from ssllib.nets.queue import Queue
from ssllib.distill.losses import rrd_loss


class RRD(nn.Module):
    """The two projections, the FIFO queue of teacher embeddings and the loss.

    z_s = normalize(W_s h_s + c_s) learns; z_t = normalize(W_t h_t + c_t) is computed without
    gradient, so W_t keeps its random initialisation, as in the reference code (it is not
    given to the optimiser at all). ``enqueue='after'`` scores against the queue as it was
    before this batch (2024 code); ``'before'`` adds the batch first (2025 code).
    """

    def __init__(self, student_dim: int, teacher_dim: int, embed_dim: int = 128, queue_size: int = 16384,
                 tau_s: float = 0.04, tau_t: float = 0.10, enqueue: str = "after",
                 generator: torch.Generator | None = None):
        super().__init__()
        if enqueue not in ("after", "before"):
            raise ValueError(f"enqueue must be 'after' or 'before', not {enqueue!r}")
        self.embed_s = nn.Linear(student_dim, embed_dim)
        self.embed_t = nn.Linear(teacher_dim, embed_dim).requires_grad_(False)
        self.queue = Queue(queue_size, embed_dim, generator)
        self.tau_s, self.tau_t, self.enqueue = tau_s, tau_t, enqueue

    def forward(self, h_s: torch.Tensor, h_t: torch.Tensor, index=None, labels=None, generator=None) -> torch.Tensor:
        with torch.autocast(h_s.device.type, enabled=False):
            z_s = F.normalize(self.embed_s(h_s.float()), dim=1)
            with torch.no_grad():
                z_t = F.normalize(self.embed_t(h_t.float()), dim=1)
            if self.enqueue == "before":
                self.queue.enqueue(z_t)
            loss = rrd_loss(z_s, z_t, self.queue.keys.clone(), self.tau_s, self.tau_t)
            if self.enqueue == "after":
                self.queue.enqueue(z_t)
        return loss, {}


OPTIONS = {
    "rrd_queue": (Param("rrd_queue", int, "RRD: length of the FIFO queue of teacher embeddings", min=1), 16384),
    "rrd_tau_s": (Param("rrd_tau_s", float, "RRD: student temperature τ_s (2024 code 0.04; 2025 code 0.1)",
                        min=1e-4), 0.04),
    "rrd_tau_t": (Param("rrd_tau_t", float, "RRD: teacher temperature τ_t (2024 code 0.10; 2025 code 0.02)",
                        min=1e-6), 0.10),
    "rrd_enqueue": (Param("rrd_enqueue", str, "RRD: enqueue the batch's teacher embeddings after the loss (2024 "
                          "code) or before scoring (2025 code)", choices=("after", "before")), "after"),
}


def build_rrd(cfg, student_dim: int, teacher_dim: int, labels, generator) -> RRD:
    o = cfg.options
    return RRD(student_dim, teacher_dim, cfg.embed_dim, o["rrd_queue"], o["rrd_tau_s"], o["rrd_tau_t"],
               o["rrd_enqueue"], generator)


def check_queue(cfg) -> None:
    queue = cfg.options["rrd_queue"]
    if queue % cfg.batch_size:
        raise ParameterError(f"rrd_queue={queue} is not a multiple of batch_size={cfg.batch_size}; the FIFO queue "
                             f"must take whole batches (e.g. rrd_queue="
                             f"{max(1, round(queue / cfg.batch_size)) * cfg.batch_size})")


for _name, _title, _weights in (("rrd", "RRD", (1.0, 0.0, 1.0)), ("rrd_kd", "RRD+KD", (1.0, 1.0, 1.0))):
    register_method(Method(_name, "distill", build_rrd, title=_title, options=OPTIONS, check=check_queue,
                           defaults=dict(zip(("ce_weight", "kd_weight", "distill_weight"), _weights)),
                           help="relational representation distillation (relations to a queue of teacher "
                                "embeddings)" + (" plus KD" if _name.endswith("_kd") else ""),
                           code=("ssllib.distill.rrd",)))
