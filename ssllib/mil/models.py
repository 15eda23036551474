"""MIL aggregators: a bag of instance features (N, d) → one slide embedding → class logits.

Bags of different sizes are batched padded to the longest, with a mask (True: a real
instance); every aggregator computes exactly what it would on each bag alone. Each is a method
of the whole-slide family, declared in its own module: ``mean`` and ``max``
(:mod:`ssllib.mil.pooling`), ``abmil`` (:mod:`ssllib.mil.abmil`), ``transmil``
(:mod:`ssllib.mil.transmil`).

Every aggregator: ``forward(x, mask) -> {"logits" (B, C), "embedding" (B, H)}`` (plus
``"attention"`` (B, N) for ABMIL), dropout 0.25 after the first layer as in the reference.
"""
from __future__ import annotations

import torch.nn as nn

from ssllib.engine.registry import methods


def embed(in_dim: int, hidden: int, dropout: float) -> nn.Sequential:
    """The instance embedding every aggregator starts with: linear, ReLU, dropout."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout))


def aggregators() -> tuple[str, ...]:
    """The aggregators declared in the whole-slide family, by name."""
    return tuple(name for name, m in methods("mil").items() if m.options.get("aggregator") is None)


def build_mil_model(name: str, in_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.25) -> nn.Module:
    """The aggregator ``name`` (its method's builder)."""
    known = aggregators()
    if name not in known:
        raise ValueError(f"unknown MIL model {name!r}; choose one of {', '.join(known)}")
    return methods("mil")[name].build(in_dim, num_classes, hidden=hidden, dropout=dropout)
