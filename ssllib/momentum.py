"""The momentum base shared by MoCo-v2, SynCo, MoCHI and the other momentum methods.

A query encoder (backbone + projection head) learns by gradient; a key encoder, its
exponential moving average, encodes the positives; a FIFO queue of past keys supplies the
negatives. Subclasses differ only in ``contrastive_loss``.

One step, in the order the methods require (SynCo spec, gotcha 1):
  momentum update → key forward (shuffled) → loss against the *old* queue → enqueue keys.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .distributed import gather_global, shuffle_batch, unshuffle_batch


class Queue(nn.Module):
    """A FIFO ring buffer of K unit-norm keys, (K, D). ``enqueue`` writes the keys of the whole
    global batch (gathered from every process, in batch order) at the pointer and wraps
    around the end."""

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None):
        super().__init__()
        self.register_buffer("keys", F.normalize(torch.randn(size, dim, generator=generator), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return self.keys.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        keys = gather_global(keys.detach())
        n = len(keys)
        if n > len(self):
            raise ValueError(f"cannot enqueue {n} keys into a queue of {len(self)}; make the queue "
                             f"at least as long as the global batch")
        rows = (self.ptr + torch.arange(n, device=keys.device)) % len(self)
        self.keys[rows] = keys.to(self.keys.dtype)
        self.ptr.copy_((self.ptr + n) % len(self))


def momentum_at(base: float, progress: float, schedule: str = "constant") -> float:
    """EMA coefficient at ``progress`` ∈ [0, 1] of training: constant (MoCo) or rising from
    ``base`` to 1 along a half cosine (BYOL)."""
    if schedule == "constant":
        return base
    if schedule == "cosine":
        return 1 - (1 - base) * (math.cos(math.pi * progress) + 1) / 2
    raise ValueError(f"unknown momentum schedule {schedule!r}; choose 'constant' or 'cosine'")


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, m: float) -> None:
    """θ_target ← m·θ_target + (1 − m)·θ_source, for parameters (buffers are left alone)."""
    t = [p for p in target.parameters()]
    s = [p.detach() for p in source.parameters()]
    torch._foreach_mul_(t, m)
    torch._foreach_add_(t, s, alpha=1 - m)


@dataclass
class StepOutput:
    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)  # detached, for logging


class MomentumMethod(nn.Module):
    """Query/key encoder pair with a queue. ``backbone`` maps images to features of
    ``backbone.feature_dim``; ``head`` maps those to the embedding of size ``dim``."""

    def __init__(self, backbone: nn.Module, head: nn.Module, dim: int, queue_size: int,
                 momentum: float = 0.999, momentum_schedule: str = "constant",
                 temperature: float = 0.2, shuffle_keys: bool = True, views=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.views = views  # uint8 batch, generator -> (query view, key view)
        self.backbone = backbone
        self.encoder = nn.Sequential(backbone, head)
        self.momentum_encoder = copy.deepcopy(self.encoder)
        for p in self.momentum_encoder.parameters():
            p.requires_grad_(False)
        self.queue = Queue(queue_size, dim, generator)
        self.base_momentum = momentum
        self.momentum_schedule = momentum_schedule
        self.temperature = temperature
        self.shuffle_keys = shuffle_keys

    def compiled_parts(self) -> tuple[nn.Module, ...]:
        """The networks ``torch.compile`` should take (with ``compile=True``)."""
        return self.encoder, self.momentum_encoder

    def make_inputs(self, images: torch.Tensor, labels: torch.Tensor, generator=None):
        """Two independently augmented views of each image (labels are not used). A 5-D batch
        (N, 2, C, H, W) holds crops the loader already drew: one per view."""
        if images.dim() == 5:
            return self.views(images[:, 0], generator), self.views(images[:, 1], generator)
        return self.views(images, generator), self.views(images, generator)

    @torch.no_grad()
    def encode_keys(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Keys from the momentum encoder; with ``shuffle_keys`` the batch is permuted (across
        processes when distributed) so batch-norm statistics differ from the query's."""
        if not self.shuffle_keys:
            return F.normalize(self.momentum_encoder(x), dim=1)
        shuffled, unshuffle = shuffle_batch(x, generator)
        return unshuffle_batch(F.normalize(self.momentum_encoder(shuffled), dim=1), unshuffle)

    def contrastive_loss(self, q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, epoch: int,
                         generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Loss, logits (positive in column 0) and any extra detached metrics, for queries q
        (N, D), keys k (N, D) and the queue as it was before this batch (K, D)."""
        raise NotImplementedError

    def forward(self, view_q: torch.Tensor, view_k: torch.Tensor, epoch: int = 0,
                progress: float = 0.0, generator: torch.Generator | None = None) -> StepOutput:
        ema_update(self.momentum_encoder, self.encoder,
                   momentum_at(self.base_momentum, progress, self.momentum_schedule))
        q = F.normalize(self.encoder(view_q), dim=1)            # (N, dim), with gradient
        k = self.encode_keys(view_k, generator)                 # (N, dim), no gradient
        queue = self.queue.keys.clone()                         # (K, dim), before this batch
        loss, logits, extra = self.contrastive_loss(q, k, queue, epoch, generator)  # queue and keys stay fp32
        self.queue.enqueue(k)
        accuracy = (logits.detach().argmax(dim=1) == 0).float().mean()
        return StepOutput(loss, {"loss": loss.detach(), "contrastive_acc": accuracy, **extra})
