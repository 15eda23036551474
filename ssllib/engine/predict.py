"""One prediction loop for every evaluation: a module in eval mode, without gradients, under
the run's autocast, over batches in order; outputs gathered in float32.

The batches come from the data (``ssllib.data.loader.eval_inputs`` for images, the bags'
padded batches for MIL); the module's own device decides where they go, so a model trained on a
GPU is evaluated there and nothing is pinned to the CPU.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn

from ssllib.engine.devices import autocast


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); the CPU for an empty module."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(module: nn.Module):
    """``module`` in eval mode for the block, then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def _float(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.float()
    if isinstance(out, dict):
        return {k: _float(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return type(out)(_float(v) for v in out)
    return out


def _gather(chunks: list) -> Any:
    first = chunks[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(chunks)
    if isinstance(first, dict):
        return {k: _gather([c[k] for c in chunks]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(_gather([c[i] for c in chunks]) for i in range(len(first)))
    return chunks


@torch.no_grad()
def predict(module: nn.Module, batches: Iterable[tuple], forward: Callable[..., Any] | None = None,
            dtype: torch.dtype | None = None) -> Any:
    """``forward(*inputs)`` (default: ``module(*inputs)``) for every batch of inputs, with
    ``module`` in eval mode under autocast to ``dtype`` (None: full precision), concatenated
    along the first dimension in float32 on the module's device. Outputs may be tensors, or
    dicts, tuples or lists of them."""
    forward = forward or module
    device = device_of(module)
    chunks = []
    with evaluating(module):
        for inputs in batches:
            inputs = tuple(x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x for x in inputs)
            with autocast(device, dtype):
                chunks.append(_float(forward(*inputs)))
    if not chunks:
        raise ValueError("predict was given no batch")
    return _gather(chunks)
