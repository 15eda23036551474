"""ResNet-18/50 backbones with a CIFAR or ImageNet stem and a width multiplier, and the
projection heads the methods put on top.

Module names follow torchvision (conv1, bn1, layer1…layer4, fc), so at width 64 with the
ImageNet stem a torchvision state dict loads unchanged. ``fc`` is an identity: a backbone
returns its pooled feature, of size ``feature_dim``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SplitBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose training statistics come from ``num_splits`` equal sub-batches.

    On one device this mimics the per-GPU statistics of multi-GPU training (MoCo's answer to
    batch-norm leaking information between a query and its key). Samples n, n + S, n + 2S, …
    share statistics; running statistics are the mean over sub-batches. In eval mode it is a
    plain BatchNorm.
    """

    def __init__(self, num_features: int, num_splits: int, **kwargs):
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = self.num_splits
        if not self.training or splits == 1:
            return super().forward(x)
        n, c, h, w = x.shape
        if n % splits:
            raise ValueError(f"batch of {n} does not split into {splits} equal sub-batches for "
                             f"split batch norm; choose a batch size divisible by {splits}")
        running_mean = self.running_mean.repeat(splits)
        running_var = self.running_var.repeat(splits)
        weight = self.weight.repeat(splits) if self.weight is not None else None
        bias = self.bias.repeat(splits) if self.bias is not None else None
        out = F.batch_norm(x.reshape(n // splits, c * splits, h, w), running_mean, running_var,
                           weight, bias, True, self.momentum, self.eps).view(n, c, h, w)
        with torch.no_grad():
            self.running_mean.copy_(running_mean.view(splits, c).mean(0))
            self.running_var.copy_(running_var.view(splits, c).mean(0))
            self.num_batches_tracked.add_(1)
        return out


def _norm(channels: int, bn_splits: int) -> nn.Module:
    return SplitBatchNorm(channels, bn_splits) if bn_splits > 1 else nn.BatchNorm2d(channels)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, bn_splits=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = _norm(planes, bn_splits)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _norm(planes, bn_splits)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            _norm(planes, bn_splits))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, bn_splits=1):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = _norm(planes, bn_splits)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = _norm(planes, bn_splits)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = _norm(out_planes, bn_splits)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out_planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out_planes, 1, stride, bias=False),
                                            _norm(out_planes, bn_splits))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    """ResNet trunk. ``stem='cifar'``: 3×3 stride-1 conv, no max-pool (for 28–64 px images);
    ``stem='imagenet'``: 7×7 stride-2 conv and 3×3 stride-2 max-pool. ``width`` is the channel
    count of the first stage (64 in the papers); later stages double it."""

    def __init__(self, block, layers, stem="cifar", width=64, in_channels=3, bn_splits=1):
        super().__init__()
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"unknown stem {stem!r}; choose 'cifar' or 'imagenet'")
        self.stem = stem
        if stem == "cifar":
            self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = _norm(width, bn_splits)
        self.relu = nn.ReLU(inplace=True)
        self.inplanes = width
        stages = []
        for i, blocks in enumerate(layers):
            planes, stride = width * 2 ** i, 1 if i == 0 else 2
            seq = []
            for b in range(blocks):
                seq.append(block(self.inplanes, planes, stride if b == 0 else 1, bn_splits))
                self.inplanes = planes * block.expansion
            stages.append(nn.Sequential(*seq))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()
        self.feature_dim = self.inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):  # (N, C, H, W) -> (N, feature_dim)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


BACKBONES = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}


def build_backbone(name: str, stem: str = "cifar", width: int = 64, in_channels: int = 3,
                   bn_splits: int = 1) -> ResNet:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    block, layers = BACKBONES[name]
    return ResNet(block, layers, stem, width, in_channels, bn_splits)


def mlp_head(in_dim: int, out_dim: int = 128, hidden_dim: int | None = None) -> nn.Sequential:
    """MoCo-v2's projection head: Linear(d, d) → ReLU → Linear(d, out), biases, no BN."""
    hidden_dim = hidden_dim or in_dim
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
