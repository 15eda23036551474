"""Batches of uint8 images on the training device.

In-memory datasets are moved to the device once and sliced by a seeded permutation, so a
step costs one index operation. Image-file datasets are decoded by DataLoader workers; for
training, each worker also draws the random resized crops (``views`` per image) so batches
have a fixed size, and the rest of the augmentation runs batched on the device.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from ssllib.engine.distributed import own_rows, world_size


class PairedCrops:
    """Worker-side transform: ``views`` random resized crops (with flips) of one decoded image,
    stacked as uint8 (views, C, size, size)."""

    def __init__(self, size: int, scale=(0.2, 1.0), views: int = 2):
        self.crop = T.Compose([T.RandomResizedCrop(size, scale=scale, antialias=True), T.RandomHorizontalFlip()])
        self.views = views

    def __call__(self, image):
        return torch.stack([self.crop(image) for _ in range(self.views)])


class CentreCrop:
    """Worker-side evaluation transform: resize the short side to size·8/7, centre-crop size."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, image):
        return TF.center_crop(TF.resize(image, round(self.size * 8 / 7), antialias=True), [self.size, self.size])


class TrainBatches:
    """Fixed-size shuffled batches, ``drop_last``. With several processes each takes its rows
    of every global batch (r, r + W, …; see :mod:`ssllib.engine.distributed`), so all processes see
    one permutation."""

    def __init__(self, dataset, batch_size: int, device: torch.device, size: int,
                 crop_scale=(0.2, 1.0), views: int = 2, num_workers: int = 8):
        world = world_size()
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} does not divide over {world} processes")
        self.dataset = dataset
        self.global_batch = batch_size
        self.local_batch = batch_size // world
        self.device = device
        self.steps = len(dataset) // batch_size
        if self.steps == 0:
            raise ValueError(f"the training set has {len(dataset)} images, fewer than one batch of "
                             f"{batch_size}; lower batch_size")
        if dataset.in_memory:
            self.images = dataset.images.to(device)
            self.labels = dataset.labels.to(device)
        else:
            self.transformed = dataset.with_transform(PairedCrops(size, crop_scale, views))
            self.num_workers = num_workers

    def __len__(self) -> int:
        return self.steps

    def epoch(self, generator: torch.Generator, with_index: bool = False):
        """Yield (images uint8, labels) for one epoch, with ``with_index`` also each image's index
        in the dataset (for methods that keep a memory per sample); the order comes from ``generator``."""
        order = torch.randperm(len(self.dataset), generator=generator)
        batch = self.global_batch
        if self.dataset.in_memory:
            order = order.to(self.device)
            for step in range(self.steps):
                idx = own_rows(order[step * batch:(step + 1) * batch])
                yield (self.images[idx], self.labels[idx], idx) if with_index else (self.images[idx], self.labels[idx])
            return
        mine = torch.cat([own_rows(order[s * batch:(s + 1) * batch]) for s in range(self.steps)])
        loader = torch.utils.data.DataLoader(
            self.transformed, batch_size=self.local_batch, sampler=mine.tolist(), num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda", drop_last=True, persistent_workers=False)
        for step, (images, labels) in enumerate(loader):
            batch = (images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True))
            if with_index:
                batch += (mine[step * self.local_batch:(step + 1) * self.local_batch].to(self.device),)
            yield batch


def iterate_eval_batches(dataset, batch_size: int, device: torch.device, size: int, num_workers: int = 4):
    """(images uint8, labels) in dataset order, for feature extraction."""
    if dataset.in_memory:
        for start in range(0, len(dataset), batch_size):
            yield (dataset.images[start:start + batch_size].to(device, non_blocking=True),
                   dataset.labels[start:start + batch_size].to(device, non_blocking=True))
        return
    loader = torch.utils.data.DataLoader(dataset.with_transform(CentreCrop(size)), batch_size=batch_size,
                                         num_workers=num_workers, pin_memory=device.type == "cuda")
    for images, labels in loader:
        yield images.to(device, non_blocking=True), labels.to(device, non_blocking=True)


def eval_inputs(dataset, size: int, device: torch.device, channels_last: bool = False, batch_size: int = 512,
                num_workers: int = 4):
    """One-tuples of normalised image batches in dataset order, resized to ``size`` and in the
    network's memory format: the input of :func:`ssllib.engine.predict.predict`."""
    from ssllib.data.augment import prepare_eval
    from ssllib.engine.devices import formatted

    for images, _ in iterate_eval_batches(dataset, batch_size, device, size, num_workers):
        yield formatted((prepare_eval(images, dataset.mean, dataset.std, size),), channels_last)
