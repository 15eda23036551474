"""Evaluation of frozen encoders: features, raw pixels and the weighted kNN (the linear probes are in
:mod:`ssllib.evaluate.linear`).

Every accuracy comes with its protocol (a dict), which travels with the number into the
ledger and the chapters' tables.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.data.loader import eval_inputs, iterate_eval_batches
from ssllib.engine.devices import uses_channels_last
from ssllib.engine.predict import device_of, predict


def extract_features(backbone: nn.Module, dataset, size: int, batch_size: int = 512, num_workers: int = 4,
                     autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Pooled backbone features (N, D) in float32 on the backbone's device, in eval mode."""
    batches = eval_inputs(dataset, size, device_of(backbone), uses_channels_last(backbone), batch_size, num_workers)
    return predict(backbone, batches, dtype=autocast_dtype)


def raw_pixels(dataset, size: int | None = None) -> torch.Tensor:
    """Flattened pixels in [0, 1], (N, C·size·size): the no-learning baseline. With ``size``
    the images are first resized (antialiased bilinear) to the resolution the encoders see."""
    if not getattr(dataset, "in_memory", True):  # a file per image: decoded and centre-cropped to ``size``, as evaluated
        return torch.cat([images.float().div(255).flatten(1)
                          for images, _ in iterate_eval_batches(dataset, 256, torch.device("cpu"), size)])
    images = dataset.images.float() / 255
    if size and images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return images.flatten(1)


@torch.no_grad()
def knn_predict(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                num_classes: int, k: int = 200, temperature: float = 0.1, chunk: int = 1024) -> torch.Tensor:
    """Weighted kNN (Wu et al. 2018): cosine similarity s to the k nearest training features;
    each neighbour votes for its class with weight exp(s / T). Returns predicted labels."""
    keep = train_labels >= 0
    bank = F.normalize(train_features[keep].float(), dim=1)
    bank_labels = train_labels[keep].to(bank.device)
    k = min(k, len(bank))
    predictions = []
    for start in range(0, len(test_features), chunk):
        query = F.normalize(test_features[start:start + chunk].float().to(bank.device), dim=1)
        sim, idx = (query @ bank.t()).topk(k, dim=1)
        votes = torch.zeros(len(query), num_classes, device=bank.device)
        votes.scatter_add_(1, bank_labels[idx], (sim / temperature).exp())
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(train_features, train_labels, test_features, test_labels, num_classes: int,
                 k: int = 200, temperature: float = 0.1) -> float:
    """Top-1 accuracy (%) of :func:`knn_predict`."""
    pred = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature)
    return 100.0 * (pred.cpu() == test_labels.cpu()).float().mean().item()


def knn_protocol(k: int, temperature: float, bank_size: int, test_size: int) -> dict:
    return {"protocol": "knn", "k": k, "T": temperature, "similarity": "cosine", "vote": "exp(s/T)",
            "bank": f"train ({bank_size})", "test": f"test ({test_size})"}
