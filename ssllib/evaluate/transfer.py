"""The transfer probe of the DCD paper: freeze a trained network, put a new linear classifier
on its pooled feature, and train only that classifier on another dataset (with the benchmark's
random crop and flip), reporting test top-1 after the last epoch.

The probe is a run of the engine like any other (found, resumed, checked or trained; its
record kept with the book), identified by the network's run (an input), the target dataset,
the probe's recipe and the code; the network's weights are loaded only when the probe must
train. The test split is read once, after the last epoch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.data.augment import ShiftFlipAugmentation
from ssllib.data.loader import TrainBatches, eval_inputs
from ssllib.engine.config import Configuration
from ssllib.engine.devices import formatted, uses_channels_last
from ssllib.engine.fingerprint import shared_code_fingerprint
from ssllib.engine.identity import Input, run_key
from ssllib.engine.loop import Run, Task
from ssllib.engine.optim import build_optimizer
from ssllib.engine.params import param_field as _p
from ssllib.engine.predict import device_of, predict
from ssllib.engine.runs import Result, obtain


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
        (x,) = formatted((x,), uses_channels_last(self.network))
        return self.network(x)[0][-1].float()

    def forward(self, x, labels, epoch: int = 0, progress: float = 0.0, generator=None):
        logits = self.head(self.features(x))
        loss = F.cross_entropy(logits, labels)
        return loss, {"loss": loss.detach(), "train_acc": (logits.detach().argmax(1) == labels).float().mean()}


class TransferTask(Task):
    def __init__(self, network: nn.Module, train_set, test_set, recipe: TransferRecipe, label: str):
        self.device = device_of(network)
        self.train_set, self.test_set, self.recipe, self.label = train_set, test_set, recipe, label
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

    def final_metrics(self, history):
        test, size = self.test_set, self.recipe.size
        logits = predict(self.model, eval_inputs(test, size, self.device),
                         forward=lambda x: self.model.head(self.model.features(x)))
        correct = (logits.argmax(1).cpu() == test.labels.cpu()).sum().item()
        return {"test_top1": {"value": 100.0 * correct / len(test), "protocol": {
            "protocol": "linear transfer probe on the frozen network's pooled feature", "epoch": "last",
            "train": f"{test.name} train ({len(self.train_set)})", "test": f"{test.name} test ({len(test)})"}}}


def transfer_probe(source, network: Callable[[], nn.Module], train_set, test_set,
                   recipe: TransferRecipe = TransferRecipe(), label: str = "transfer probe", paper: str = "",
                   profile: str = "", runs_dir=None, ledger_dir=None) -> Result:
    """The probe of the network trained by run ``source`` (a Result, or anything with ``run_id``
    and a ``record`` holding its ``setting``): top-1 (%) on ``test_set`` of a linear classifier
    trained on the frozen network's pooled features of ``train_set``. ``network()`` gives the
    network and is called only when the probe must train."""
    data = {"train": [train_set.name, train_set.split, len(train_set)], "test": [test_set.name, test_set.split,
                                                                              len(test_set)]}
    setting = source.record.get("setting", source.run_id)
    key = run_key(f"transfer-{source.run_id}", {**recipe.identity(), "data": data},
                  shared_code_fingerprint(__name__), {"network": Input(source.run_id, setting)})

    def make_task() -> TransferTask:
        return TransferTask(network(), train_set, test_set, recipe, label)

    from ssllib.engine.devices import pick_device

    run = Run(recipe, key, pick_device(getattr(source.config, "device", "auto")), make_task=make_task, paper=paper, profile=profile,
              method="transfer probe", dataset=train_set.name, runs_dir=runs_dir, ledger_dir=ledger_dir)
    return obtain(run)
