"""A FIFO queue of unit-norm embeddings: MoCo's negatives, RRD's memory of teacher embeddings."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.distributed import gather_global


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
