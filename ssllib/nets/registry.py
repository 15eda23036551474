"""Every network by name, in one registry.

- ``BACKBONES``: feature extractors for the self-supervised families (an image batch → pooled
  features of ``feature_dim``): the ResNets with a CIFAR or ImageNet stem and a width, and
  timm's ViT, DeiT and Swin (full size and small-image presets; :mod:`ssllib.nets.vit`).
- ``CLASSIFIERS``: the distillation benchmark's zoo (an image batch → (features, logits);
  :mod:`ssllib.nets.zoo`).

Nothing here downloads weights: every network starts from its random initialisation.
"""
from __future__ import annotations

import torch.nn as nn

from ssllib.nets import resnet, vit
from ssllib.nets.zoo import ZOO as CLASSIFIERS
from ssllib.nets.zoo import build_network as build_classifier

BACKBONES: tuple[str, ...] = (*resnet.BACKBONES, *vit.TRANSFORMERS)


def backbone_modules(name: str) -> tuple[str, ...]:
    """The optional modules (dotted) a backbone is built from, for run fingerprints."""
    return ("ssllib.nets.vit",) if name in vit.TRANSFORMERS else ()


def build_backbone(name: str, stem: str = "cifar", width: int = 64, in_channels: int = 3, bn_splits: int = 1,
                   image_size: int = 32, drop_path: float = 0.0) -> nn.Module:
    """The backbone ``name``; ResNets take ``stem``, ``width`` and ``bn_splits``, transformers
    ``image_size`` and ``drop_path``."""
    if name in resnet.BACKBONES:
        return resnet.build_backbone(name, stem, width, in_channels, bn_splits)
    if name in vit.TRANSFORMERS:
        return vit.build_transformer(name, in_channels, image_size, drop_path)
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


__all__ = ["BACKBONES", "CLASSIFIERS", "build_backbone", "build_classifier"]
