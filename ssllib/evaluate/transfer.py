"""The transfer probe of the DCD paper: freeze a trained network, put a new linear classifier
on its pooled feature, and train only that classifier on another dataset (with the benchmark's
random crop and flip), reporting test top-1 after the last epoch.

The probe is a run of the engine's loop like any other (resume, checkpoints, record), kept
under ``results/runs/transfer-…`` and keyed by the network's run, the target dataset, the
probe's recipe and the code, so a rebuild does not repeat it. The test split is read once,
after the last epoch.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.data.augment import ShiftFlipAugmentation, prepare_eval
from ssllib.data.loader import TrainBatches, iterate_eval_batches
from ssllib.engine.devices import uses_channels_last
from ssllib.engine.fingerprint import shared_code_fingerprint
from ssllib.engine.ledger import results_dir
from ssllib.engine.loop import Run, Task, fit
from ssllib.engine.config import Configuration
from ssllib.engine.optim import build_optimizer
from ssllib.engine.params import param_field as _p


@dataclass(frozen=True)
class TransferRecipe(Configuration):
    """The DCD paper's probe: SGD lr 0.05, momentum 0.9, wd 5e-4, batch 64, 120 epochs, ×0.1
    at 30/60/90, 32 px inputs with RandomCrop(pad 4) and flips."""

    epochs: int = _p(120, "epochs of the probe", min=1)
    batch_size: int = _p(64, "images per step", min=2)
    lr: float = _p(0.05, "learning rate", min=0.0)
    weight_decay: float = _p(5e-4, "weight decay", min=0.0)
    lr_schedule: str = _p("step", "learning-rate schedule", choices=("step", "cosine", "constant"))
    lr_milestones: tuple = _p((30.0, 60.0, 90.0), "epochs after which the learning rate is multiplied by 0.1")
    size: int = _p(32, "side of the probe's input in pixels", min=1)
    seed: int = _p(0, "random seed (head initialisation, data order, augmentation)", min=0)
    log_every: int = _p(50, "steps between synchronised loss checks", min=1)
    NOT_IDENTITY = ("log_every",)


class LinearProbe(nn.Module):
    """A trainable linear head on a frozen network's pooled feature; the network stays in
    eval mode (``train()`` does not reach it) and gets no gradient."""

    def __init__(self, network: nn.Module, num_classes: int):
        super().__init__()
        self.network = network.eval().requires_grad_(False)
        self.head = nn.Linear(network.feature_dim, num_classes)
        nn.init.normal_(self.head.weight, 0.0, 0.01)
        nn.init.zeros_(self.head.bias)

    def train(self, mode: bool = True):
        self.head.train(mode)
        self.training = mode
        return self

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        if uses_channels_last(self.network):
            x = x.contiguous(memory_format=torch.channels_last)
        return self.network(x)[0][-1].float()

    def forward(self, x, labels, epoch: int = 0, progress: float = 0.0, generator=None):
        logits = self.head(self.features(x))
        loss = F.cross_entropy(logits, labels)
        return loss, {"loss": loss.detach(), "train_acc": (logits.detach().argmax(1) == labels).float().mean()}


class TransferTask(Task):
    def __init__(self, network: nn.Module, train_set, test_set, recipe: TransferRecipe, label: str):
        self.device = next(network.parameters()).device
        self.train_set, self.test_set, self.recipe, self.label = train_set, test_set, recipe, label
        self.was_training = network.training
        torch.manual_seed(recipe.seed)
        self.model = LinearProbe(network, train_set.num_classes).to(self.device)
        self.optimizer = build_optimizer(recipe, [self.model.head])
        self.augment = ShiftFlipAugmentation(padding=max(1, round(recipe.size / 8)), size=recipe.size)
        self.batches = TrainBatches(train_set, recipe.batch_size, self.device, recipe.size, num_workers=0)

    def inputs(self, images, labels, index, generator):
        return self.augment(images, self.train_set.mean, self.train_set.std, generator), labels

    def state(self):
        return {"head": self.model.head.state_dict()}

    def load_state(self, state, source):
        from ssllib.engine.checkpoint import load_weights

        load_weights(self.model.head, state["head"], source)

    @torch.no_grad()
    def final_metrics(self, history):
        test, size = self.test_set, self.recipe.size
        correct = sum((self.model.head(self.model.features(prepare_eval(images, test.mean, test.std, size)))
                       .argmax(1) == labels).sum().item()
                      for images, labels in iterate_eval_batches(test, 512, self.device, size))
        return {"test_top1": {"value": 100.0 * correct / len(test), "protocol": {
            "protocol": "linear transfer probe on the frozen network's pooled feature", "epoch": "last",
            "train": f"{test.name} train ({len(self.train_set)})", "test": f"{test.name} test ({len(test)})"}}}


def transfer_probe(network: nn.Module, train_set, test_set, recipe: TransferRecipe = TransferRecipe(),
                   label: str = "transfer probe", run_dir: Path | None = None, source: str = "") -> dict:
    """Top-1 (%) on ``test_set`` of a linear classifier trained on the frozen ``network``'s
    pooled features of ``train_set``: {'top1' (last epoch), 'history', 'record'}."""
    blob = json.dumps({"network": source, "data": [train_set.name, len(train_set), test_set.name, len(test_set)],
                       "recipe": recipe.identity()}, sort_keys=True)
    code = shared_code_fingerprint(__name__)
    digest = hashlib.sha256((blob + code).encode()).hexdigest()[:12]
    run_dir = run_dir or results_dir() / "runs" / f"transfer-{source or 'network'}-{digest}"
    was_training = network.training
    task = TransferTask(network, train_set, test_set, recipe, label)
    run = Run(recipe, run_dir.name, run_dir, code, task.device, None,
              method="transfer_probe", dataset=train_set.name, ledger=False)
    fitted = fit(task, run)
    network.train(was_training)
    return {"top1": fitted.record["metrics"]["test_top1"]["value"], "history": fitted.history,
            "record": fitted.record}


def remembered_transfer(run_id: str, network: nn.Module, train_set, test_set, recipe: TransferRecipe,
                        label: str = "transfer probe") -> dict:
    """:func:`transfer_probe` of the network trained by run ``run_id``, or its stored result
    for the same run, data, recipe and code."""
    return transfer_probe(network, train_set, test_set, recipe, label, source=run_id)
