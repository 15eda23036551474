"""ABMIL (Ilse et al. 2018): gated attention pooling,
a_i = softmax_i(wᵀ(tanh(V h_i) ⊙ σ(U h_i))), z = Σ_i a_i h_i, the softmax taken over the bag's
real instances only."""
from __future__ import annotations

import torch
import torch.nn as nn

from ssllib.engine.registry import Method, register_method
from ssllib.mil.models import embed


class ABMIL(nn.Module):
    """Gated attention pooling."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 128, attention: int = 64, dropout: float = 0.25):
        super().__init__()
        self.embed = embed(in_dim, hidden, dropout)
        self.V, self.U = nn.Linear(hidden, attention), nn.Linear(hidden, attention)
        self.w = nn.Linear(attention, 1)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        h = self.embed(x)                                                       # (B, N, H)
        scores = self.w(torch.tanh(self.V(h)) * torch.sigmoid(self.U(h))).squeeze(-1)   # (B, N)
        a = scores.masked_fill(~mask, float("-inf")).softmax(1)
        z = (a.unsqueeze(-1) * h).sum(1)
        return {"logits": self.classifier(z), "embedding": z, "attention": a}


register_method(Method("abmil", "mil", ABMIL, help="ABMIL: gated attention pooling", title="ABMIL",
                       code=("ssllib.mil.abmil",)))
