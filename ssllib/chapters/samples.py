"""A few images of a dataset for a chapter's pictures, and a line that says what the data is,
whatever the dataset's shape (in memory, or a file per image decoded on access)."""
from __future__ import annotations

from typing import Sequence

import torch

from ssllib.data.base import decode_rgb
from ssllib.data.loader import CentreCrop

LISTED_CLASSES = 12  # more classes than this are counted, not named


def images_of(dataset, index: Sequence[int], size: int) -> torch.Tensor:
    """uint8 (n, C, H, W) images ``index`` of ``dataset``: as stored for a dataset in memory,
    decoded and centre-cropped to ``size`` (the evaluation view) for a file per image."""
    if dataset.in_memory:
        return dataset.images[list(index)]
    crop = CentreCrop(size)
    return torch.stack([crop(decode_rgb(dataset.files[i])) for i in index])


def dataset_line(data) -> str:
    """'<name>: N training images of (C, H, W), M test images, classes: …' for what the run read."""
    train = data.train
    shape = (f"of {tuple(train.images.shape[1:])}" if train.in_memory
             else f"decoded from files and cropped to {data.size}×{data.size} px")
    classes = (", ".join(train.classes) if len(train.classes) <= LISTED_CLASSES
               else f"{len(train.classes):,} ({', '.join(train.classes[:3])}, …)")
    return f"{train.name}: {len(train):,} training images {shape}, {len(data.test):,} test images, classes: {classes}"
