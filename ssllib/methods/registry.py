"""The methods by name. Each entry maps a name to the builder that assembles its model."""
from __future__ import annotations

from ..config import RunConfig
from .build import momentum_builder, supervised, view_augmentation
from .mocov2 import MoCoV2
from .options import MOCHI_FIXED
from .synco import SynCo

METHODS = {
    "mocov2": momentum_builder(MoCoV2),
    "synco": momentum_builder(SynCo),
    "mochi": momentum_builder(SynCo, **MOCHI_FIXED),
    "supervised": supervised,
}

__all__ = ["METHODS", "build_method", "view_augmentation"]


def build_method(cfg: RunConfig, dataset, size: int):
    """The model for ``cfg.method`` on ``dataset`` at ``size`` px; evaluation looks at its ``backbone``."""
    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; choose one of {', '.join(METHODS)}")
    return METHODS[cfg.method](cfg, dataset, size)
