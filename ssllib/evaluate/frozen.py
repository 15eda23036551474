"""Evaluation of frozen encoders: weighted kNN and linear probes.

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


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float, max_iter: int, start=None):
    """(weight, bias) minimising mean cross-entropy + l2/2·‖W‖², from zeros or from ``start``.

    The gradient is written out, ∂/∂W = Xᵀ(P − Y)/n + l2·W and ∂/∂b = Σ(P − Y)/n with P the
    softmax, and Xᵀ(P − Y) is computed as ((P − Y)ᵀX)ᵀ: on CPU that is several times faster
    than the transposed product autograd would run.
    """
    if start is None:
        start = (torch.zeros(x.shape[1], num_classes, device=x.device), torch.zeros(num_classes, device=x.device))
    weight, bias = (t.clone().requires_grad_() for t in start)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-7, tolerance_change=1e-10, line_search_fn="strong_wolfe")
    rows = torch.arange(len(x), device=x.device)

    @torch.no_grad()
    def closure():
        logits = x @ weight + bias
        loss = F.cross_entropy(logits, y) + 0.5 * l2 * weight.pow(2).sum()
        residual = torch.softmax(logits, dim=1)
        residual[rows, y] -= 1
        residual /= len(x)
        weight.grad = ((residual.t() @ x).t() + l2 * weight).contiguous()
        bias.grad = residual.sum(0)
        return loss

    opt.step(closure)
    return weight.detach(), bias.detach()


def linear_probe(train_features, train_labels, test_features, test_labels, num_classes: int,
                 l2: float | None = None, l2_grid=(1e-5, 1e-4, 1e-3, 1e-2), max_iter: int = 200,
                 seed: int = 0) -> tuple[float, dict]:
    """Multinomial logistic regression on frozen, standardised features, fitted by L-BFGS.

    With ``l2=None`` the L2 strength is chosen from ``l2_grid`` on 10% of the training set held
    out (a warm-started path from the strongest value down), then the probe is refitted on the
    whole training set from the chosen fit. Returns (top-1 %, protocol).
    """
    keep = train_labels >= 0
    x, y = train_features[keep].float(), train_labels[keep].to(train_features.device)
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    xt = (test_features.float().to(x.device) - mean) / std
    yt = test_labels.to(x.device)
    chosen = l2
    if chosen is None:
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(x.device)
        n_val = max(1, len(x) // 10)
        val, fit = perm[:n_val], perm[n_val:]
        # Strongest regularisation first, each fit warm-started from the last (a short path).
        fits, solution = {}, None
        for candidate in sorted(l2_grid, reverse=True):
            solution = _fit_logistic(x[fit], y[fit], num_classes, candidate, max_iter, solution)
            w, b = solution
            fits[candidate] = (((x[val] @ w + b).argmax(1) == y[val]).float().mean().item(), solution)
        chosen = max(l2_grid, key=lambda c: fits[c][0])  # ties: the first in l2_grid
        start = fits[chosen][1]
    else:
        start = None
    w, b = _fit_logistic(x, y, num_classes, chosen, max_iter, start)
    accuracy = 100.0 * ((xt @ w + b).argmax(1) == yt).float().mean().item()
    protocol = {"protocol": "linear", "solver": "L-BFGS logistic regression on frozen standardised features",
                "l2": chosen, "l2_selected_on": None if l2 is not None else "10% of train held out",
                "max_iter": max_iter, "train": f"train ({len(x)})", "test": f"test ({len(xt)})"}
    return accuracy, protocol
