"""Vision-transformer backbones, built through timm with random weights (never downloaded).

``build_transformer(name, in_channels, image_size, drop_path)`` returns a timm model without a
classifier head: it maps images (N, in_channels, image_size, image_size) to pooled features
(N, feature_dim), and carries ``feature_dim``. ``TRANSFORMERS`` maps each name to its builder:

* ``vit_small``   ViT-S/16 in the MoBY reference's variant: 384 dim, depth 12, 12 heads, and a
  fixed 2-D sin-cos position embedding (:func:`sincos_2d_position_embedding`); class-token pooled.
* ``deit_small``  timm's DeiT-S (``deit_small_patch16_224``): 384 dim, depth 12, 6 heads, learnt
  position embedding; class-token pooled.
* ``swin_tiny``   timm's Swin-T (``swin_tiny_patch4_window7_224``): 768-dim average-pooled output.
* ``vit_tiny_small_image`` and ``swin_tiny_small_image``: small presets for 16–32 px images
  (CIFAR on one GPU; hyper-parameters in their docstrings);
* ``vit_micro_small_image`` and ``swin_micro_small_image``: narrower and shallower still, for a
  2-core CPU (the ViT chapter's ``cpu`` profile).

The full-size models take any ``image_size`` their patch size divides (224 in the papers); every
model takes any ``in_channels`` (1 for Fashion-MNIST).
"""
from __future__ import annotations

from typing import Callable

import timm
import torch
import torch.nn as nn
from timm.models.swin_transformer import SwinTransformer
from timm.models.vision_transformer import VisionTransformer


def sincos_2d_position_embedding(grid_size: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """The fixed 2-D sin-cos position table of a ``grid_size`` × ``grid_size`` patch grid, (grid², dim).

    Token ``m = i * grid_size + j`` is the patch in row ``i``, column ``j`` (timm's row-major
    flattening). With ``q = dim / 4`` and frequencies ``ω_k = 1 / temperature^(k / q)`` for
    ``k = 0 … q-1``, its channels are

        [ sin(i ω_k) | cos(i ω_k) | sin(j ω_k) | cos(j ω_k) ],   each block q channels wide,

    so the first half encodes the row and the second half the column. ``dim`` must divide by 4.
    """
    if dim % 4:
        raise ValueError(f"the 2-D sin-cos position embedding needs a width divisible by 4, got {dim}")
    q = dim // 4
    omega = 1.0 / temperature ** (torch.arange(q, dtype=torch.float64) / q)          # (q,)
    rows, cols = torch.meshgrid(torch.arange(grid_size, dtype=torch.float64),
                                torch.arange(grid_size, dtype=torch.float64), indexing="ij")
    row_angles = rows.reshape(-1, 1) * omega                                          # (grid², q)
    col_angles = cols.reshape(-1, 1) * omega                                          # (grid², q)
    table = torch.cat([row_angles.sin(), row_angles.cos(), col_angles.sin(), col_angles.cos()], dim=1)
    return table.float()                                                              # (grid², dim)


def _check_multiple(name: str, image_size: int, step: int, reason: str) -> None:
    """Raise a ValueError naming the nearest working sizes unless ``step`` divides ``image_size``."""
    if image_size >= step and image_size % step == 0:
        return
    below, above = (image_size // step) * step, (image_size // step + 1) * step
    nearest = f"{below} or {above}" if below else f"{above}"
    raise ValueError(f"{name}: {reason}, which does not divide image size {image_size}; "
                     f"use a multiple of {step}, e.g. {nearest}")


# What each transformer needs of the image side: (the step that must divide it, why).
SIZE_RULES: dict[str, tuple[int, str]] = {
    "vit_small": (16, "patch size 16"),
    "deit_small": (16, "patch size 16"),
    # timm pads stages whose grid the 7-px window does not divide, so only the patch must divide.
    "swin_tiny": (4, "patch size 4"),
    "vit_tiny_small_image": (8, "an 8×8 patch grid (patch = image_size // 8)"),
    "swin_tiny_small_image": (8, "patch 2 and two 2× patch merges (a factor 8)"),
    "vit_micro_small_image": (4, "a 4×4 patch grid (patch = image_size // 4)"),
    "swin_micro_small_image": (4, "patch 2 and one 2× patch merge with windows of image_size // 4"),
}


def check_image_size(name: str, image_size: int) -> None:
    """Raise a ValueError (one sentence, with the nearest working sizes) unless transformer
    ``name`` can take ``image_size`` × ``image_size`` images; nothing is built."""
    step, reason = SIZE_RULES[name]
    _check_multiple(name, image_size, step, reason)


def _vit_small(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    model = VisionTransformer(img_size=image_size, patch_size=16, in_chans=in_channels, num_classes=0,
                              embed_dim=384, depth=12, num_heads=12, drop_path_rate=drop_path)
    grid = model.patch_embed.grid_size[0]
    table = sincos_2d_position_embedding(grid, model.embed_dim)            # (grid², 384)
    cls_position = torch.zeros(1, model.embed_dim)                          # (1, 384): the class token
    with torch.no_grad():
        model.pos_embed.copy_(torch.cat([cls_position, table])[None])       # (1, 1 + grid², 384)
    model.pos_embed.requires_grad_(False)
    return model


def _deit_small(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    return timm.create_model("deit_small_patch16_224", pretrained=False, num_classes=0, img_size=image_size,
                             in_chans=in_channels, drop_path_rate=drop_path)


def _swin_tiny(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=0,
                             img_size=image_size, in_chans=in_channels, drop_path_rate=drop_path)


def _vit_tiny_small_image(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    """A tiny ViT on an 8×8 patch grid: patch = image_size // 8 (2 at 16 px, 4 at 32 px), embed 192,
    depth 6, 3 heads, MLP ratio 4, learnt position embedding, class-token pooled → (N, 192)."""
    return VisionTransformer(img_size=image_size, patch_size=image_size // 8, in_chans=in_channels,
                             num_classes=0, embed_dim=192, depth=6, num_heads=3, drop_path_rate=drop_path)


def _swin_tiny_small_image(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    """A tiny Swin: patch 2, embed 48, depths (2, 2, 2), heads (3, 6, 12), window image_size // 8,
    average-pooled → (N, 192). The stage grids are image_size / 2, / 4, / 8, so the window equals
    the last grid and divides every stage (32 px: grids 16, 8, 4 with window 4; 16 px: grids
    8, 4, 2 with window 2); the last stage is one unshifted window."""
    return SwinTransformer(img_size=image_size, patch_size=2, in_chans=in_channels, num_classes=0,
                           embed_dim=48, depths=(2, 2, 2), num_heads=(3, 6, 12), window_size=image_size // 8,
                           drop_path_rate=drop_path)


def _vit_micro_small_image(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    """A micro ViT on a 4×4 patch grid: patch = image_size // 4 (4 at 16 px), embed 96, depth 4,
    3 heads, MLP ratio 4, learnt position embedding, class-token pooled → (N, 96). About 0.45 M
    parameters; its MoBY step is roughly 16× cheaper than the tiny preset's at 16 px."""
    return VisionTransformer(img_size=image_size, patch_size=image_size // 4, in_chans=in_channels,
                             num_classes=0, embed_dim=96, depth=4, num_heads=3, drop_path_rate=drop_path)


def _swin_micro_small_image(in_channels: int, image_size: int, drop_path: float) -> nn.Module:
    """A micro Swin: patch 2, embed 32, depths (2, 2), heads (2, 4), window image_size // 4,
    average-pooled → (N, 64). The stage grids are image_size / 2 and / 4 (16 px: 8 and 4 with
    window 4: four shifted windows, then one), about 0.13 M parameters."""
    return SwinTransformer(img_size=image_size, patch_size=2, in_chans=in_channels, num_classes=0,
                           embed_dim=32, depths=(2, 2), num_heads=(2, 4), window_size=image_size // 4,
                           drop_path_rate=drop_path)


TRANSFORMERS: dict[str, Callable[[int, int, float], nn.Module]] = {
    "vit_small": _vit_small,
    "deit_small": _deit_small,
    "swin_tiny": _swin_tiny,
    "vit_tiny_small_image": _vit_tiny_small_image,
    "swin_tiny_small_image": _swin_tiny_small_image,
    "vit_micro_small_image": _vit_micro_small_image,
    "swin_micro_small_image": _swin_micro_small_image,
}


def build_transformer(name: str, in_channels: int, image_size: int, drop_path: float = 0.0) -> nn.Module:
    """The backbone ``name`` with random weights: (N, in_channels, image_size, image_size) →
    (N, feature_dim). ``drop_path`` is timm's stochastic-depth rate (it rises linearly to this
    value over the blocks)."""
    if name not in TRANSFORMERS:
        raise ValueError(f"unknown transformer {name!r}; choose one of {', '.join(TRANSFORMERS)}")
    check_image_size(name, image_size)
    model = TRANSFORMERS[name](in_channels, image_size, drop_path)
    model.feature_dim = int(model.num_features)
    return model
