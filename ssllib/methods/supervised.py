"""Supervised training with cross-entropy: the baseline encoder of the same size, and the
teachers of the distillation chapters."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..momentum import StepOutput


class SupervisedClassifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int, augmentation=None):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.feature_dim, num_classes)
        self.augmentation = augmentation  # uint8 batch, generator -> float batch

    def compiled_parts(self) -> tuple[nn.Module, ...]:
        """The networks ``torch.compile`` should take (with ``compile=True``)."""
        return (self.backbone,)

    def make_inputs(self, images: torch.Tensor, labels: torch.Tensor, generator=None):
        return self.augmentation(images, generator), labels

    def forward(self, x: torch.Tensor, labels: torch.Tensor, epoch: int = 0, progress: float = 0.0,
                generator=None) -> StepOutput:
        logits = self.classifier(self.backbone(x))
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return StepOutput(loss, {"loss": loss.detach(), "train_acc": accuracy})
