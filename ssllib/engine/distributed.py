"""Training over several processes (``torchrun``), and the few collective operations the
methods need; each is the identity in one process.

The global batch is split by interleaving: process r of W owns rows r, r + W, r + 2W, … of
every global batch. That is the grouping :class:`~ssllib.nets.resnet.SplitBatchNorm` uses on one
device, so a one-process run with ``bn_splits = W`` sees the same batch-norm statistics as a
W-process run. Random draws are made for the whole global batch on every process (from
generators in the same state) and each keeps its own rows, so a run's randomness does not
depend on how many processes share it: W processes reproduce one process, step for step.
"""
from __future__ import annotations

import os
from typing import Callable

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


def world_identity() -> dict:
    """{} in one process, else the process count: part of a run's identity, since batch-norm
    statistics are per process (a run on 2 GPUs is not a run on 1)."""
    return {} if world_size() == 1 else {"processes": world_size()}


def init_from_environment() -> bool:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE, RANK,
    LOCAL_RANK, MASTER_ADDR, MASTER_PORT): NCCL with one GPU per process where CUDA is
    available, else gloo on the CPU. Returns whether training is distributed."""
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return True


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()


def own_rows(x: torch.Tensor) -> torch.Tensor:
    """This process's rows of a global batch ``x``: r, r + W, r + 2W, …"""
    world = world_size()
    return x if world == 1 else x[rank()::world]


def draw_rows(draw: Callable[[int], torch.Tensor], n: int) -> torch.Tensor:
    """Random values for this process's ``n`` rows: ``draw(m)`` makes m rows; it is called for
    the whole global batch (n·W rows) and this process keeps its own."""
    world = world_size()
    return draw(n) if world == 1 else own_rows(draw(n * world))


@torch.no_grad()
def gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Every process's ``x`` concatenated along dim 0, in rank order (no gradient)."""
    if not is_distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def gather_global(x: torch.Tensor) -> torch.Tensor:
    """The global batch from every process's rows ``x``: the inverse of :func:`own_rows`, so
    rows come back in the order one process would have them (no gradient)."""
    world = world_size()
    if world == 1:
        return x
    return gather_cat(x).unflatten(0, (world, -1)).transpose(0, 1).flatten(0, 1)


@torch.no_grad()
def shuffle_batch(x: torch.Tensor, generator: torch.Generator | None = None):
    """Shuffle a batch across all processes (MoCo's shuffle-BN): returns this process's rows
    of a random permutation of the global batch and the index that undoes it."""
    everything = gather_global(x)
    perm = torch.randperm(len(everything), generator=generator, device=x.device)
    if is_distributed():
        dist.broadcast(perm, src=0)
    return own_rows(everything[perm]), torch.argsort(perm)


@torch.no_grad()
def unshuffle_batch(y: torch.Tensor, unshuffle: torch.Tensor) -> torch.Tensor:
    """Undo :func:`shuffle_batch` on the encoded batch: this process's rows, in its own order."""
    return own_rows(gather_global(y)[unshuffle])


def average_gradients(parameters) -> None:
    """Replace each gradient by its mean over processes (one all-reduce of a flat buffer).
    Every process's loss is a mean over its own rows, so the mean gradient is the gradient of
    the loss over the global batch."""
    if not is_distributed():
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    torch._foreach_copy_(grads, [v.view_as(g) for v, g in zip(flat.split([g.numel() for g in grads]), grads)])


@torch.no_grad()
def mean_over_processes(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each tensor averaged over processes (for logging: the metrics of the global batch)."""
    if not is_distributed() or not values:
        return values
    names = list(values)
    flat = torch.stack([values[n].float().reshape(()) for n in names])
    dist.all_reduce(flat)
    flat /= world_size()
    return dict(zip(names, flat.unbind()))


@torch.no_grad()
def average_batch_norm_statistics(module: torch.nn.Module) -> None:
    """Replace every batch norm's running mean and variance by their mean over processes.

    Each process updates its running statistics from its own rows only, r_k ← (1 − μ)·r_k + μ·b_k,
    while one process with ``bn_splits = W`` keeps the mean over its W sub-batches. The update is
    linear and the processes' weights are equal, so averaging over processes, at any point,
    gives exactly the one-process statistics (up to rounding): the loop does it after every
    epoch, before the statistics are used (evaluation) or saved (the checkpoint)."""
    if not is_distributed():
        return
    stats = [t for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             for t in (m.running_mean, m.running_var) if t is not None]
    if stats:
        flat = torch.cat([t.reshape(-1).float() for t in stats])
        dist.all_reduce(flat)
        flat /= world_size()
        for t, part in zip(stats, flat.split([t.numel() for t in stats])):
            t.copy_(part.view_as(t))


@torch.no_grad()
def broadcast_state(module: torch.nn.Module) -> None:
    """Make every process start from rank 0's parameters and buffers."""
    if is_distributed():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)
