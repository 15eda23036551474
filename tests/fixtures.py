"""Tiny copies of each dataset, written in the dataset's own on-disk format.

Pixel values encode (index, channel) so tests can check that images and labels arrive in the
right order and layout: pixel (c, y, x) of image i is (7·i + 3·c + y + 2·x) mod 256.
"""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def pattern(n: int, channels: int, size: int, offset: int = 0) -> np.ndarray:
    i = np.arange(offset, offset + n).reshape(-1, 1, 1, 1)
    c = np.arange(channels).reshape(1, -1, 1, 1)
    y = np.arange(size).reshape(1, 1, -1, 1)
    x = np.arange(size).reshape(1, 1, 1, -1)
    return ((7 * i + 3 * c + y + 2 * x) % 256).astype(np.uint8)


def labels_for(n: int, classes: int, offset: int = 0) -> np.ndarray:
    return (np.arange(offset, offset + n) % classes).astype(np.int64)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_fashion_mnist(root: Path, n_train: int = 30, n_test: int = 10) -> Path:
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    for prefix, n, off in (("train", n_train, 0), ("t10k", n_test, 1000)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", pattern(n, 1, 28, off)[:, 0])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels_for(n, 10, off))
    return folder


def _pickle(obj, path: Path) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def make_cifar10(root: Path, per_batch: int = 4) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for b in range(1, 6):
        off = (b - 1) * per_batch
        _pickle({"data": pattern(per_batch, 3, 32, off).reshape(per_batch, -1),
                 "labels": labels_for(per_batch, 10, off).tolist()}, folder / f"data_batch_{b}")
    _pickle({"data": pattern(per_batch, 3, 32, 500).reshape(per_batch, -1),
             "labels": labels_for(per_batch, 10, 500).tolist()}, folder / "test_batch")
    _pickle({"label_names": [f"class{i}" for i in range(10)]}, folder / "batches.meta")
    return folder


def make_cifar100(root: Path, n_train: int = 12, n_test: int = 6) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for split, n, off in (("train", n_train, 0), ("test", n_test, 500)):
        _pickle({"data": pattern(n, 3, 32, off).reshape(n, -1), "fine_labels": labels_for(n, 100, off).tolist(),
                 "coarse_labels": labels_for(n, 20, off).tolist()}, folder / split)
    _pickle({"fine_label_names": [f"fine{i}" for i in range(100)]}, folder / "meta")
    return folder


def make_stl10(root: Path, n_train: int = 5, n_test: int = 3, n_unlabeled: int = 4) -> Path:
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    for split, n, off in (("train", n_train, 0), ("test", n_test, 100), ("unlabeled", n_unlabeled, 200)):
        # STL-10 stores each image column-major: write the transpose of (C, H, W) → (C, W, H).
        pattern(n, 3, 96, off).transpose(0, 1, 3, 2).tofile(folder / f"{split}_X.bin")
        if split != "unlabeled":
            (labels_for(n, 10, off) + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
    (folder / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    return folder


def _write_image(path: Path, image: np.ndarray) -> None:
    """(C, H, W) uint8 as a lossless PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.transpose(1, 2, 0)).save(path)


def make_imagenet_folders(root: Path, name: str, classes: int, per_class: int = 1, size: int = 16,
                          all_classes: int = 0) -> Path:
    """``root/name/{train,val}/<wnid>/<image>``: ``classes`` folders holding ``per_class`` images
    each, and empty folders up to ``all_classes`` (a loader checks the dataset's class count)."""
    folder = root / name
    for split in ("train", "val"):
        for c in range(classes, all_classes):
            (folder / split / f"n{c:08d}").mkdir(parents=True, exist_ok=True)
    for split, off in (("train", 0), ("val", 5000)):
        for c in range(classes):
            for j in range(per_class):
                idx = off + c * per_class + j
                _write_image(folder / split / f"n{c:08d}" / f"img_{idx}.png", pattern(1, 3, size, idx)[0])
    return folder


def make_tiny_imagenet(root: Path, classes: int = 3, per_class: int = 2) -> Path:
    folder = root / "tiny-imagenet-200"
    wnids = [f"n{c:08d}" for c in range(classes)]
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for c, w in enumerate(wnids):
        for j in range(per_class):
            _write_image(folder / "train" / w / "images" / f"{w}_{j}.png", pattern(1, 3, 64, c * per_class + j)[0])
    lines = []
    for j in range(classes):
        name = f"val_{j}.png"
        _write_image(folder / "val" / "images" / name, pattern(1, 3, 64, 900 + j)[0])
        lines.append(f"{name}\t{wnids[(j + 1) % classes]}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def tiny_dataset(n: int = 32, size: int = 8, channels: int = 1, classes: int = 10, seed: int = 0):
    """An in-memory :class:`ImageDataset` of random uint8 images with cycling labels."""
    import torch

    from ssllib.data.base import ImageDataset

    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
    labels = torch.from_numpy(labels_for(n, classes))
    return ImageDataset("tiny", "train", images, labels, [str(c) for c in range(classes)],
                        (0.5,) * channels, (0.25,) * channels)


def flat_momentum_method(cls, seed: int = 0, **options):
    """A momentum method (``cls``) on a one-layer backbone for (3, 4, 4) inputs: 12 features, an
    8-dimensional embedding, a queue of 32, no key shuffle; the same weights for the same seed."""
    import torch
    import torch.nn as nn

    class Flat(nn.Module):
        feature_dim = 12

        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 12))

        def forward(self, x):
            return self.net(x)

    torch.manual_seed(seed)
    return cls(Flat(), nn.Linear(12, 8), 8, 32, momentum=0.9, temperature=0.2, shuffle_keys=False,
               generator=torch.Generator().manual_seed(seed), **options)


def two_views(seed: int = 1):
    """Two random (4, 3, 4, 4) batches: the query and key views of a flat momentum method."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, 4, 4, generator=g), torch.randn(4, 3, 4, 4, generator=g)


def assert_same_step(model, reference) -> None:
    """One step of ``model`` and of ``reference`` on the same views and draws gives the same
    loss and the same gradient on every encoder parameter, bit for bit."""
    import torch

    xq, xk = two_views()
    a = model(xq, xk, epoch=3, generator=torch.Generator().manual_seed(5))
    b = reference(xq, xk, epoch=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0])
    a[0].backward(), b[0].backward()
    for p, r in zip(model.encoder.parameters(), reference.encoder.parameters()):
        assert torch.equal(p.grad, r.grad)


def network_source(name: str):
    """What a transfer probe needs of the run that trained its network, for a bare network in a
    test: an id, a setting and a device."""
    from types import SimpleNamespace

    return SimpleNamespace(run_id=name, record={"setting": name}, config=SimpleNamespace(device="cpu"))


def make_office_home(root: Path, classes: int = 3, per_class: int = 2, size: int = 24) -> Path:
    """``root/OfficeHome/<Domain>/<class>/<image>.jpg``: the four domains, as the archive unpacks
    (Real World with its space)."""
    folder = root / "OfficeHome"
    for d, domain in enumerate(("Art", "Clipart", "Product", "Real World")):
        for c in range(classes):
            for j in range(per_class):
                idx = 100 * d + c * per_class + j
                path = folder / domain / f"Class_{c}" / f"{j:05d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pattern(1, 3, size, idx)[0].transpose(1, 2, 0)).save(path, quality=95)
    return folder


def make_domainnet(root: Path, domains=("clipart", "sketch"), classes=("bird", "whale", "zebra"), per_class: int = 2,
                   size: int = 24) -> Path:
    """``root/domainnet/<domain>/<class>/<image>.jpg`` with ``<domain>_train.txt`` and
    ``<domain>_test.txt`` (lines ``<domain>/<class>/<file> <label>``), as DomainNet ships."""
    folder = root / "domainnet"
    for d, domain in enumerate(domains):
        lines = {"train": [], "test": []}
        for label, name in enumerate(classes):
            for j in range(per_class):
                relative = f"{domain}/{name}/{domain}_{label:03d}_{j:06d}.jpg"
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pattern(1, 3, size, 50 * d + 10 * label + j)[0].transpose(1, 2, 0)).save(folder / relative)
                lines["train" if j % 2 == 0 else "test"].append(f"{relative} {label}")
        for part, rows in lines.items():
            (folder / f"{domain}_{part}.txt").write_text("\n".join(rows) + "\n")
    return folder


def make_clam(root: Path, slides: int = 20, dim: int = 32, folds: int = 5, seed: int = 0) -> dict[str, Path]:
    """CLAM's layout: ``features/<slide_id>.pt`` ((N, dim) float tensors), ``labels.csv``
    (slide_id, label: ``normal``/``tumor``) and ``splits/splits_<i>.csv`` (an index column, then
    train, val, test). Tumour slides hold a few instances shifted along one direction."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    folder = root / "clam"
    (folder / "features").mkdir(parents=True)
    (folder / "splits").mkdir()
    ids, rows = [f"slide_{i:03d}" for i in range(slides)], ["slide_id,label"]
    for i, slide in enumerate(ids):
        bag = torch.randn(8 + i % 5, dim, generator=gen)
        if i % 2:
            bag[:2, 0] += 3.0
        torch.save(bag, folder / "features" / f"{slide}.pt")
        rows.append(f"{slide},{'tumor' if i % 2 else 'normal'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    part = slides // folds
    for k in range(folds):
        test = ids[k * part:(k + 1) * part]
        val = ids[((k + 1) % folds) * part:((k + 1) % folds + 1) * part]
        train = [s for s in ids if s not in test and s not in val]
        lines = [",train,val,test"] + [f"{j},{train[j]},{val[j] if j < len(val) else ''},{test[j] if j < len(test) else ''}"
                                       for j in range(len(train))]
        (folder / "splits" / f"splits_{k}.csv").write_text("\n".join(lines) + "\n")
    return {"features_dir": folder / "features", "labels_csv": folder / "labels.csv", "splits_dir": folder / "splits"}


def make_paper_data(root: Path) -> dict[str, Path]:
    """Every dataset a chapter reads at ``profile=paper``, each in its own on-disk format, large
    enough for a dry run (``budget="tiny"``: two batches of 8 images): ImageNet folders, CIFAR-10
    and -100, STL-10, Office-Home, DomainNet and CLAM features. Returns the folders a chapter is
    given (``data_root`` and the benchmarks' own)."""
    make_imagenet_folders(root, "imagenet", classes=8, per_class=4, all_classes=1000)
    make_cifar10(root, per_batch=16)
    make_cifar100(root, n_train=40, n_test=16)
    make_stl10(root, n_train=128, n_test=32, n_unlabeled=8)  # the transfer probe trains batches of 64
    return {"data_root": root, "office_home": make_office_home(root), "domainnet": make_domainnet(root),
            **make_clam(root)}
