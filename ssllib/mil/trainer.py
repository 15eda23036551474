"""Training one MIL model (a base model, an expert, or the D&D student) in the engine's loop.

The loop chooses the best epoch on the validation bags only (accuracy, the reference's
criterion; ties keep the earlier epoch) and restores its weights: the test bags are read once,
after the last epoch, by the best epoch's weights (slide-level accuracy and AUC, one-vs-rest,
macro over classes when there are more than two), and the run's model carries them.

Optimisation follows the reference: Adam (weight decay added to the gradient, as
``torch.optim.Adam`` does) for the base model and the experts, SGD with momentum 0.9 for the
student, lr 1e-4, wd 1e-5, one bag per step (the engine's ``adam`` and ``sgd``).

A run's identity holds its bags (their source and ids), and for a student the runs it reads:
the base model it starts from and the teachers whose logits of its training bags it learns from.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.devices import pick_device
from ssllib.engine.fingerprint import run_code_fingerprint
from ssllib.engine.identity import Input, RunKey, run_key
from ssllib.engine.loop import Run, Task
from ssllib.engine.optim import build_optimizer
from ssllib.engine.params import ParameterError
from ssllib.engine.predict import predict
from ssllib.engine.registry import methods
from ssllib.engine.runs import Result, obtain
from ssllib.mil.bags import BagBatches, Bags, bag_inputs
from ssllib.mil.config import MILConfig
from ssllib.mil.dnd import dnd_loss
from ssllib.mil.models import build_mil_model

__all__ = ["MILConfig", "MILModel", "bag_outputs", "predict_bags", "slide_metrics", "train_mil"]


class MILModel(nn.Module):
    """An aggregator and its loss: cross-entropy, or the D&D loss against stored teacher logits
    of the training bags (looked up by bag index)."""

    def __init__(self, net: nn.Module, cfg: MILConfig, class_weights: torch.Tensor | None = None,
                 teachers: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.net, self.cfg = net, cfg
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.ones(0))
        if teachers is not None:
            self.register_buffer("base_logits", teachers[0])
            self.register_buffer("expert_logits", teachers[1])     # (K, train bags, C)
        self.teachers = teachers is not None

    def forward(self, x, mask, labels, index, epoch: int = 0, progress: float = 0.0, generator=None):
        logits = self.net(x, mask)["logits"]
        if self.teachers:
            o = self.cfg.options
            index = index.to(logits.device)
            loss, metrics = dnd_loss(logits, labels, self.base_logits[index], self.expert_logits[:, index],
                                     o["temperature"], o["ce_weight"], o["base_weight"], o["expert_weight"])
        else:
            weight = self.class_weights if len(self.class_weights) else None
            loss = F.cross_entropy(logits, labels, weight=weight)
            metrics = {"loss": loss.detach()}
        metrics["train_acc"] = (logits.detach().argmax(1) == labels).float().mean()
        return loss, metrics


def predict_bags(net: nn.Module, bags: Bags, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """Logits and embeddings of every bag, in order, on the network's device (eval mode)."""
    return predict(net, bag_inputs(bags, batch_size),
                   forward=lambda x, mask: {k: v for k, v in net(x, mask).items() if k in ("logits", "embedding")})


def bag_outputs(result: Result, bags: Bags, what: str = "logits") -> torch.Tensor:
    """The trained run's ``what`` ('logits' or 'embedding') of every bag of ``bags`` (CPU),
    kept with the run: a student that is found, not trained, never needs its teachers' weights."""
    return result.derived(f"bag-{what}", lambda: predict_bags(result.model.net, bags)[what].cpu(),
                          key={"bags": bags.setting_key})


def slide_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy and AUC (%): one-vs-rest, macro over classes for more than two; AUC is None
    when a class is absent from ``labels``."""
    from sklearn.metrics import roc_auc_score

    logits, labels = logits.cpu(), labels.cpu()
    probs = logits.softmax(1).numpy()
    y = labels.numpy()
    accuracy = 100.0 * float((logits.argmax(1) == labels).float().mean())
    if len(np.unique(y)) < logits.shape[1]:
        return {"accuracy": accuracy, "auc": None}
    auc = roc_auc_score(y, probs[:, 1]) if logits.shape[1] == 2 else roc_auc_score(y, probs, multi_class="ovr",
                                                                                   average="macro")
    return {"accuracy": accuracy, "auc": 100.0 * float(auc)}


class MILTask(Task):
    selects_on = "val_accuracy"
    restore_best = True

    def __init__(self, cfg: MILConfig, train: Bags, val: Bags, test: Bags, device: torch.device,
                 start_from: dict | None = None, teachers=None, label: str = "MIL"):
        self.cfg, self.train_bags, self.val, self.test, self.device, self.label = cfg, train, val, test, device, label
        torch.manual_seed(cfg.seed)
        net = build_mil_model(cfg.aggregator, train.dim, train.num_classes, cfg.hidden, cfg.dropout)
        if start_from is not None:
            net.load_state_dict(start_from)
        weights = None
        if cfg.class_weighted:
            counts = torch.bincount(train.labels, minlength=train.num_classes).float()
            weights = counts.sum() / (len(counts) * counts.clamp_min(1))
        self.model = MILModel(net, cfg, weights, teachers).to(device)
        self.optimizer = build_optimizer(cfg, [self.model])
        self.batches = BagBatches(train, cfg.batch_size, device)

    def inputs(self, images, labels, index, generator):
        x, mask = images
        return x, mask, labels, index

    def after_epoch(self, epoch, entry):
        scores = slide_metrics(predict_bags(self.model.net, self.val)["logits"], self.val.labels)
        entry["val_accuracy"], entry["val_auc"] = scores["accuracy"], scores["auc"]

    def selected_module(self):
        return self.model.net

    def final_metrics(self, history):
        scores = slide_metrics(predict_bags(self.model.net, self.test)["logits"], self.test.labels)
        best = self.best or {"epoch": len(history), "value": history[-1]["val_accuracy"]}
        protocol = {"epoch": f"best on validation (epoch {best['epoch']} of {self.cfg.epochs})",
                    "chosen_by": f"validation accuracy ({len(self.val)} bags)", "test": f"{len(self.test)} bags"}
        return {"test_accuracy": {"value": scores["accuracy"], "protocol": protocol},
                "test_auc": {"value": scores["auc"], "protocol": {**protocol, "auc": "one-vs-rest, macro"}},
                "val_accuracy": {"value": best["value"], "protocol": protocol}}

    def record_fields(self):
        return {"backbone": self.cfg.aggregator}


def _data_input(train: Bags, val: Bags, test: Bags) -> Input:
    """The bags as an input of the run: their ids' key, and their settings' key."""
    def digest(*keys):
        return hashlib.sha256("|".join(keys).encode()).hexdigest()[:12]
    return Input(digest(train.key, val.key, test.key), digest(train.setting_key, val.setting_key, test.setting_key))


def run_key_for(cfg: MILConfig, train: Bags, val: Bags, test: Bags, start_from: Result | None = None,
                teachers: Sequence[Result] = ()) -> RunKey:
    """The run's identity: its configuration, its bags, the runs it reads and its code."""
    uses = methods("mil")[cfg.aggregator].code if cfg.method == "dnd" else ()
    inputs = {"bags": _data_input(train, val, test)}
    if start_from is not None:
        inputs["start"] = Input(start_from.run_id, start_from.record["setting"])
    for i, teacher in enumerate(teachers):
        inputs[f"teacher{i}"] = Input(teacher.run_id, teacher.record["setting"])
    return run_key(f"mil-{cfg.aggregator}-{cfg.role}-s{cfg.seed}", cfg.identity(),
                   run_code_fingerprint(cfg.method, *uses), inputs)


def train_mil(cfg: MILConfig, train: Bags, val: Bags, test: Bags, *, start_from: Result | None = None,
              teachers: Sequence[Result] = (), paper: str = "wsi", profile: str = "", label: str = "MIL",
              runs_dir: str | Path | None = None, ledger_dir: str | Path | None = None,
              retrain: bool = False) -> Result:
    """One MIL run, found or trained. A D&D student (method ``dnd``) names its ``teachers``
    (the base model first, then the experts): it learns from their logits of its training bags;
    ``start_from`` is the run whose final weights it starts from."""
    if cfg.method == "dnd" and not teachers:
        raise ParameterError("a D&D student needs the base model's and the experts' runs (teachers)")
    device = pick_device(cfg.device)

    def make_task() -> MILTask:
        logits = None
        if teachers:
            logits = (bag_outputs(teachers[0], train),
                      torch.stack([bag_outputs(t, train) for t in teachers[1:]]))
        start = start_from.model.net.state_dict() if start_from is not None else None
        return MILTask(cfg, train, val, test, device, start, logits, label)

    run = Run(cfg, run_key_for(cfg, train, val, test, start_from, teachers), device, make_task=make_task,
              paper=paper, profile=profile, method=f"{cfg.aggregator} ({cfg.role})", dataset=cfg.data,
              ledger_dir=Path(ledger_dir) if ledger_dir else None, runs_dir=Path(runs_dir) if runs_dir else None)
    return obtain(run, retrain)
