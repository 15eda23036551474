"""The few collective operations the methods need; each is the identity in one process."""
from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    return rank() == 0


@torch.no_grad()
def gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every process along dim 0, in rank order (no gradient)."""
    if not is_distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def shuffle_batch(x: torch.Tensor, generator: torch.Generator | None = None):
    """Shuffle a batch across all processes (MoCo's shuffle-BN): returns this process's share of
    a random permutation of the global batch and the index that undoes it."""
    if not is_distributed():
        perm = torch.randperm(len(x), generator=generator, device=x.device)
        return x[perm], torch.argsort(perm)
    everything = gather_cat(x)
    perm = torch.randperm(len(everything), generator=generator, device=x.device)
    dist.broadcast(perm, src=0)
    mine = perm.view(world_size(), -1)[rank()]
    return everything[mine], torch.argsort(perm)


@torch.no_grad()
def unshuffle_batch(y: torch.Tensor, unshuffle: torch.Tensor) -> torch.Tensor:
    """Undo :func:`shuffle_batch` on the encoded batch: this process's rows, in its own order."""
    if not is_distributed():
        return y[unshuffle]
    everything = gather_cat(y)
    return everything[unshuffle.view(world_size(), -1)[rank()]]
