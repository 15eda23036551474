"""Process-wide memory policy for training on the CPU.

Kept out of the modules a run's fingerprint covers: it changes how fast a step runs, never
what it computes. ssllib's entry points (chapters, ``python -m ssllib.train``, the bench)
call :func:`keep_freed_memory`; a script of your own can call it too.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep the memory of freed tensors for the next ones rather than hand
    it back to the operating system. Once per process; returns whether it applied (False off
    glibc). CUDA tensors are unaffected: PyTorch caches their memory itself.

    By default glibc maps each block above a threshold (128 KiB at first, growing with use) with
    ``mmap`` and unmaps it when freed, and trims free memory off the top of its heap. A tensor of
    a few MB made afresh at every training step then faults its pages in again, one 4 KiB page
    at a time: on the book's 2-core machine a fault costs about 4 µs, and a SynCo step on the
    CPU made 1,000 to 3,000 of them (4 to 12 ms of a 200 ms step). With blocks up to 32 MiB
    served from the heap and no trimming below 1 GiB, steps reuse memory already mapped. The
    cost is that the process keeps its peak memory until it exits.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.gnu_get_libc_version              # glibc's: other C libraries number mallopt's options otherwise
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))


def available_bytes(device) -> int | None:
    """Memory free for a run on ``device`` (a CUDA card's free memory; the CPU's MemAvailable on
    Linux), or None where it cannot be known."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def refuse_beyond_memory(parts: dict[str, tuple[int, str]], device) -> None:
    """Refuse, before anything is allocated, a run whose ``parts`` ({what: (bytes, the setting
    that sizes it)}) need more memory than ``device`` has free: one sentence with the estimate,
    the limit and the settings to lower."""
    from ssllib.engine.params import ParameterError

    limit = available_bytes(device)
    total = sum(size for size, _ in parts.values())
    if limit is None or total <= limit:
        return
    large = sorted(parts.items(), key=lambda item: -item[1][0])
    settings = list(dict.fromkeys(setting for _, (size, setting) in large if size > limit / 10))
    raise ParameterError(f"this run needs about {_size(total)} ("
                         + ", ".join(f"{what} {_size(size)}" for what, (size, _) in large)
                         + f") but the {device.type.upper()} has {_size(limit)} free; lower {' or '.join(settings)}")


# Tensors a ResNet keeps per image at its first stage's resolution during one training step (the
# outputs of its stem and first blocks' convolutions, batch norms and activations, for backward).
FIRST_STAGE_TENSORS = 15


def step_memory(cfg) -> dict[str, tuple[int, str]]:
    """A floor on what one training step's activations take for a ResNet run configuration
    (``backbone``, ``stem``, ``width``, ``batch_size``, ``image_size``, ``dataset``): two views of
    the batch through the first stage alone, in float32. Empty for other networks. Checked
    where a run is asked for (a chapter's settings, ``python -m ssllib.train``), so an image size
    or batch no machine holds gets a sentence, not an allocator's traceback."""
    from ssllib.data.registry import dataset_info

    if not str(getattr(cfg, "backbone", "")).startswith("resnet") or not hasattr(cfg, "width"):
        return {}
    side = cfg.image_size or dataset_info(cfg.dataset).image_size
    if cfg.stem == "imagenet":
        side = max(1, side // 4)   # the 7×7/2 convolution and the max-pool
    size = 2 * cfg.batch_size * cfg.width * side * side * 4 * FIRST_STAGE_TENSORS
    return {"one step's activations (two views of the batch, first stage only)":
            (size, "width, batch_size or image_size")}
