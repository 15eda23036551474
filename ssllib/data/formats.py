"""Readers for the on-disk formats of the datasets the papers use.

Each reader takes a folder and returns plain tensors; where a file is missing it raises
:class:`DatasetNotFound` naming the file, and the registry adds how to obtain the dataset.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch

from ssllib.data.base import DatasetDamaged, DatasetNotFound

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")


def _need(path: Path) -> Path:
    if not path.exists():
        raise DatasetNotFound(str(path))
    return path


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (the MNIST family's format), plain or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(_need(path), "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()})")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: header says {dims}, file holds {array.size} values")
    return array.reshape(dims)


def find_idx_pair(folder: Path, prefix: str) -> tuple[Path, Path] | None:
    """The images/labels IDX files with this prefix (train or t10k), gzipped or not."""
    for suffix in (".gz", ""):
        images = folder / f"{prefix}-images-idx3-ubyte{suffix}"
        labels = folder / f"{prefix}-labels-idx1-ubyte{suffix}"
        if images.exists() and labels.exists():
            return images, labels
    return None


def read_mnist_style(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    pair = find_idx_pair(folder, prefix)
    if pair is None:
        raise DatasetNotFound(str(folder / f"{prefix}-images-idx3-ubyte.gz"))
    images = torch.from_numpy(read_idx(pair[0]).copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx(pair[1]).astype(np.int64))
    return images, labels


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds only what the CIFAR batch format holds: dicts, lists, strings,
    numbers and numpy arrays. Any other global a file asks for (a function to call, such as
    ``os.system``) is refused before it is looked up, so nothing in the file runs."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def _unpickle(path: Path) -> dict:
    with open(_need(path), "rb") as f:
        try:
            batch = _ArraysOnly(f, encoding="latin1").load()
        except pickle.UnpicklingError as err:
            raise DatasetDamaged(f"{path} is not a CIFAR batch file: it asks to load {err}, which the format never "
                                 f"holds, so it was not read and nothing in it ran; replace it with the dataset's "
                                 f"own file (delete the folder and download the dataset again)") from None
        except (EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
            raise DatasetDamaged(f"{path} is not a readable CIFAR batch file ({type(err).__name__}: {err}); replace "
                                 f"it with the dataset's own file (delete the folder and download it again)") from None
    if not isinstance(batch, dict):
        raise DatasetDamaged(f"{path} holds a {type(batch).__name__}, not the dict of a CIFAR batch file; replace it "
                             f"with the dataset's own file (delete the folder and download it again)")
    return batch


def read_cifar10(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``cifar-10-batches-py``: pickled batches of (N, 3072) uint8 rows, labels in ``labels``."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    batches = [_unpickle(folder / n) for n in names]
    data = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b["labels"]) for b in batches]).astype(np.int64)
    classes = _unpickle(folder / "batches.meta")["label_names"]
    return torch.from_numpy(data.copy()), torch.from_numpy(labels), list(classes)


def read_cifar100(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``cifar-100-python``: one pickle per split; the 100 fine labels are used."""
    batch = _unpickle(folder / ("train" if split == "train" else "test"))
    data = np.asarray(batch["data"]).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch["fine_labels"], dtype=np.int64)
    classes = _unpickle(folder / "meta")["fine_label_names"]
    return torch.from_numpy(data.copy()), torch.from_numpy(labels), list(classes)


def read_stl10(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``stl10_binary``: raw uint8 images stored column-major (N, 3, 96, 96 transposed), labels 1–10."""
    x_path = _need(folder / f"{split}_X.bin")
    raw = np.fromfile(x_path, dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise ValueError(f"{x_path} is truncated: {raw.size} bytes is not a whole number of 96×96 images")
    images = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    if split == "unlabeled":
        labels = np.full(len(images), -1, dtype=np.int64)
    else:
        labels = np.fromfile(_need(folder / f"{split}_y.bin"), dtype=np.uint8).astype(np.int64) - 1
        if len(labels) != len(images):
            raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels in {split}_y.bin")
    names_file = folder / "class_names.txt"
    classes = names_file.read_text().split() if names_file.exists() else [str(i) for i in range(10)]
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), classes


def list_class_folders(split_dir: Path) -> tuple[list[Path], torch.Tensor, list[str]]:
    """ImageNet layout: ``split_dir/<class>/<image>``; classes sorted by folder name."""
    if not split_dir.is_dir():
        raise DatasetNotFound(str(split_dir))
    classes = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    files, labels = [], []
    for label, name in enumerate(classes):
        for f in sorted((split_dir / name).rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                files.append(f)
                labels.append(label)
    if not files:
        raise DatasetNotFound(f"{split_dir} (it holds no class folders with images)")
    return files, torch.tensor(labels, dtype=torch.int64), classes


def list_tiny_imagenet(folder: Path, split: str) -> tuple[list[Path], torch.Tensor, list[str]]:
    """``tiny-imagenet-200``: train/<wnid>/images/*.JPEG; val/images/*.JPEG with val_annotations.txt."""
    classes = _need(folder / "wnids.txt").read_text().split()
    index = {w: i for i, w in enumerate(classes)}
    files, labels = [], []
    if split == "train":
        for wnid in classes:
            for f in sorted((folder / "train" / wnid / "images").glob("*")):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(f)
                    labels.append(index[wnid])
    else:
        for line in _need(folder / "val" / "val_annotations.txt").read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                files.append(folder / "val" / "images" / parts[0])
                labels.append(index[parts[1]])
    if not files:
        raise DatasetNotFound(f"{folder / split} (no images found)")
    return files, torch.tensor(labels, dtype=torch.int64), classes
