"""The networks of the CIFAR-100 distillation benchmark (CRD's protocol, used by RRD and DCD).

Every network maps images (N, C, H, W) to ``(features, logits)``: ``features`` is a list of
intermediate maps ending with the pooled penultimate vector (N, feature_dim), taken after the
final ReLU; that last entry is the one the relational and contrastive losses project. Pooling
is global, so the networks also run at sizes other than 32 px (the book trains at 16 px on
Fashion-MNIST). Parameter counts at 100 classes and 3 input channels match the benchmark's.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.nets.resnet import Bottleneck, ResNet


def _conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, relu: bool = True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def _stages(block, cin: int, widths, n: int) -> nn.ModuleList:
    """Stages of ``n`` blocks each, ``widths`` channels, the first block of every stage but the
    first with stride 2."""
    stages = []
    for i, cout in enumerate(widths):
        stages.append(nn.Sequential(*[block(cin if b == 0 else cout, cout, 2 if b == 0 and i > 0 else 1)
                                      for b in range(n)]))
        cin = cout
    return nn.ModuleList(stages)


def _pool(x: torch.Tensor) -> torch.Tensor:
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class ZooNetwork(nn.Module):
    """The shared shape: ``stem`` → each of ``stages`` → ``finish`` → global average pool →
    ``fc``. Every stage's output is a feature; the pooled vector is the last one."""

    feature_dim: int

    def finish(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """The network's last transform of the stage outputs (none by default)."""
        return feats

    def forward(self, x):
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        feats = self.finish(feats)
        pooled = _pool(feats[-1])
        return feats + [pooled], self.fc(pooled)


# ----------------------------------------------------------------------- CIFAR ResNets


class CifarBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, 3, stride)
        self.conv2 = _conv_bn(cout, cout, 3, 1, relu=False)
        self.shortcut = _conv_bn(cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class CifarResNet(ZooNetwork):
    """ResNet of depth 6n+2 with BasicBlocks: a 3×3 stem of ``widths[0]`` channels, three stages
    of n blocks with ``widths[1:]`` channels and strides 1, 2, 2."""

    def __init__(self, depth: int, widths=(16, 16, 32, 64), num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, …), not {depth}")
        n = (depth - 2) // 6
        self.stem = _conv_bn(in_channels, widths[0])
        self.stages = _stages(CifarBasicBlock, widths[0], widths[1:], n)
        self.feature_dim = widths[-1]
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


# ----------------------------------------------------------------------- Wide ResNets


class PreActBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv-BN-ReLU-conv; a 1×1 shortcut on the activated input
    when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (x if self.shortcut is None else self.shortcut(a))


class WideResNet(ZooNetwork):
    """WRN-d-k: (d−4)/6 pre-activation blocks per stage, widths 16, 16k, 32k, 64k, a final
    BN-ReLU before pooling."""

    def __init__(self, depth: int, k: int, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"a Wide ResNet has depth 6n+4 (10, 16, 22, 28, 40, …), not {depth}")
        n = (depth - 4) // 6
        widths = (16, 16 * k, 32 * k, 64 * k)
        self.stem = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.stages = _stages(PreActBlock, widths[0], widths[1:], n)
        self.bn = nn.BatchNorm2d(widths[-1])
        self.feature_dim = widths[-1]
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def finish(self, feats):
        return feats[:-1] + [F.relu(self.bn(feats[-1]))]


# ----------------------------------------------------------------------- VGG


VGG_BLOCKS = {8: (1, 1, 1, 1, 1), 11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3),
              19: (2, 2, 4, 4, 4)}


class VGG(ZooNetwork):
    """VGG with BN: five blocks of 3×3 convs (64/128/256/512/512 channels), a 2×2 max-pool after
    the first three, global average pooling, Linear(512 → classes)."""

    def __init__(self, depth: int, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        if depth not in VGG_BLOCKS:
            raise ValueError(f"no VGG of depth {depth}; choose one of {sorted(VGG_BLOCKS)}")
        blocks, cin = [], in_channels
        for convs, cout in zip(VGG_BLOCKS[depth], (64, 128, 256, 512, 512)):
            layers = []
            for _ in range(convs):
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin = cout
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.feature_dim = 512
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            feats.append(x)
            if i < 3:
                x = F.max_pool2d(x, 2)
        pooled = _pool(x)
        return feats + [pooled], self.fc(pooled)


# ----------------------------------------------------------------------- ResNet-50 (CIFAR stem)


class CifarResNet50(ZooNetwork):
    """Bottleneck ResNet-50 with the 3×3 stride-1 stem and no max-pool (the library's ResNet)."""

    def __init__(self, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        self.trunk = ResNet(Bottleneck, [3, 4, 6, 3], "cifar", 64, in_channels)
        self.feature_dim = self.trunk.feature_dim
        self.fc = nn.Linear(self.feature_dim, num_classes)

    def forward(self, x):
        t = self.trunk
        feats = [t.relu(t.bn1(t.conv1(x)))]
        for layer in (t.layer1, t.layer2, t.layer3, t.layer4):
            feats.append(layer(feats[-1]))
        pooled = _pool(feats[-1])
        return feats + [pooled], self.fc(pooled)


# ----------------------------------------------------------------------- MobileNetV2


class InvertedResidual(nn.Module):
    """1×1 expansion (×t), 3×3 depthwise, 1×1 linear projection; identity shortcut when the
    shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.body = nn.Sequential(_conv_bn(cin, mid, 1), _conv_bn(mid, mid, 3, stride, groups=mid),
                                  _conv_bn(mid, cout, 1, relu=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(ZooNetwork):
    """MobileNetV2 at width ×``width``: a stride-2 3×3 stem, seven stages (t, c, n, s), a 1×1
    conv to 1,280 channels."""

    STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
              (6, 320, 1, 1))

    def __init__(self, width: float = 0.5, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        cin = int(32 * width)
        self.stem = _conv_bn(in_channels, cin, 3, 2)
        stages = []
        for t, c, n, s in self.STAGES:
            cout = int(c * width)
            stages.append(nn.Sequential(*[InvertedResidual(cin if i == 0 else cout, cout, s if i == 0 else 1, t)
                                          for i in range(n)]))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.feature_dim = 1280
        self.head = _conv_bn(cin, self.feature_dim, 1)
        self.fc = nn.Linear(self.feature_dim, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def finish(self, feats):
        return feats + [self.head(feats[-1])]


# ----------------------------------------------------------------------- ShuffleNets


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, g·c, H, W) → interleave the g groups' channels."""
    n, ch, h, w = x.shape
    return x.view(n, groups, ch // groups, h, w).transpose(1, 2).reshape(n, ch, h, w)


class ShuffleV1Unit(nn.Module):
    """Grouped 1×1 (no grouping on the 24-channel stem output), shuffle, 3×3 depthwise, grouped
    1×1. Stride 2 concatenates an average-pooled shortcut; stride 1 adds it."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int):
        super().__init__()
        mid = cout // 4
        self.first_groups = 1 if cin == 24 else groups
        self.conv1 = _conv_bn(cin, mid, 1, groups=self.first_groups)
        self.conv2 = _conv_bn(mid, mid, 3, stride, groups=mid, relu=False)
        self.conv3 = _conv_bn(mid, cout, 1, groups=groups, relu=False)
        self.stride = stride

    def forward(self, x):
        out = self.conv3(self.conv2(channel_shuffle(self.conv1(x), self.first_groups)))
        if self.stride == 2:
            return F.relu(torch.cat([out, F.avg_pool2d(x, 3, 2, 1)], 1))
        return F.relu(out + x)


class ShuffleNetV1(ZooNetwork):
    """ShuffleNetV1 (g = 3): a 1×1 stem of 24 channels, stages of 240/480/960 channels with
    4/8/4 units, the first of each stage with stride 2."""

    def __init__(self, groups: int = 3, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        self.stem = _conv_bn(in_channels, 24, 1)
        stages, cin = [], 24
        for cout, n in zip((240, 480, 960), (4, 8, 4)):
            units = [ShuffleV1Unit(cin, cout - cin, 2, groups)] + [ShuffleV1Unit(cout, cout, 1, groups)
                                                                   for _ in range(n - 1)]
            stages.append(nn.Sequential(*units))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.feature_dim = cin
        self.fc = nn.Linear(cin, num_classes)


class ShuffleV2Unit(nn.Module):
    """Stride 1: split the channels in half, transform one half (1×1, 3×3 depthwise, 1×1),
    concatenate, shuffle. Stride 2: both branches downsample and their outputs are concatenated."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride == 1:
            self.left = None
            branch_in = cin // 2
        else:
            self.left = nn.Sequential(_conv_bn(cin, cin, 3, 2, groups=cin, relu=False), _conv_bn(cin, half, 1))
            branch_in = cin
        self.right = nn.Sequential(_conv_bn(branch_in, half, 1),
                                   _conv_bn(half, half, 3, stride, groups=half, relu=False), _conv_bn(half, half, 1))

    def forward(self, x):
        if self.left is None:
            keep, x = x.chunk(2, dim=1)
            out = torch.cat([keep, self.right(x)], 1)
        else:
            out = torch.cat([self.left(x), self.right(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(ZooNetwork):
    """ShuffleNetV2 (×1): a 1×1 stem of 24 channels, stages of 116/232/464 channels with a
    downsampling unit and 3/7/3 units each, then a 1×1 conv to 1,024 channels."""

    def __init__(self, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        self.stem = _conv_bn(in_channels, 24, 1)
        stages, cin = [], 24
        for cout, n in zip((116, 232, 464), (3, 7, 3)):
            stages.append(nn.Sequential(ShuffleV2Unit(cin, cout, 2), *[ShuffleV2Unit(cout, cout, 1) for _ in range(n)]))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.feature_dim = 1024
        self.head = _conv_bn(cin, self.feature_dim, 1)
        self.fc = nn.Linear(self.feature_dim, num_classes)

    def finish(self, feats):
        return feats + [self.head(feats[-1])]


# ----------------------------------------------------------------------- the zoo

ZOO: dict[str, Callable[..., ZooNetwork]] = {
    **{f"resnet{d}": (lambda d: lambda **kw: CifarResNet(d, **kw))(d) for d in (8, 14, 20, 32, 44, 56, 110)},
    "resnet8x4": lambda **kw: CifarResNet(8, (32, 64, 128, 256), **kw),
    "resnet32x4": lambda **kw: CifarResNet(32, (32, 64, 128, 256), **kw),
    **{f"wrn_{d}_{k}": (lambda d, k: lambda **kw: WideResNet(d, k, **kw))(d, k)
       for d, k in ((16, 1), (16, 2), (40, 1), (40, 2))},
    **{f"vgg{d}": (lambda d: lambda **kw: VGG(d, **kw))(d) for d in VGG_BLOCKS},
    "ResNet50": lambda **kw: CifarResNet50(**kw),
    "MobileNetV2": lambda **kw: MobileNetV2(0.5, **kw),
    "ShuffleV1": lambda **kw: ShuffleNetV1(3, **kw),
    "ShuffleV2": lambda **kw: ShuffleNetV2(**kw),
}

# The benchmark gives these students a tenth of the usual learning rate.
LOW_LR_NETWORKS = ("MobileNetV2", "ShuffleV1", "ShuffleV2")


def build_network(name: str, num_classes: int = 100, in_channels: int = 3) -> ZooNetwork:
    """A benchmark network by name; it returns (features, logits) and has ``feature_dim``."""
    if name not in ZOO:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(ZOO)}")
    net = ZOO[name](num_classes=num_classes, in_channels=in_channels)
    net.name = name
    return net
