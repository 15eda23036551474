"""The images of each domain of a cross-domain benchmark, as uint8 tensors with labels.

- ``fashion_mnist``: the book's offline benchmark (:mod:`ssllib.retrieval.domains`): the test
  split cut into one disjoint part per domain (image i goes to domain i mod D), each part drawn
  in its domain, so no query finds its own copy in another domain's gallery.
- ``office_home``: ``root/<Domain>/<class>/<image>`` with the domains Art, Clipart, Product and
  Real_World (the archive's "Real World" is accepted too); 65 classes.
- ``domainnet``: ``root/<domain>/<class>/<image>`` with the list files
  ``root/<domain>_<split>.txt`` (lines ``<domain>/<class>/<file> <label>``); the protocol
  queries every image of a domain, so ``split="all"`` joins the train and test lists. A subset of
  classes (UCDIR and ProtoOT use a few) is chosen by name or comes from list files that hold
  only those classes.

Images are decoded once, resized on their shorter side and centre-cropped to ``size``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ssllib.data.base import DatasetNotFound, decode_rgb

OFFICE_HOME_DOMAINS = {"art": "Art", "clipart": "Clipart", "product": "Product", "real_world": "Real_World"}
DOMAINNET_DOMAINS = ("clipart", "infograph", "painting", "quickdraw", "real", "sketch")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass
class DomainImages:
    """One domain: uint8 images (N, 3, H, W), labels (N,) into ``classes``."""

    domain: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def _square(image: torch.Tensor, size: int) -> torch.Tensor:
    from torchvision.transforms.v2.functional import center_crop, resize

    return center_crop(resize(image, [size], antialias=True), [size, size])


def _decode_all(files: Sequence[Path], size: int) -> torch.Tensor:
    return torch.stack([_square(decode_rgb(f), size) for f in files]) if files else torch.zeros(0, 3, size, size,
                                                                                                dtype=torch.uint8)


def _check_domains(domains: Sequence[str], known: Sequence[str], dataset: str) -> None:
    unknown = [d for d in domains if d not in known]
    if unknown:
        raise ValueError(f"{dataset} has no domain {unknown[0]!r}; choose from {', '.join(known)}")
    if len(set(domains)) < 2:
        raise ValueError(f"cross-domain retrieval needs at least two different domains, got {list(domains)}")


def _missing(path: Path, dataset: str, layout: str) -> DatasetNotFound:
    return DatasetNotFound(f"{dataset} is not at {path}: download it yourself and pass its folder as data_root "
                           f"(expected layout: {layout})")


def office_home(root: str | Path, domains: Sequence[str] = tuple(OFFICE_HOME_DOMAINS), size: int = 224
                ) -> dict[str, DomainImages]:
    """Office-Home's domains (folder per domain, folder per class); classes in sorted order,
    shared by every domain."""
    _check_domains(domains, OFFICE_HOME_DOMAINS, "office_home")
    root = Path(root).expanduser()
    folders = {}
    for d in domains:
        options = [root / OFFICE_HOME_DOMAINS[d], root / OFFICE_HOME_DOMAINS[d].replace("_", " ")]
        folder = next((f for f in options if f.is_dir()), None)
        if folder is None:
            raise _missing(options[0], "office_home", "<root>/Art/<class>/<image>.jpg, Clipart, Product, Real_World")
        folders[d] = folder
    classes = sorted({c.name for f in folders.values() for c in f.iterdir() if c.is_dir()})
    out = {}
    for d, folder in folders.items():
        files, labels = [], []
        for label, name in enumerate(classes):
            for f in sorted((folder / name).glob("*")) if (folder / name).is_dir() else ():
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(f)
                    labels.append(label)
        if not files:
            raise _missing(folder, "office_home", "<root>/<Domain>/<class>/<image>.jpg (this domain holds no image)")
        out[d] = DomainImages(d, _decode_all(files, size), torch.tensor(labels), classes)
    return out


def domainnet(root: str | Path, domains: Sequence[str] = ("clipart", "sketch"), split: str = "all",
              classes: Sequence[str] = (), size: int = 224) -> dict[str, DomainImages]:
    """DomainNet's domains from its list files; ``classes`` (names) keeps only those, and the
    labels are renumbered 0 … C−1 in the order of the classes' original labels."""
    _check_domains(domains, DOMAINNET_DOMAINS, "domainnet")
    if split not in ("train", "test", "all"):
        raise ValueError(f"split={split!r}; choose train, test or all")
    root = Path(root).expanduser()
    entries: dict[str, list[tuple[str, int]]] = {}
    for d in domains:
        entries[d] = []
        for part in (("train", "test") if split == "all" else (split,)):
            listing = root / f"{d}_{part}.txt"
            if not listing.is_file():
                raise _missing(listing, "domainnet", "<root>/<domain>/<class>/<image>.jpg and <root>/<domain>_train.txt, "
                               "<domain>_test.txt")
            for number, line in enumerate(listing.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    relative, label = line.rsplit(maxsplit=1)
                    entries[d].append((relative, int(label)))
                except ValueError:
                    raise ValueError(f"{listing}, line {number}: expected '<path> <label>', got {line!r}") from None
    names = {label: relative.split("/")[1] for items in entries.values() for relative, label in items}
    wanted = set(classes) if classes else set(names.values())
    unknown = sorted(wanted - set(names.values()))
    if unknown:
        raise ValueError(f"domainnet has no class {unknown[0]!r} in these list files")
    kept = sorted(label for label, name in names.items() if name in wanted)
    renumber = {label: i for i, label in enumerate(kept)}
    out = {}
    for d, items in entries.items():
        chosen = [(root / relative, renumber[label]) for relative, label in items if label in renumber]
        missing = next((path for path, _ in chosen if not path.is_file()), None)
        if missing is not None:
            raise _missing(missing, "domainnet", "every image a list file names")
        out[d] = DomainImages(d, _decode_all([p for p, _ in chosen], size), torch.tensor([y for _, y in chosen]),
                              [names[label] for label in kept])
    return out


def fashion_mnist_domains(test_images: torch.Tensor, test_labels: torch.Tensor, classes: Sequence[str],
                          domains: Sequence[str] = ("photo", "sketch", "negative"), per_domain: int = 0
                          ) -> dict[str, DomainImages]:
    """The offline benchmark: test image i belongs to domain ``domains[i mod D]`` and is drawn
    in it; ``per_domain`` > 0 keeps the first that many of each part."""
    from ssllib.retrieval.domains import DOMAINS, make_domain

    _check_domains(domains, DOMAINS, "the Fashion-MNIST benchmark")
    out = {}
    for position, d in enumerate(domains):
        index = torch.arange(position, len(test_labels), len(domains))
        if per_domain:
            index = index[:per_domain]
        out[d] = DomainImages(d, make_domain(test_images[index], d), test_labels[index].clone(), list(classes))
    return out
