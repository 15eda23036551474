"""TransMIL (Shao et al. 2021): a class token and the instances, squared up by repeating the
bag's first instances, through two self-attention layers with the pyramid position encoding
(depth-wise 7×7, 5×5 and 3×3 convolutions on the square grid) between them; the class token is
the embedding. The reference uses Nyström attention, an approximation of softmax attention for
long bags; this implementation computes softmax attention exactly (a choice: exact, and cheap at
the bag sizes the book runs), batched with a key-padding mask."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ssllib.engine.registry import Method, register_method
from ssllib.mil.models import embed


class PPEG(nn.Module):
    """Pyramid position encoding: each bag's instance tokens on its own square grid (side s),
    plus three depth-wise convolutions of it. Bags of several sizes share one zero-padded grid
    of the largest side, their own grid in its top-left corner: a convolution sees zeros beyond
    a bag's grid either way, so each bag gets what it would get alone."""

    def __init__(self, dim: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim) for k in (7, 5, 3))

    def forward(self, tokens: torch.Tensor, where: torch.Tensor, side: int) -> torch.Tensor:
        """``tokens`` (B, 1 + L, D): the class token, then each bag's squared-up instances in
        row-major order of its own grid; ``where`` (B, L): each position's cell in the shared
        side × side grid (side² for padding)."""
        cls, seq = tokens[:, :1], tokens[:, 1:]
        b, length, dim = seq.shape
        grid = seq.new_zeros(b, dim, side * side + 1)
        grid.scatter_(2, where[:, None, :].expand(b, dim, length), seq.transpose(1, 2))
        g = grid[:, :, : side * side].reshape(b, dim, side, side)
        g = g + sum(conv(g) for conv in self.convs)
        g = torch.cat([g.flatten(2), grid[:, :, -1:]], dim=2)
        return torch.cat([cls, torch.gather(g, 2, where[:, None, :].expand(b, dim, length)).transpose(1, 2)], dim=1)


class TransLayer(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, t: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        y = self.norm(t)
        return t + self.attention(y, y, y, key_padding_mask=padding, need_weights=False)[0]


class TransMIL(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, hidden: int = 128, heads: int = 4, dropout: float = 0.25):
        super().__init__()
        self.embed = embed(in_dim, hidden, dropout)
        self.cls = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.layer1, self.ppeg, self.layer2 = TransLayer(hidden, heads), PPEG(hidden), TransLayer(hidden, heads)
        self.norm, self.classifier = nn.LayerNorm(hidden), nn.Linear(hidden, num_classes)

    @staticmethod
    def squared(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """For each bag of n instances (side s = ⌈√n⌉): which instance fills each of its s²
        positions (the first instances repeated), which positions are real, and each position's
        cell in the shared grid of the largest side."""
        counts = mask.sum(1).tolist()
        sides = [math.ceil(math.sqrt(n)) for n in counts]
        side, length = max(sides), max(s * s for s in sides)
        source = torch.zeros(len(counts), length, dtype=torch.long)
        real = torch.zeros(len(counts), length, dtype=torch.bool)
        where = torch.full((len(counts), length), side * side, dtype=torch.long)
        for b, (n, s) in enumerate(zip(counts, sides)):
            p = torch.arange(s * s)
            source[b, : s * s] = torch.where(p < n, p, p - n)
            real[b, : s * s] = True
            where[b, : s * s] = (p // s) * side + p % s
        return source.to(mask.device), real.to(mask.device), where.to(mask.device), side

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        h = self.embed(x)                                                         # (B, N, H); real rows first
        source, real, where, side = self.squared(mask)
        seq = torch.gather(h, 1, source[:, :, None].expand(-1, -1, h.shape[2]))   # (B, L, H)
        t = torch.cat([self.cls.expand(len(h), -1, -1), seq], dim=1)
        padding = torch.cat([torch.zeros_like(real[:, :1]), ~real], dim=1)
        t = self.layer1(t, padding)
        t = self.layer2(self.ppeg(t, where, side), padding)
        z = self.norm(t)[:, 0]
        return {"logits": self.classifier(z), "embedding": z}


register_method(Method("transmil", "mil", TransMIL, help="TransMIL: self-attention over the instances with a "
                       "pyramid position encoding", title="TransMIL", code=("ssllib.mil.transmil",)))
