"""Learning-rate schedules as functions of the step."""
from __future__ import annotations

import math


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, peak: float, final: float = 0.0) -> float:
    """Linear warm-up from 0 to ``peak`` over ``warmup_steps``, then a half cosine to ``final``."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def warmup_constant(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    return peak


def step_decay(epoch: float, peak: float, milestones, gamma: float = 0.1) -> float:
    """``peak`` × ``gamma`` for every milestone epoch already passed (the benchmark's schedule)."""
    return peak * gamma ** sum(epoch >= m for m in milestones)
