"""One registry of datasets: where each lives on disk, how to read it, how to obtain it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ssllib.data import formats
from ssllib.data.base import DatasetNotFound, FolderDataset, ImageDataset

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def default_data_root() -> Path:
    """``$SSLLIB_DATA``, else ``~/.cache/ssllib/data``."""
    return Path(os.environ.get("SSLLIB_DATA", "~/.cache/ssllib/data")).expanduser()


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    num_classes: int
    channels: int
    image_size: int  # native side length (folder datasets: the usual training crop)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    splits: tuple[str, ...]
    in_memory: bool
    how_to_get: str  # completes "… is not on disk: …"
    locate: Callable[[Path], Path | None]  # the folder holding it, or None
    can_download: bool = False


def _locate_fashion_mnist(root: Path, system_copy: bool = True) -> Path | None:
    """Under ``root``; then, where the data folder was not named, the Debian package's copy."""
    for folder in (root / "fashion-mnist", root / "FashionMNIST" / "raw", root,
                   *((DEBIAN_FASHION_MNIST,) if system_copy else ())):
        if folder.is_dir() and formats.find_idx_pair(folder, "train") and formats.find_idx_pair(folder, "t10k"):
            return folder
    return None


def _locate_imagenet_style(subdir: str) -> Callable[[Path], Path | None]:
    def locate(root: Path) -> Path | None:
        for folder in (root / subdir, root):
            if (folder / "train").is_dir() and (folder / "val").is_dir():
                return folder
        return None
    return locate


def _locate_marker(subdir: str, marker: str) -> Callable[[Path], Path | None]:
    def locate(root: Path) -> Path | None:
        for folder in (root / subdir, root):
            if (folder / marker).exists():
                return folder
        return None
    return locate


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

DATASETS: dict[str, DatasetInfo] = {d.name: d for d in [
    DatasetInfo(
        "fashion_mnist", "Fashion-MNIST", 10, 1, 28, (0.2860,), (0.3530,), ("train", "test"), True,
        "install the Debian package (`sudo apt-get install dataset-fashion-mnist`, files under "
        "/usr/share/datasets/fashion-mnist) or pass download=True (papermill: -p download True) to "
        "fetch it with torchvision into {root}",
        _locate_fashion_mnist, can_download=True),
    DatasetInfo(
        "digits", "scikit-learn digits (8×8)", 10, 1, 8, (0.0,), (1.0,), ("train", "test"), True,
        "it ships with scikit-learn: `pip install scikit-learn`",
        lambda root: root),
    DatasetInfo(
        "cifar10", "CIFAR-10", 10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
        ("train", "test"), True,
        "expected {root}/cifar-10-batches-py/ (data_batch_1…5, test_batch, batches.meta); pass "
        "download=True to fetch it with torchvision",
        _locate_marker("cifar-10-batches-py", "data_batch_1"), can_download=True),
    DatasetInfo(
        "cifar100", "CIFAR-100", 100, 3, 32, (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761),
        ("train", "test"), True,
        "expected {root}/cifar-100-python/ (train, test, meta); pass download=True to fetch it "
        "with torchvision",
        _locate_marker("cifar-100-python", "train"), can_download=True),
    DatasetInfo(
        "stl10", "STL-10", 10, 3, 96, (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713),
        ("train", "test", "unlabeled", "train+unlabeled"), True,
        "expected {root}/stl10_binary/ (train_X.bin, train_y.bin, test_X.bin, test_y.bin, "
        "unlabeled_X.bin); pass download=True to fetch it with torchvision",
        _locate_marker("stl10_binary", "train_X.bin"), can_download=True),
    DatasetInfo(
        "tiny_imagenet", "Tiny ImageNet", 200, 3, 64, (0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821),
        ("train", "test"), False,
        "expected {root}/tiny-imagenet-200/ (wnids.txt, train/<wnid>/images/, val/images/ and "
        "val/val_annotations.txt), as unpacked from tiny-imagenet-200.zip",
        _locate_marker("tiny-imagenet-200", "wnids.txt")),
    DatasetInfo(
        "imagenet100", "ImageNet-100", 100, 3, 224, IMAGENET_MEAN, IMAGENET_STD, ("train", "test"), False,
        "expected {root}/imagenet100/train/<wnid>/*.JPEG and {root}/imagenet100/val/<wnid>/*.JPEG "
        "holding the 100 classes of the CMC subset (link them from an ImageNet-1k copy)",
        _locate_imagenet_style("imagenet100")),
    DatasetInfo(
        "imagenet", "ImageNet-1k", 1000, 3, 224, IMAGENET_MEAN, IMAGENET_STD, ("train", "test"), False,
        "expected {root}/imagenet/train/<wnid>/*.JPEG and {root}/imagenet/val/<wnid>/*.JPEG (the "
        "validation images sorted into class folders), from image-net.org",
        _locate_imagenet_style("imagenet")),
]}


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def require_dataset(name: str, root: str | Path | None = None, download: bool = False) -> Path:
    """The folder holding ``name``; raises :class:`DatasetNotFound` (one sentence) if absent.

    Cheap: looks for marker files only, so parameter validation can call it before any work.
    A ``root`` that was named (``data_root``) is the only place looked in: one that is a file or
    does not exist is an error, never a silent fall back to another copy (the Debian package's
    Fashion-MNIST is used only where no data folder was named).
    """
    info = dataset_info(name)
    named = bool(root)
    root = Path(root).expanduser() if root else default_data_root()
    if named and name != "digits":
        if root.is_file():
            raise DatasetNotFound(f"data_root={str(root)!r} is a file, not a folder; point data_root at the folder "
                                  f"that holds the datasets (or leave it unset)")
        if not root.exists() and not download:
            raise DatasetNotFound(f"data_root={str(root)!r} does not exist; point data_root at the folder that holds "
                                  f"{info.title} (or leave it unset: " + info.how_to_get.format(root=default_data_root())
                                  + ")")
    folder = _locate(info, root, system_copy=not named)
    if folder is not None:
        return folder
    if download and info.can_download:
        _download(name, root)
        folder = _locate(info, root, system_copy=not named)
        if folder is not None:
            return folder
    raise DatasetNotFound(f"{info.title} is not on disk under {root}: "
                          + info.how_to_get.format(root=root) + ".")


def data_folder(name: str, root: str | Path | None = None) -> str | None:
    """Where a run's dataset is read from, for its record; None where it is not on disk (data
    handed to a run directly, as the tests do)."""
    try:
        return str(require_dataset(name, root))
    except DatasetNotFound:
        return None


def _locate(info: DatasetInfo, root: Path, system_copy: bool) -> Path | None:
    if info.name == "fashion_mnist":
        return _locate_fashion_mnist(root, system_copy)
    return info.locate(root)


def _download(name: str, root: Path) -> None:
    import torchvision.datasets as tvd

    root.mkdir(parents=True, exist_ok=True)
    if name == "fashion_mnist":
        tvd.FashionMNIST(str(root), train=True, download=True)
        tvd.FashionMNIST(str(root), train=False, download=True)
    elif name == "cifar10":
        tvd.CIFAR10(str(root), download=True)
    elif name == "cifar100":
        tvd.CIFAR100(str(root), download=True)
    elif name == "stl10":
        tvd.STL10(str(root), split="train", download=True)


def _load_digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's 1,797 8×8 digits (values 0–16) scaled to uint8; a fixed stratified 2:1 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.from_numpy((digits.images * (255.0 / 16.0)).round().astype("uint8")).unsqueeze(1)
    labels = torch.from_numpy(digits.target.astype("int64"))
    train_idx, test_idx = train_test_split(range(len(labels)), test_size=1 / 3, random_state=0,
                                           stratify=digits.target)
    idx = torch.tensor(train_idx if split == "train" else test_idx)
    return images[idx], labels[idx]


def load_dataset(name: str, split: str = "train", root: str | Path | None = None,
                 download: bool = False):
    """Load ``split`` of dataset ``name`` as an :class:`ImageDataset` or :class:`FolderDataset`."""
    info = dataset_info(name)
    if split not in info.splits:
        raise ValueError(f"{info.title} has no split {split!r}; choose one of {', '.join(info.splits)}")
    folder = require_dataset(name, root, download)
    try:
        if name == "fashion_mnist":
            images, labels = formats.read_mnist_style(folder, split)
            classes = FASHION_MNIST_CLASSES
        elif name == "digits":
            images, labels = _load_digits(split)
            classes = [str(i) for i in range(10)]
            train = (images if split == "train" else _load_digits("train")[0]).float().div(255)
            return ImageDataset(name, split, images, labels, classes,
                                (train.mean().item(),), (train.std().item(),))
        elif name == "cifar10":
            images, labels, classes = formats.read_cifar10(folder, split)
        elif name == "cifar100":
            images, labels, classes = formats.read_cifar100(folder, split)
        elif name == "stl10":
            parts = [formats.read_stl10(folder, s) for s in split.split("+")]
            images = torch.cat([p[0] for p in parts])
            labels = torch.cat([p[1] for p in parts])
            classes = parts[0][2]
        elif name == "tiny_imagenet":
            files, labels, classes = formats.list_tiny_imagenet(folder, split)
            return FolderDataset(name, split, files, labels, classes, info.mean, info.std)
        else:  # imagenet, imagenet100
            sub = "train" if split == "train" else "val"
            files, labels, classes = formats.list_class_folders(folder / sub)
            if len(classes) != info.num_classes:
                raise ValueError(f"{folder / sub} holds {len(classes)} class folders but {info.title} "
                                 f"has {info.num_classes}; point data_root at the right copy")
            return FolderDataset(name, split, files, labels, classes, info.mean, info.std)
    except DatasetNotFound as missing:
        raise DatasetNotFound(f"{info.title} is incomplete: {missing} is missing; "
                              + info.how_to_get.format(root=root or default_data_root()) + ".") from None
    return ImageDataset(name, split, images, labels, list(classes), info.mean, info.std)


def to_memory(dataset: FolderDataset, size: int, cache_dir: str | Path | None = None) -> ImageDataset:
    """Decode a folder dataset once into memory at ``size``×``size`` (resize the short side, centre
    crop), caching the uint8 tensor so the next call is instant. Used for 32 px transfer probes."""
    from torchvision.transforms.v2 import functional as F

    cache_dir = Path(cache_dir or default_data_root() / ".cache")
    cache = cache_dir / f"{dataset.name}-{dataset.split}-{size}px-{len(dataset)}.pt"
    if cache.exists():
        blob = torch.load(cache, weights_only=True)
        images, labels = blob["images"], blob["labels"]
    else:
        def fit(img):
            return F.center_crop(F.resize(img, size, antialias=True), [size, size])
        loader = torch.utils.data.DataLoader(dataset.with_transform(fit), batch_size=256,
                                             num_workers=min(8, os.cpu_count() or 1))
        chunks = [(x, y) for x, y in loader]
        images = torch.cat([c[0] for c in chunks])
        labels = torch.cat([c[1] for c in chunks])
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        torch.save({"images": images, "labels": labels}, tmp)
        os.replace(tmp, cache)
    return ImageDataset(dataset.name, dataset.split, images, labels, dataset.classes,
                        dataset.mean, dataset.std)
