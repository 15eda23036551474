"""Linear probes of frozen features: top-1 of a linear classifier trained on an encoder's
features with the encoder fixed.

Two solvers, one per scale:

- :func:`linear_probe` (``probe="lbfgs"``, the book's cpu chapters): multinomial logistic
  regression on standardised features fitted full-batch by L-BFGS, its L2 strength chosen on
  held-out training images. Deterministic and fast while the features fit several times in
  memory; its working set grows with the number of images (about 31 GB at ImageNet-1k's
  1.28 M × 2,048, ``benchmarks/linear-probe-scale.py``).
- :func:`sgd_linear_probe` (``probe="sgd"`` or ``"sgd_moby"``, the papers' recipes): a published
  protocol, a linear layer trained by mini-batch SGD with momentum on the raw pooled features,
  no weight decay; MoCo's cuts the rate tenfold at 60% and 80% of the epochs, MoBY's warms up
  for 5 epochs, then follows a cosine, with Nesterov momentum and label smoothing. Its memory is
  the features as given plus one batch, so ImageNet-1k's 10.5 GB of features fit on one GPU.
  Features are computed once from centre crops, so the random crops of the published protocol
  are not applied (the protocol dict says so).

Every accuracy comes with its protocol (a dict), which travels with the number into the
ledger and the chapters' tables.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SGD_MOMENTUM = 0.9
SGD_DECAY_AT = (0.6, 0.8)  # fractions of the epochs where the rate is cut tenfold (MoCo: epochs 60 and 80 of 100)


class ProbeDiverged(ValueError):
    """The SGD probe's loss became non-finite; the message names the setting to lower."""


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


@dataclass(frozen=True)
class SGDProtocol:
    """A published mini-batch SGD protocol for a linear layer on frozen features (its rate is
    ``probe_lr``; epochs and batch are ``probe_epochs`` and ``probe_batch_size``)."""
    source: str
    nesterov: bool = False
    warmup_epochs: int = 0          # linear warm-up from 0, then the schedule
    schedule: str = "step"          # step: ×0.1 at 60% and 80% of the epochs; cosine: to 0 at the end
    label_smoothing: float = 0.0


# MoCo's (He et al.; SynCo follows it): SGD lr 30, momentum 0.9, wd 0, batch 256, 100 epochs, ×0.1 at 60 and 80.
# MoBY's (Xie et al.; the ViT chapter follows it): Nesterov, 5 warm-up epochs then cosine, label smoothing 0.1.
SGD_PROTOCOLS = {"sgd": SGDProtocol("MoCo"),
                 "sgd_moby": SGDProtocol("MoBY", nesterov=True, warmup_epochs=5, schedule="cosine",
                                         label_smoothing=0.1)}
SOLVERS = ("lbfgs", *SGD_PROTOCOLS)


def sgd_rate(protocol: SGDProtocol, lr: float, progress: float, epochs: int) -> float:
    """The probe's rate at ``progress`` epochs into training (fractional: the rate follows each step)."""
    warmup = min(protocol.warmup_epochs, epochs)
    if progress < warmup:
        return lr * progress / warmup
    if protocol.schedule == "cosine":
        span = max(epochs - warmup, 1e-12)
        return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / span)))
    cuts = sum(math.floor(progress) >= math.floor(fraction * epochs) for fraction in SGD_DECAY_AT)
    return lr * 0.1 ** cuts


def sgd_linear_probe(train_features, train_labels, test_features, test_labels, num_classes: int,
                     epochs: int = 100, lr: float = 30.0, batch_size: int = 256, seed: int = 0,
                     protocol: str = "sgd", chunk: int = 65536) -> tuple[float, dict]:
    """A linear layer on frozen features trained by mini-batch SGD with momentum 0.9 and no
    weight decay, minimising the cross-entropy of softmax(x·W + b) (with the protocol's label
    smoothing) over shuffled batches of ``batch_size`` raw features; W starts from N(0, 0.01²)
    and b from zero; the rate follows :func:`sgd_rate` step by step. ``protocol`` names one of
    :data:`SGD_PROTOCOLS`. Runs on the features' device; beyond the features it holds one
    batch, the layer and its momentum. Returns (top-1 %, protocol).

    A non-finite loss stops the probe with :class:`ProbeDiverged` (checked once per epoch, so a
    GPU run is not synchronised every step).
    """
    recipe = SGD_PROTOCOLS[protocol]
    x = train_features  # never copied: each batch is gathered from it
    device = x.device
    y = train_labels.to(device)
    kept = torch.nonzero(y >= 0).squeeze(1)  # unlabelled rows (-1) take no part
    generator = torch.Generator().manual_seed(seed)
    weight = (torch.randn(x.shape[1], num_classes, generator=generator) * 0.01).to(device).requires_grad_()
    bias = torch.zeros(num_classes, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([weight, bias], lr=lr, momentum=SGD_MOMENTUM, weight_decay=0.0,
                                nesterov=recipe.nesterov)
    steps = math.ceil(len(kept) / batch_size)
    for epoch in range(epochs):
        order = kept[torch.randperm(len(kept), generator=generator).to(device)]
        total = torch.zeros((), device=device)
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = sgd_rate(recipe, lr, epoch + step / steps, epochs)
            rows = order[step * batch_size:(step + 1) * batch_size]
            loss = F.cross_entropy(x[rows].float() @ weight + bias, y[rows], label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        if not torch.isfinite(total).item():
            raise ProbeDiverged(f"the SGD linear probe diverged in epoch {epoch + 1} of {epochs} (its loss is not "
                                f"finite): lower probe_lr (now {lr:g}), or use probe lbfgs")
    with torch.no_grad():
        correct = sum(int(((test_features[start:start + chunk].float().to(device) @ weight + bias).argmax(1)
                           == test_labels[start:start + chunk].to(device)).sum())
                      for start in range(0, len(test_features), chunk))
    accuracy = 100.0 * correct / max(1, len(test_features))
    schedule = ("×0.1 at 60% and 80% of the epochs" if recipe.schedule == "step" else "cosine to 0")
    if recipe.warmup_epochs:
        schedule = f"{recipe.warmup_epochs} warm-up epochs, then {schedule}"
    described = {"protocol": "linear", "solver": f"mini-batch SGD of a linear layer on frozen features ({recipe.source}'s "
                                                 f"protocol)",
                 "epochs": epochs, "lr": lr, "batch_size": batch_size, "momentum": SGD_MOMENTUM,
                 "nesterov": recipe.nesterov, "weight_decay": 0.0, "lr_schedule": schedule,
                 "label_smoothing": recipe.label_smoothing, "augmentation": "none (features of centre crops, computed once)",
                 "train": f"train ({len(kept)})", "test": f"test ({len(test_features)})"}
    return accuracy, described


def probe_name(solver: str) -> str:
    """How tables name the probe a solver fits."""
    return "linear probe top-1 (%), " + ("L-BFGS" if solver == "lbfgs" else "SGD")
