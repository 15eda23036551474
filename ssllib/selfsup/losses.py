"""Losses as pure functions. Each docstring gives the maths; tests check them by hand."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_logits(q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Cosine logits of each query against its positive key and a bank of negatives.

    q, k: (N, D) unit vectors; negatives: (K, D) unit vectors.
    Returns (N, 1 + K): column 0 is q_i·k_i, columns 1… are q_i·n_j.
    """
    positive = (q * k).sum(dim=1, keepdim=True)
    return torch.cat([positive, q @ negatives.t()], dim=1)


def info_nce(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with the positive in column 0 (MoCo, Eq. 1 of He et al. 2020):

        L = −(1/N) Σ_i log [ exp(s_i0 / τ) / Σ_j exp(s_ij / τ) ]

    logits: (N, 1 + K) similarities s_ij; returns the scalar mean over the batch.
    """
    target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits / temperature, target)
