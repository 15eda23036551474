"""The momentum base shared by every momentum method of the book.

A query encoder (backbone + projection head, and optionally a predictor) learns by gradient;
a key encoder, its exponential moving average, encodes the positives; a FIFO queue of past
keys supplies the negatives. Subclasses differ only in ``contrastive_loss``.

One step, in the order of MoCo's official code (facebookresearch/moco), which SynCo's keeps:
  momentum update → key forward (shuffled) → loss against the *old* queue → enqueue keys.

With ``symmetric=True`` (MoBY, BYOL-style) both views are queries and keys in turn, each view
has its own queue, and the loss is the sum of the two directions, as MoBY's reference sums them:
  L = ℓ(q₁, k₂, queue₂) + ℓ(q₂, k₁, queue₁),   then k₁ → queue₁ and k₂ → queue₂.
The two views may be made by different augmentations (``views`` a pair).

Stochastic depth (drop-path) regularises the online encoder only: the key encoder is built as
a copy with every drop-path rate set to 0, so its keys never drop a block.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath

from ssllib.engine.distributed import shuffle_batch, unshuffle_batch
from ssllib.nets.queue import Queue


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


class MomentumMethod(nn.Module):
    """Query/key encoder pair with a queue (two with ``symmetric``). ``backbone`` maps images
    to features of ``backbone.feature_dim``; ``head`` maps those to the embedding of size
    ``dim``; ``predictor`` (optional, online branch only) maps the embedding to itself.
    ``views`` is one augmentation for both views or a pair (view 1, view 2)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, dim: int, queue_size: int,
                 momentum: float = 0.999, momentum_schedule: str = "constant",
                 temperature: float = 0.2, shuffle_keys: bool = True, views=None,
                 generator: torch.Generator | None = None, predictor: nn.Module | None = None,
                 symmetric: bool = False):
        super().__init__()
        self.views = views if isinstance(views, (tuple, list)) else (views, views)
        self.backbone = backbone
        self.encoder = nn.Sequential(backbone, head)
        self.momentum_encoder = copy.deepcopy(self.encoder)
        for p in self.momentum_encoder.parameters():
            p.requires_grad_(False)
        for module in self.momentum_encoder.modules():
            if isinstance(module, DropPath):
                module.drop_prob = 0.0
        self.predictor = predictor
        self.queue = Queue(queue_size, dim, generator)
        self.queue_2 = Queue(queue_size, dim, generator) if symmetric else None
        self.symmetric = symmetric
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
        first, second = self.views
        if images.dim() == 5:
            return first(images[:, 0], generator), second(images[:, 1], generator)
        return first(images, generator), second(images, generator)

    def query(self, x: torch.Tensor) -> torch.Tensor:
        """Unit queries from the online branch (encoder, then the predictor if there is one)."""
        z = self.encoder(x)
        return F.normalize(self.predictor(z) if self.predictor is not None else z, dim=1)

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
                progress: float = 0.0, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ema_update(self.momentum_encoder, self.encoder,
                   momentum_at(self.base_momentum, progress, self.momentum_schedule))
        if self.symmetric:
            return self._symmetric_step(view_q, view_k, epoch, generator)
        q = self.query(view_q)                                  # (N, dim), with gradient
        k = self.encode_keys(view_k, generator)                 # (N, dim), no gradient
        queue = self.queue.keys.clone()                         # (K, dim), before this batch
        loss, logits, extra = self.contrastive_loss(q, k, queue, epoch, generator)  # queue and keys stay fp32
        self.queue.enqueue(k)
        accuracy = (logits.detach().argmax(dim=1) == 0).float().mean()
        return loss, {"loss": loss.detach(), "contrastive_acc": accuracy, **extra}

    def _symmetric_step(self, view_1, view_2, epoch, generator):
        q1, q2 = self.query(view_1), self.query(view_2)
        k1, k2 = self.encode_keys(view_1, generator), self.encode_keys(view_2, generator)
        queue_1, queue_2 = self.queue.keys.clone(), self.queue_2.keys.clone()
        loss_12, logits_12, extra_12 = self.contrastive_loss(q1, k2, queue_2, epoch, generator)
        loss_21, logits_21, extra_21 = self.contrastive_loss(q2, k1, queue_1, epoch, generator)
        self.queue.enqueue(k1)
        self.queue_2.enqueue(k2)
        loss = loss_12 + loss_21
        accuracy = ((logits_12.detach().argmax(1) == 0).float().mean()
                    + (logits_21.detach().argmax(1) == 0).float().mean()) / 2
        extra = {name: (value + extra_21[name]) / 2 for name, value in extra_12.items()}
        return loss, {"loss": loss.detach(), "contrastive_acc": accuracy, **extra}


def check_queue(cfg) -> None:
    """A momentum method's queue must hold at least one global batch of keys."""
    from ssllib.engine.params import ParameterError

    if cfg.queue_size < cfg.batch_size:
        raise ParameterError(f"queue_size={cfg.queue_size} is smaller than batch_size={cfg.batch_size}; "
                             f"the queue must hold at least one batch of keys")
