"""MIL aggregators: a bag of instance features (N, d) → one slide embedding → class logits.

Bags of different sizes are batched padded to the longest, with a mask (True: a real
instance); every model computes exactly what it would on each bag alone:

- ``mean``: the masked mean of the instance embeddings;
- ``max``: the masked maximum over instances, per feature;
- ``abmil``: gated attention (Ilse et al. 2018), a_i = softmax_i(wᵀ(tanh(V h_i) ⊙ σ(U h_i))),
  z = Σ_i a_i h_i, the softmax taken over the bag's real instances only;
- ``transmil``: TransMIL (Shao et al. 2021): a class token and the instances, squared up by
  repeating the bag's first instances, through two self-attention layers with the pyramid
  position encoding (depth-wise 7×7, 5×5 and 3×3 convolutions on the square grid) between them;
  the class token is the embedding. The reference uses Nyström attention, an approximation of
  softmax attention for long bags; this implementation computes softmax attention exactly, bag
  by bag (a choice: exact, and cheap at the bag sizes the book runs).

Every model: ``forward(x, mask) -> {"logits" (B, C), "embedding" (B, H)}`` (plus
``"attention"`` (B, N) for ABMIL), dropout 0.25 after the first layer as in the reference.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

MIL_MODELS = ("mean", "max", "abmil", "transmil")


def _embed(in_dim: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout))


class MeanMIL(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.25):
        super().__init__()
        self.embed, self.classifier = _embed(in_dim, hidden, dropout), nn.Linear(hidden, num_classes)

    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        z = self.pool(self.embed(x), mask)
        return {"logits": self.classifier(z), "embedding": z}


class MaxMIL(MeanMIL):
    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)


class ABMIL(nn.Module):
    """Gated attention pooling."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 128, attention: int = 64, dropout: float = 0.25):
        super().__init__()
        self.embed = _embed(in_dim, hidden, dropout)
        self.V, self.U = nn.Linear(hidden, attention), nn.Linear(hidden, attention)
        self.w = nn.Linear(attention, 1)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        h = self.embed(x)                                                       # (B, N, H)
        scores = self.w(torch.tanh(self.V(h)) * torch.sigmoid(self.U(h))).squeeze(-1)   # (B, N)
        a = scores.masked_fill(~mask, float("-inf")).softmax(1)
        z = (a.unsqueeze(-1) * h).sum(1)
        return {"logits": self.classifier(z), "embedding": z, "attention": a}


class PPEG(nn.Module):
    """Pyramid position encoding: the instance tokens on a square grid, plus three depth-wise
    convolutions of it."""

    def __init__(self, dim: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim) for k in (7, 5, 3))

    def forward(self, tokens: torch.Tensor, side: int) -> torch.Tensor:
        cls, grid = tokens[:, :1], tokens[:, 1:]
        g = grid.transpose(1, 2).reshape(grid.shape[0], grid.shape[2], side, side)
        g = g + sum(conv(g) for conv in self.convs)
        return torch.cat([cls, g.flatten(2).transpose(1, 2)], dim=1)


class TransLayer(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        y = self.norm(t)
        return t + self.attention(y, y, y, need_weights=False)[0]


class TransMIL(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, hidden: int = 128, heads: int = 4, dropout: float = 0.25):
        super().__init__()
        self.embed = _embed(in_dim, hidden, dropout)
        self.cls = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.layer1, self.ppeg, self.layer2 = TransLayer(hidden, heads), PPEG(hidden), TransLayer(hidden, heads)
        self.norm, self.classifier = nn.LayerNorm(hidden), nn.Linear(hidden, num_classes)

    def one_bag(self, h: torch.Tensor) -> torch.Tensor:
        """(N, H) instance embeddings of one bag → (H,) its class token."""
        side = math.ceil(math.sqrt(len(h)))
        h = torch.cat([h, h[: side * side - len(h)]]) if side * side > len(h) else h   # square it up
        t = torch.cat([self.cls[0], h]).unsqueeze(0)
        t = self.layer2(self.ppeg(self.layer1(t), side))
        return self.norm(t)[0, 0]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        h = self.embed(x)
        z = torch.stack([self.one_bag(h[b, mask[b]]) for b in range(len(h))])
        return {"logits": self.classifier(z), "embedding": z}


def build_mil_model(name: str, in_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.25) -> nn.Module:
    models = {"mean": MeanMIL, "max": MaxMIL, "abmil": ABMIL, "transmil": TransMIL}
    if name not in models:
        raise ValueError(f"unknown MIL model {name!r}; choose one of {', '.join(MIL_MODELS)}")
    return models[name](in_dim, num_classes, hidden=hidden, dropout=dropout)
