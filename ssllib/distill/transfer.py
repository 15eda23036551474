"""The transfer probe of the DCD paper: freeze a trained network, put a new linear classifier
on its pooled feature, and train only that classifier on another dataset (with the benchmark's
random crop and flip), reporting test top-1 after the last epoch.

Results are kept under ``results/evals/`` keyed by the network's run, the target dataset, the
probe's settings and this module's code, so a rebuild does not repeat them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import progress
from ..augment import ShiftFlipAugmentation, prepare_eval
from ..checkpoint import write_json
from ..devices import uses_channels_last
from ..ledger import results_dir
from ..loader import TrainBatches, iterate_eval_batches
from ..schedule import step_decay
from ..trainer import epoch_generator, set_lr


@dataclass(frozen=True)
class TransferRecipe:
    """The DCD paper's probe: SGD lr 0.05, momentum 0.9, wd 5e-4, batch 64, 120 epochs, ×0.1
    at 30/60/90, 32 px inputs with RandomCrop(pad 4) and flips."""

    epochs: int = 120
    milestones: tuple = (30.0, 60.0, 90.0)
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    size: int = 32
    seed: int = 0


@torch.no_grad()
def _pooled(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if uses_channels_last(network):
        x = x.contiguous(memory_format=torch.channels_last)
    return network(x)[0][-1].float()


def transfer_probe(network: nn.Module, train_set, test_set, recipe: TransferRecipe = TransferRecipe(),
                   label: str = "transfer probe") -> dict:
    """Top-1 (%) on ``test_set`` of a linear classifier trained on the frozen ``network``'s
    pooled features of ``train_set``: {'top1' (last epoch), 'best_top1', 'history'}."""
    device = next(network.parameters()).device
    was_training = network.training
    network.eval()
    head = nn.Linear(network.feature_dim, train_set.num_classes).to(device)
    nn.init.normal_(head.weight, 0.0, 0.01)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.SGD(head.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    augment = ShiftFlipAugmentation(padding=max(1, round(recipe.size / 8)), size=recipe.size)
    test_features = torch.cat([_pooled(network, prepare_eval(images, test_set.mean, test_set.std, recipe.size))
                               for images, _ in iterate_eval_batches(test_set, 512, device, recipe.size)])
    test_labels = test_set.labels.to(device)
    batches = TrainBatches(train_set, recipe.batch_size, device, recipe.size, num_workers=0)
    steps = len(batches)
    history = []
    bar = progress.bar(steps * recipe.epochs, label)
    for epoch in range(recipe.epochs):
        generator = epoch_generator(recipe.seed, epoch, 1, device)
        for step, (images, labels) in enumerate(batches.epoch(epoch_generator(recipe.seed, epoch, 0,
                                                                               torch.device("cpu")))):
            set_lr(optimizer, step_decay(epoch + step / steps, recipe.lr, recipe.milestones))
            features = _pooled(network, augment(images, train_set.mean, train_set.std, generator))
            loss = F.cross_entropy(head(features), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        bar.update(steps)
        with torch.no_grad():
            history.append(100.0 * (head(test_features).argmax(1) == test_labels).float().mean().item())
    bar.close()
    network.train(was_training)
    return {"top1": history[-1], "best_top1": max(history), "history": history}


def remembered_transfer(run_id: str, network: nn.Module, train_set, test_set, recipe: TransferRecipe,
                        label: str = "transfer probe") -> dict:
    """:func:`transfer_probe`, or its stored result for the same run, data, recipe and code."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    blob = json.dumps({"run": run_id, "data": [train_set.name, len(train_set), test_set.name, len(test_set)],
                       "recipe": asdict(recipe), "code": code}, sort_keys=True, default=list)
    path = results_dir() / "evals" / f"transfer-{run_id}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = transfer_probe(network, train_set, test_set, recipe, label)
    write_json(result, path)
    return result
