"""A student and its teacher, assembled into one step: r·CE + a·KD + b·L_method.

The teacher runs in eval mode under ``no_grad`` and is never given to the optimiser (only
:meth:`Distillation.trainable_parameters` are); ``train()`` leaves it in eval mode.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.data.augment import ShiftFlipAugmentation, bound
from ssllib.distill.config import DistillConfig
from ssllib.distill.losses import kd_loss
from ssllib.engine.registry import method as find_method
from ssllib.nets.registry import build_classifier


class Distillation(nn.Module):
    def __init__(self, student: nn.Module, teacher: nn.Module | None, criterion: nn.Module | None,
                 weights: tuple[float, float, float], kd_temperature: float, augmentation=None):
        super().__init__()
        self.student = student
        self.teacher = teacher.eval().requires_grad_(False) if teacher is not None else None
        self.criterion = criterion
        self.ce_weight, self.kd_weight, self.distill_weight = weights
        self.kd_temperature = kd_temperature
        self.augmentation = augmentation  # uint8 batch, generator -> float batch

    @property
    def backbone(self) -> nn.Module:
        return self.student

    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The student's and the criterion's parameters that learn (never the teacher's)."""
        modules = [self.student] + ([self.criterion] if self.criterion is not None else [])
        return [p for m in modules for p in m.parameters() if p.requires_grad]

    def make_inputs(self, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, generator=None):
        return self.augmentation(images, generator), labels, index

    def forward(self, x: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, epoch: int = 0,
                progress: float = 0.0, generator=None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        feats_s, logits_s = self.student(x)
        ce = F.cross_entropy(logits_s.float(), labels)
        loss, metrics = self.ce_weight * ce, {"ce": ce.detach()}
        if self.teacher is not None:
            with torch.no_grad():
                feats_t, logits_t = self.teacher(x)
            if self.kd_weight:
                kd = kd_loss(logits_s, logits_t, self.kd_temperature)
                loss = loss + self.kd_weight * kd
                metrics["kd"] = kd.detach()
            if self.criterion is not None and self.distill_weight:
                own, parts = self.criterion(feats_s[-1], feats_t[-1], index=index, labels=labels,
                                            generator=generator)
                loss = loss + self.distill_weight * own
                metrics["distill"] = own.detach()
                metrics.update(parts)  # e.g. DCD's learnt scale
        metrics["loss"] = loss.detach()
        metrics["train_acc"] = (logits_s.detach().argmax(1) == labels).float().mean()
        return loss, metrics


def build_distillation(cfg: DistillConfig, dataset, size: int, teacher: nn.Module | None) -> Distillation:
    """The model of one run: ``cfg.network`` trained on ``dataset`` at ``size`` px, distilled
    from ``teacher`` (a trained network, or None for method ce)."""
    student = build_classifier(cfg.network, dataset.num_classes, dataset.channels)
    generator = torch.Generator().manual_seed(cfg.seed)
    criterion = None
    if teacher is not None:
        criterion = find_method(cfg.method).build(cfg, student.feature_dim, teacher.feature_dim, dataset.labels,
                                                  generator)
    augmentation = ShiftFlipAugmentation(padding=max(1, round(size / 8)), size=size)
    return Distillation(student, teacher, criterion, cfg.weights, cfg.kd_temperature,
                        bound(augmentation, dataset.mean, dataset.std))
