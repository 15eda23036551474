"""Fixed subsets and held-out splits of a dataset, the same for every run seed.

A run trains on the first ``n`` images of one fixed shuffle of the training set (seed 0); a
validation split takes the images that follow them in the same shuffle, so holding images out
for choosing (a best epoch, a hyper-parameter) never changes the images a run trains on when
it uses a subset. The test split is only ever reported.
"""
from __future__ import annotations

import torch

from ssllib.engine.params import ParameterError


def check_sizes(train_subset: int, batch_size: int, image_size: int) -> None:
    """What can be known about the data's sizes before any is loaded."""
    if train_subset and train_subset < batch_size:
        raise ParameterError(f"train_subset={train_subset} is smaller than one batch (batch_size={batch_size}); "
                             f"use a larger subset or a smaller batch")
    if 0 < image_size < 8:
        raise ParameterError(f"image_size={image_size} is too small for the networks (at least 8 px, or 0 for "
                             f"the dataset's own size)")


def fixed_order(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def fixed_subset(dataset, n: int, seed: int = 0, name: str = "train_subset"):
    """The first ``n`` images of a fixed shuffle (0 or the whole set's size: all of it, in order).
    More images than the set holds is refused, with the largest value that works, rather than
    silently trained on all of them while the record says ``n``."""
    if n > len(dataset):
        raise ParameterError(f"{name}={n:,} is larger than the {len(dataset):,} images of {dataset.name}'s "
                             f"{dataset.split} split; give at most {len(dataset):,} (0: all)")
    if not n or n == len(dataset):
        return dataset
    return dataset.subset(fixed_order(len(dataset), seed)[:n])


def train_and_validation(dataset, train_subset: int, validation_size: int, seed: int = 0):
    """(train, validation) from one training set: train is :func:`fixed_subset` of
    ``train_subset`` images (0: every image not held out), validation the ``validation_size``
    images after them in the same shuffle (None when 0)."""
    if not validation_size:
        return fixed_subset(dataset, train_subset, seed), None
    n = len(dataset)
    if train_subset > n - validation_size:
        raise ParameterError(f"train_subset={train_subset:,} is larger than the {n:,} images of {dataset.name}'s "
                             f"{dataset.split} split less the validation_size={validation_size:,} held out; give at "
                             f"most {max(n - validation_size, 0):,} (0: all)")
    n_train = train_subset or n - validation_size
    if n_train + validation_size > n or n_train < 1:
        raise ParameterError(f"train_subset={train_subset} and validation_size={validation_size} need "
                             f"{n_train + validation_size:,} training images, but the training set has {n:,}; "
                             f"lower one of them")
    order = fixed_order(n, seed)
    return dataset.subset(order[:n_train]), dataset.subset(order[n_train:n_train + validation_size])
