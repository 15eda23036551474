"""Datasets behind one uniform API.

``load_dataset(name, split, root)`` returns an :class:`ImageDataset`: ``images`` as a uint8
tensor (N, C, H, W) held in memory, or a folder dataset that decodes on access; ``labels`` as
int64 (N,); ``classes``; and the normalisation ``mean`` and ``std``. Every dataset that is not
on disk raises :class:`DatasetNotFound` with one sentence that says how to obtain it.
"""
from ssllib.data.base import DatasetDamaged, DatasetNotFound, FolderDataset, ImageDataset
from ssllib.data.registry import DATASETS, DatasetInfo, dataset_info, load_dataset, require_dataset

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetDamaged",
    "DatasetNotFound",
    "FolderDataset",
    "ImageDataset",
    "dataset_info",
    "load_dataset",
    "require_dataset",
]
