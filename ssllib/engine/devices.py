"""Device choice and the precision and memory-format settings that go with it."""
from __future__ import annotations

import contextlib

import torch

from ssllib.engine.params import ParameterError


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; a requested device that is absent is an error."""
    available = {"cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
                 "cpu": True}
    if requested == "auto":
        return torch.device(next(name for name in ("cuda", "mps", "cpu") if available[name]))
    if not available.get(requested, False):
        raise ParameterError(f"device={requested!r} was requested but is not available here; "
                           f"use device='auto' or one of {', '.join(n for n, ok in available.items() if ok)}")
    return torch.device(requested)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """bf16 on CUDA under 'auto'; None means full fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def channels_last_is_safe(model: torch.nn.Module, device: torch.device) -> bool:
    """False where oneDNN's CPU backward of a strided 1×1 convolution with fewer than 16 input
    channels hangs or returns wrong weight gradients in channels-last format (oneDNN issue
    #6035: AVX2 kernels fail below 8 channels; AVX-512 kernels block by 16). Networks of width
    16 or more are unaffected; narrower ones keep the default format on the CPU."""
    if device.type != "cpu":
        return True
    return not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1)
                   and m.in_channels < 16 for m in model.modules())


def place_model(model: torch.nn.Module, device: torch.device, channels_last: bool):
    """Move ``model`` to ``device``, in channels-last format where asked for and safe.
    Returns (model, whether channels-last is in use)."""
    model = model.to(device)
    use = channels_last and channels_last_is_safe(model, device)
    if use:
        model = model.to(memory_format=torch.channels_last)
    return model, use


def uses_channels_last(model: torch.nn.Module) -> bool:
    """Whether the model's convolutions are stored channels-last (so inputs should be too)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1 and m.kernel_size != (1, 1):
            return m.weight.is_contiguous(memory_format=torch.channels_last) and not m.weight.is_contiguous()
    return False


def formatted(inputs: tuple, channels_last: bool) -> tuple:
    """A batch's inputs in the memory format the network runs in: every image batch (4-D)
    channels-last where the network is, everything else as it is."""
    if not channels_last:
        return tuple(inputs)
    return tuple(x.contiguous(memory_format=torch.channels_last) if isinstance(x, torch.Tensor) and x.dim() == 4
                 else x for x in inputs)
