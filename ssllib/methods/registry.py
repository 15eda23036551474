"""Build a method's model from a run configuration."""
from __future__ import annotations

from functools import partial

import torch

from ..augment import ShiftFlipAugmentation, ViewAugmentation
from ..config import RunConfig
from ..networks import build_backbone, mlp_head
from .mocov2 import MoCoV2
from .supervised import SupervisedClassifier


def view_augmentation(cfg: RunConfig, size: int, crop: bool = True) -> ViewAugmentation:
    """MoCo-v2's view from the run's settings; ``crop=False`` where the loader crops."""
    s = cfg.jitter_strength
    return ViewAugmentation(size=size, crop_scale=(cfg.crop_min_scale, 1.0), jitter=(s, s, s, s / 4),
                            jitter_p=cfg.jitter_p, grayscale_p=cfg.grayscale_p, blur_p=cfg.blur_p,
                            blur_sigma=tuple(cfg.blur_sigma), crop=crop)


def _bound(augmentation, mean, std):
    """An augmentation with the dataset's normalisation fixed: (uint8 batch, generator) -> floats."""
    return partial(_apply, augmentation, mean, std)


def _apply(augmentation, mean, std, images, generator=None):
    return augmentation(images, mean, std, generator)


def _momentum(cls):
    def build(cfg: RunConfig, dataset, size: int):
        backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits)
        head = mlp_head(backbone.feature_dim, cfg.embed_dim)
        views = _bound(view_augmentation(cfg, size, crop=dataset.in_memory), dataset.mean, dataset.std)
        return cls(backbone, head, cfg.embed_dim, cfg.queue_size, cfg.ema_momentum, cfg.momentum_schedule,
                   cfg.temperature, cfg.shuffle_keys, views=views,
                   generator=torch.Generator().manual_seed(cfg.seed), **cfg.options)
    return build


def _supervised(cfg: RunConfig, dataset, size: int):
    backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits)
    augmentation = ShiftFlipAugmentation(padding=max(1, round(size / 8)), size=size)
    return SupervisedClassifier(backbone, dataset.num_classes, _bound(augmentation, dataset.mean, dataset.std))


METHODS = {
    "mocov2": _momentum(MoCoV2),
    "supervised": _supervised,
}


def build_method(cfg: RunConfig, dataset, size: int):
    """The model for ``cfg.method`` on ``dataset`` at ``size`` px; evaluation looks at its ``backbone``."""
    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; choose one of {', '.join(METHODS)}")
    return METHODS[cfg.method](cfg, dataset, size)
