"""The two dataset shapes every loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch


def decode_rgb(path: Path) -> torch.Tensor:
    """An image file as RGB uint8 (3, H, W)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


class DatasetNotFound(FileNotFoundError):
    """A dataset is not where it was looked for; the message says how to obtain it."""


class DatasetDamaged(ValueError):
    """A dataset file holds what its format does not allow; the message names the file and says
    how to replace it. Nothing in the file was run."""


@dataclass
class ImageDataset:
    """A labelled image set held in memory as uint8, ready to move to the training device.

    images: (N, C, H, W) uint8; labels: (N,) int64 (-1 where unlabelled).
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise TypeError(f"{self.name}: images must be a uint8 (N, C, H, W) tensor, got "
                            f"{self.images.dtype} of shape {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    in_memory = True

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def subset(self, indices: torch.Tensor) -> "ImageDataset":
        """The same dataset restricted to ``indices`` (a view of the rows, in that order)."""
        return ImageDataset(self.name, self.split, self.images[indices], self.labels[indices],
                            self.classes, self.mean, self.std)


@dataclass
class FolderDataset(torch.utils.data.Dataset):
    """An image-per-file dataset (ImageNet layout) decoded on access.

    ``files[i]`` has label ``labels[i]``. Items are decoded to RGB uint8 (3, H, W); a
    ``transform`` (for example a random resized crop to a fixed size) runs on each decoded
    image, so batches can be stacked and the rest of the augmentation done on the device.
    """

    name: str
    split: str
    files: list[Path]
    labels: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    transform: object = field(default=None, repr=False)

    in_memory = False
    channels = 3

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        image = decode_rgb(self.files[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def with_transform(self, transform) -> "FolderDataset":
        return FolderDataset(self.name, self.split, self.files, self.labels, self.classes,
                             self.mean, self.std, transform)

    def subset(self, indices: torch.Tensor) -> "FolderDataset":
        idx = indices.tolist()
        return FolderDataset(self.name, self.split, [self.files[i] for i in idx],
                             self.labels[indices], self.classes, self.mean, self.std, self.transform)
