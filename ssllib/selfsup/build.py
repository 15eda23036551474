"""How a momentum method is assembled from a run configuration: backbone, head and views."""
from __future__ import annotations

import torch

from ssllib.data.augment import CompiledViews, ViewAugmentation, bound
from ssllib.nets.heads import bn_mlp_head
from ssllib.nets.registry import build_backbone
from ssllib.nets.resnet import mlp_head


def view_augmentation(cfg, size: int, crop: bool = True, view: int = 1) -> ViewAugmentation:
    """View 1 or 2 from the run's settings (view 2 takes the ``view2_`` settings that are set);
    ``crop=False`` where the loader crops."""
    s = cfg.jitter_strength
    blur_p, solarize_p = cfg.blur_p, cfg.solarize_p
    if view == 2:
        blur_p = blur_p if cfg.view2_blur_p is None else cfg.view2_blur_p
        solarize_p = solarize_p if cfg.view2_solarize_p is None else cfg.view2_solarize_p
    return ViewAugmentation(size=size, crop_scale=(cfg.crop_min_scale, 1.0),
                            jitter=(s, s, s, s / 4) if cfg.jitter is None else tuple(cfg.jitter),
                            jitter_p=cfg.jitter_p, grayscale_p=cfg.grayscale_p, blur_p=blur_p,
                            blur_sigma=tuple(cfg.blur_sigma), solarize_p=solarize_p, crop=crop)


def views_of(cfg, dataset, size: int):
    """The two views' augmentations with the dataset's normalisation: one callable when they
    are the same, else the pair (view 1, view 2). With ``compile`` their pixel work is compiled
    too (:class:`~ssllib.data.augment.CompiledViews`)."""
    first, second = (view_augmentation(cfg, size, crop=dataset.in_memory, view=v) for v in (1, 2))
    made = CompiledViews if cfg.compile else (lambda augmentation: augmentation)
    if first == second:
        return bound(made(first), dataset.mean, dataset.std)
    return bound(made(first), dataset.mean, dataset.std), bound(made(second), dataset.mean, dataset.std)


def momentum_builder(cls, **fixed):
    """A builder for a :class:`~ssllib.selfsup.momentum.MomentumMethod` subclass with MoCo-v2's
    head; the run's method options and ``fixed`` become keyword arguments of ``cls``."""
    def build(cfg, dataset, size: int):
        backbone = _backbone(cfg, dataset, size)
        return _assemble(cls, cfg, dataset, size, backbone, mlp_head(backbone.feature_dim, cfg.embed_dim),
                         {**cfg.options, **fixed})
    return build


def moby_builder(cls, **fixed):
    """A builder for MoBY-shaped methods: projector and predictor are batch-normalised MLPs
    (:func:`~ssllib.nets.heads.bn_mlp_head`, hidden ``head_hidden_dim``), both views are
    queries and keys (``symmetric``, a queue per view); the other method options and ``fixed``
    become keyword arguments of ``cls``."""
    def build(cfg, dataset, size: int):
        options = {**cfg.options, **fixed}
        hidden = options.pop("head_hidden_dim")
        backbone = _backbone(cfg, dataset, size)
        return _assemble(cls, cfg, dataset, size, backbone, bn_mlp_head(backbone.feature_dim, hidden, cfg.embed_dim),
                         options, predictor=bn_mlp_head(cfg.embed_dim, hidden, cfg.embed_dim), symmetric=True)
    return build


def _backbone(cfg, dataset, size: int):
    return build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits, size, cfg.drop_path)


def _assemble(cls, cfg, dataset, size: int, backbone, head, options: dict, **shape):
    return cls(backbone, head, cfg.embed_dim, cfg.queue_size, cfg.ema_momentum, cfg.momentum_schedule,
               cfg.temperature, cfg.shuffle_keys, views=views_of(cfg, dataset, size),
               generator=torch.Generator().manual_seed(cfg.seed), **shape, **options)
