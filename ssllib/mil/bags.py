"""Bags of instance features with one label per bag (slide), their on-disk format, and batches.

The CLAM layout the paper's code reads:

- ``<features>/<slide_id>.pt``: one float tensor (N, d) per slide, its patches' features;
- a label CSV with columns ``slide_id`` and ``label`` (an integer, or a class name mapped to
  integers in sorted order);
- ``splits_<i>.csv`` per fold, with columns ``train``, ``val`` and ``test`` holding slide ids
  (shorter columns left empty).

Every problem is found when the bags are read, before any training: a missing feature file, a
bag with no instance, a feature file of another dimension, a split naming a slide that has no
features or no label, a slide in two parts of one split.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Sequence

import torch

from ssllib.data.base import DatasetNotFound


class Bags:
    """``features[i]`` (N_i, d) float32 with label ``labels[i]``, named ``ids[i]``.

    ``source`` says where the features come from (the encoder run and the recipe that drew the
    bags, or the files read); with the ids it makes :attr:`key`, the bags' part of a run's
    identity. Bags drawn from a table of instance features can be made with :meth:`lazy`: their
    features are gathered from the table only when first used (a run that is found, not
    trained, never computes them)."""

    def __init__(self, features: list[torch.Tensor] | None, labels: torch.Tensor, ids: list[str], classes: list[str],
                 source: str = "", instance_index: list[torch.Tensor] | None = None, table=None,
                 source_setting: str | None = None, dim: int | None = None):
        self._features, self.labels, self.ids, self.classes = features, labels, list(ids), list(classes)
        self.source, self.instance_index, self._table, self._dim = source, instance_index, table, dim
        self.source_setting = source if source_setting is None else source_setting
        sizes = len(features) if features is not None else len(instance_index or [])
        if sizes != len(labels) or len(self.ids) != len(labels):
            raise ValueError(f"{sizes} bags, {len(labels)} labels and {len(self.ids)} ids")
        if features is not None:
            self._check(features)
        elif any(len(i) == 0 for i in instance_index):
            raise ValueError(f"bag {self.ids[next(j for j, i in enumerate(instance_index) if len(i) == 0)]!r} has no "
                             f"instance")

    @classmethod
    def lazy(cls, table, instance_index: list[torch.Tensor], labels: torch.Tensor, ids: list[str], classes: list[str],
             source: str, source_setting: str | None = None, dim: int | None = None) -> "Bags":
        """Bags whose bag i holds rows ``instance_index[i]`` of ``table()`` (called once, when
        the features are first needed); ``dim``, the table's width, if known without it."""
        return cls(None, labels, ids, classes, source, instance_index, _Memo(table), source_setting, dim)

    def _check(self, features) -> None:
        dims = {f.shape[1] for f in features if f.dim() == 2}
        for name, f in zip(self.ids, features):
            if f.dim() != 2:
                raise ValueError(f"bag {name!r} holds a tensor of shape {tuple(f.shape)}, not (instances, features)")
            if len(f) == 0:
                raise ValueError(f"bag {name!r} has no instance; remove it from the labels and splits")
        if len(dims) > 1:
            odd = next(n for n, f in zip(self.ids, features) if f.shape[1] != features[0].shape[1])
            raise ValueError(f"bag {odd!r} has features of dimension {dict(zip(self.ids, features))[odd].shape[1]}, "
                             f"the first bag {features[0].shape[1]}; every bag must come from one extractor")

    @property
    def features(self) -> list[torch.Tensor]:
        if self._features is None:
            table = self._table()
            self._features = [table[index].float() for index in self.instance_index]
        return self._features

    @property
    def key(self) -> str:
        """What the bags are, for run ids: their source and their ids, in order."""
        return hashlib.sha256("|".join([self.source, *self.ids]).encode()).hexdigest()[:12]

    @property
    def setting_key(self) -> str:
        """What the bags are, for run settings: the setting of their source (an encoder run's
        setting rather than its id, which changes with its code) and their ids."""
        return hashlib.sha256("|".join([self.source_setting, *self.ids]).encode()).hexdigest()[:12]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def dim(self) -> int:
        return self._dim if self._features is None and self._dim else self.features[0].shape[1]

    @property
    def sizes(self) -> torch.Tensor:
        """The number of instances of each bag (known without computing lazy features)."""
        return torch.tensor([len(i) for i in (self.instance_index if self._features is None else self._features)])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def index_of(self, ids: Sequence[str], where: str = "the split") -> torch.Tensor:
        position = {name: i for i, name in enumerate(self.ids)}
        missing = [name for name in ids if name not in position]
        if missing:
            raise ValueError(f"{where} names slide {missing[0]!r} ({len(missing)} such), which has no features or no "
                             f"label")
        return torch.tensor([position[name] for name in ids], dtype=torch.long)

    def subset(self, index: torch.Tensor) -> "Bags":
        index = index.tolist()
        ids = [self.ids[i] for i in index]
        if self._features is None:
            return Bags(None, self.labels[index], ids, self.classes, self.source,
                        [self.instance_index[i] for i in index], self._table, self.source_setting, self._dim)
        return Bags([self._features[i] for i in index], self.labels[index], ids, self.classes, self.source,
                    None if self.instance_index is None else [self.instance_index[i] for i in index],
                    source_setting=self.source_setting)


class _Memo:
    """A table computed once, on first call."""

    def __init__(self, make):
        self.make, self.value = make, None

    def __call__(self):
        if self.value is None:
            self.value = self.make()
        return self.value


def pad(bags: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Bags (N_i, d) → (B, max N_i, d) padded with zeros, and the mask (B, max N_i) of real instances."""
    longest = max(len(b) for b in bags)
    x = bags[0].new_zeros(len(bags), longest, bags[0].shape[1])
    mask = torch.zeros(len(bags), longest, dtype=torch.bool, device=bags[0].device)
    for i, b in enumerate(bags):
        x[i, : len(b)] = b
        mask[i, : len(b)] = True
    return x, mask


class BagBatches:
    """Batches of bags for the engine's loop: ``epoch(generator)`` yields ((x, mask), labels,
    index) in a fresh order each epoch; the last partial batch is kept (bags are few)."""

    def __init__(self, bags: Bags, batch_size: int, device: torch.device):
        self.bags, self.batch_size, self.device = bags, batch_size, device
        self.features = [f.to(device) for f in bags.features]
        self.labels = bags.labels.to(device)

    def __len__(self) -> int:
        return -(-len(self.bags) // self.batch_size)

    def batch(self, index: torch.Tensor):
        return pad([self.features[i] for i in index.tolist()]), self.labels[index.to(self.device)]

    def epoch(self, generator: torch.Generator, with_index: bool = True):
        order = torch.randperm(len(self.bags), generator=generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            inputs, labels = self.batch(index)
            yield inputs, labels, index


def read_labels(path: str | Path) -> tuple[dict[str, int], list[str]]:
    """``slide_id`` → label index, and the class names, from a label CSV."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFound(f"the label file {path} is not there; give the CSV of slide_id and label")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"slide_id", "label"} <= set(rows[0]):
        raise ValueError(f"{path} needs the columns slide_id and label")
    values = [r["label"] for r in rows]
    if all(v.lstrip("-").isdigit() for v in values):
        classes = [str(c) for c in sorted({int(v) for v in values})]
        to_index = {c: i for i, c in enumerate(classes)}
        return {r["slide_id"]: to_index[str(int(r["label"]))] for r in rows}, classes
    classes = sorted(set(values))
    return {r["slide_id"]: classes.index(r["label"]) for r in rows}, classes


def read_clam(features_dir: str | Path, labels_csv: str | Path) -> Bags:
    """Every labelled slide's feature file (``<features_dir>/<slide_id>.pt``), read with
    ``weights_only=True``."""
    folder = Path(features_dir)
    if not folder.is_dir():
        raise DatasetNotFound(f"the feature folder {folder} is not there; extract the slides' patch features "
                              f"(CLAM layout: <slide_id>.pt, one (N, d) tensor each)")
    labels, classes = read_labels(labels_csv)
    features, ids = [], []
    for slide in labels:
        path = folder / f"{slide}.pt"
        if not path.is_file():
            raise DatasetNotFound(f"slide {slide!r} of {labels_csv} has no feature file {path}")
        tensor = torch.load(path, map_location="cpu", weights_only=True)
        features.append(tensor.float())
        ids.append(slide)
    from ssllib.engine.identity import state_digest

    label_tensor = torch.tensor([labels[s] for s in ids])
    source = f"CLAM features sha256 {state_digest(features, label_tensor, classes)[:12]}"
    return Bags(features, label_tensor, ids, classes, source)


def read_split(path: str | Path) -> dict[str, list[str]]:
    """``{"train": ids, "val": ids, "test": ids}`` from a ``splits_<i>.csv`` (CLAM's layout:
    an unnamed index column may come first), checked to share no slide between its parts."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFound(f"the split file {path} is not there")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    parts = {}
    for part in ("train", "val", "test"):
        if rows and part not in rows[0]:
            raise ValueError(f"{path} has no column {part!r}; a split needs train, val and test")
        parts[part] = [r[part] for r in rows if r.get(part)]
    check_disjoint(parts, str(path))
    return parts


def check_disjoint(parts: dict[str, Sequence[str]], where: str) -> None:
    """No slide in two parts of one split."""
    seen: dict[str, str] = {}
    for part, ids in parts.items():
        for slide in ids:
            if slide in seen and seen[slide] != part:
                raise ValueError(f"{where}: slide {slide!r} is in both {seen[slide]} and {part}")
            seen[slide] = part


def bag_inputs(bags: Bags, batch_size: int = 16):
    """(x, mask) batches of ``bags`` in order, padded: the input of :func:`ssllib.engine.predict.predict`."""
    for start in range(0, len(bags), batch_size):
        yield pad(bags.features[start:start + batch_size])
