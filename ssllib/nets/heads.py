"""Projection and prediction heads with batch normalisation (BYOL's and MoBY's).

MoCo-v2's head, Linear → ReLU → Linear without normalisation, is
:func:`ssllib.nets.resnet.mlp_head`.
"""
from __future__ import annotations

import torch.nn as nn


def bn_mlp_head(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """Linear(in, hidden) → BatchNorm1d(hidden) → ReLU → Linear(hidden, out): MoBY's projector
    (in = the backbone's width) and predictor (in = out = the embedding), hidden 4096 in the
    paper. The first linear layer has no bias, the batch norm's shift takes its place."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
                         nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))
