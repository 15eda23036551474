"""The benchmark's peer: the same MoCo-v2 model, batch, augmentations and queue assembled the
way most users train today, from the ``lightly`` package's MoCo pieces (projection head,
momentum update, batch shuffle, NT-Xent loss with a memory bank) and its torchvision
per-image ``MoCoV2Transform`` running in DataLoader workers.

``lightly`` is an optional dependency: ``pip install -e .[bench]``.
"""
from __future__ import annotations

import copy

import torch
from torchvision.transforms.v2 import functional as TF

from ssllib.bench.step import seconds_of
from ssllib.selfsup.config import RunConfig
from ssllib.nets.resnet import build_backbone


class _PeerImages(torch.utils.data.Dataset):
    """An in-memory uint8 dataset served as PIL images through a per-image transform."""

    def __init__(self, images: torch.Tensor, transform):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(TF.to_pil_image(self.images[i]))


def peer_throughput(cfg: RunConfig, data, device: torch.device, steps: int = 20, warmup: int = 5,
                    workers: int = 2) -> dict:
    """Images per second of a lightly-built MoCo-v2 training step with ``workers`` DataLoader
    workers, on the model, batch, augmentation settings and queue of ``cfg``."""
    try:
        from lightly.loss import NTXentLoss
        from lightly.models.modules import MoCoProjectionHead
        from lightly.models.utils import batch_shuffle, batch_unshuffle, deactivate_requires_grad, update_momentum
        from lightly.transforms import MoCoV2Transform
    except ImportError as err:
        raise ImportError("the peer benchmark needs the lightly package: pip install -e .[bench]") from err
    if not data.train.in_memory:
        raise ValueError(f"the peer benchmark takes an in-memory dataset; {cfg.dataset} is read from image files")

    torch.manual_seed(cfg.seed)
    backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, data.train.channels, cfg.bn_splits)
    head = MoCoProjectionHead(backbone.feature_dim, backbone.feature_dim, cfg.embed_dim)
    query = torch.nn.Sequential(backbone, head).to(device)
    key = copy.deepcopy(query)
    deactivate_requires_grad(key)
    criterion = NTXentLoss(temperature=cfg.temperature, memory_bank_size=(cfg.queue_size, cfg.embed_dim)).to(device)
    optimizer = torch.optim.SGD(query.parameters(), lr=cfg.lr, momentum=cfg.sgd_momentum,
                                weight_decay=cfg.weight_decay)
    s = cfg.jitter_strength
    transform = MoCoV2Transform(input_size=data.size, cj_prob=cfg.jitter_p, cj_strength=1.0, cj_bright=s,
                                cj_contrast=s, cj_sat=s, cj_hue=s / 4, min_scale=cfg.crop_min_scale,
                                random_gray_scale=cfg.grayscale_p, gaussian_blur=cfg.blur_p,
                                sigmas=tuple(cfg.blur_sigma), hf_prob=0.5,
                                normalize={"mean": list(data.train.mean), "std": list(data.train.std)})
    loader = torch.utils.data.DataLoader(_PeerImages(data.train.images, transform), batch_size=cfg.batch_size,
                                         shuffle=True, drop_last=True, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0)

    def batches():
        while True:
            yield from loader

    stream = batches()

    def step():
        x_q, x_k = (v.to(device, non_blocking=True) for v in next(stream))
        update_momentum(query, key, cfg.ema_momentum)
        q = query(x_q)
        with torch.no_grad():
            shuffled, unshuffle = batch_shuffle(x_k)
            k = batch_unshuffle(key(shuffled), unshuffle)
        loss = criterion(q, k)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    query.train()
    seconds_of(step, warmup, device)
    rate = cfg.batch_size * steps / seconds_of(step, steps, device)
    return {"peer": "lightly " + __import__("lightly").__version__, "workers": workers, "peer_img_per_s": rate}
