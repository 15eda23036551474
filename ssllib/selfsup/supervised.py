"""Supervised training with cross-entropy: the baseline encoder of the same size, and the
teachers of the distillation chapters."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from functools import partial

from ssllib.data.augment import ShiftFlipAugmentation, bound, prepare_eval
from ssllib.engine.registry import Method, register_method
from ssllib.nets.registry import build_backbone


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
                generator=None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = self.classifier(self.backbone(x))
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return loss, {"loss": loss.detach(), "train_acc": accuracy}


def supervised_view(shift_flip, images: torch.Tensor, mean, std, generator=None) -> torch.Tensor:
    """One augmented view per image. Images in memory (n, C, H, W): ``shift_flip`` on the device.
    Decoded files (n, 1, C, H, W) come random-resized-cropped and flipped by the loader's
    workers (ImageNet's recipe; the method declares one view): normalised."""
    if images.dim() == 5:
        return prepare_eval(images[:, 0], mean, std)
    return shift_flip(images, mean, std, generator)


def build_supervised(cfg, dataset, size: int) -> SupervisedClassifier:
    backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits, size)
    augmentation = partial(supervised_view, ShiftFlipAugmentation(padding=max(1, round(size / 8)), size=size))
    return SupervisedClassifier(backbone, dataset.num_classes, bound(augmentation, dataset.mean, dataset.std))


register_method(Method("supervised", "selfsup", build_supervised, title="supervised", uses_labels=True, views=1,
                       help="cross-entropy on the labels: the supervised encoder of the same size",
                       code=("ssllib.selfsup.supervised",)))
