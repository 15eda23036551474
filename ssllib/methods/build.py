"""How each kind of method is assembled from a run configuration: backbone, head and views."""
from __future__ import annotations

from functools import partial

import torch

from ..augment import ShiftFlipAugmentation, ViewAugmentation
from ..config import RunConfig
from ..networks import build_backbone, mlp_head
from .supervised import SupervisedClassifier


def view_augmentation(cfg: RunConfig, size: int, crop: bool = True) -> ViewAugmentation:
    """MoCo-v2's view from the run's settings; ``crop=False`` where the loader crops."""
    s = cfg.jitter_strength
    return ViewAugmentation(size=size, crop_scale=(cfg.crop_min_scale, 1.0), jitter=(s, s, s, s / 4),
                            jitter_p=cfg.jitter_p, grayscale_p=cfg.grayscale_p, blur_p=cfg.blur_p,
                            blur_sigma=tuple(cfg.blur_sigma), crop=crop)


def bound(augmentation, mean, std):
    """An augmentation with the dataset's normalisation fixed: (uint8 batch, generator) -> floats."""
    return partial(_apply, augmentation, mean, std)


def _apply(augmentation, mean, std, images, generator=None):
    return augmentation(images, mean, std, generator)


def momentum_builder(cls, **fixed):
    """A builder for a :class:`~ssllib.momentum.MomentumMethod` subclass; the run's method
    options and ``fixed`` become keyword arguments of ``cls``."""
    def build(cfg: RunConfig, dataset, size: int):
        backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits)
        head = mlp_head(backbone.feature_dim, cfg.embed_dim)
        views = bound(view_augmentation(cfg, size, crop=dataset.in_memory), dataset.mean, dataset.std)
        return cls(backbone, head, cfg.embed_dim, cfg.queue_size, cfg.ema_momentum, cfg.momentum_schedule,
                   cfg.temperature, cfg.shuffle_keys, views=views,
                   generator=torch.Generator().manual_seed(cfg.seed), **cfg.options, **fixed)
    return build


def supervised(cfg: RunConfig, dataset, size: int):
    backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits)
    augmentation = ShiftFlipAugmentation(padding=max(1, round(size / 8)), size=size)
    return SupervisedClassifier(backbone, dataset.num_classes, bound(augmentation, dataset.mean, dataset.std))
