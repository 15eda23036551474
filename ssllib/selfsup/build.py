"""How a momentum method is assembled from a run configuration: backbone, head and views."""
from __future__ import annotations

import torch

from ssllib.data.augment import ViewAugmentation, bound
from ssllib.nets.registry import build_backbone
from ssllib.nets.resnet import mlp_head


def view_augmentation(cfg, size: int, crop: bool = True) -> ViewAugmentation:
    """MoCo-v2's view from the run's settings; ``crop=False`` where the loader crops."""
    s = cfg.jitter_strength
    return ViewAugmentation(size=size, crop_scale=(cfg.crop_min_scale, 1.0), jitter=(s, s, s, s / 4),
                            jitter_p=cfg.jitter_p, grayscale_p=cfg.grayscale_p, blur_p=cfg.blur_p,
                            blur_sigma=tuple(cfg.blur_sigma), crop=crop)


def momentum_builder(cls, **fixed):
    """A builder for a :class:`~ssllib.selfsup.momentum.MomentumMethod` subclass; the run's
    method options and ``fixed`` become keyword arguments of ``cls``."""
    def build(cfg, dataset, size: int):
        backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits, size)
        head = mlp_head(backbone.feature_dim, cfg.embed_dim)
        views = bound(view_augmentation(cfg, size, crop=dataset.in_memory), dataset.mean, dataset.std)
        return cls(backbone, head, cfg.embed_dim, cfg.queue_size, cfg.ema_momentum, cfg.momentum_schedule,
                   cfg.temperature, cfg.shuffle_keys, views=views,
                   generator=torch.Generator().manual_seed(cfg.seed), **cfg.options, **fixed)
    return build
