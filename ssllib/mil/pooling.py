"""Mean- and max-MIL: the instance embeddings pooled by their masked mean, or their masked
maximum per feature."""
from __future__ import annotations

import torch
import torch.nn as nn

from ssllib.engine.registry import Method, register_method
from ssllib.mil.models import embed


class MeanMIL(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.25):
        super().__init__()
        self.embed, self.classifier = embed(in_dim, hidden, dropout), nn.Linear(hidden, num_classes)

    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        z = self.pool(self.embed(x), mask)
        return {"logits": self.classifier(z), "embedding": z}


class MaxMIL(MeanMIL):
    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)


register_method(Method("mean", "mil", MeanMIL, help="mean-MIL: the masked mean of the instance embeddings",
                       title="mean-MIL", code=("ssllib.mil.pooling",)))
register_method(Method("max", "mil", MaxMIL, help="max-MIL: the masked maximum over instances, per feature",
                       title="max-MIL", code=("ssllib.mil.pooling",)))
