"""Training one MIL model (a base model, an expert, or the D&D student) in the engine's loop.

The best epoch is chosen on the validation bags only (accuracy, the reference's criterion; ties
keep the earlier epoch); its weights are kept in the checkpoint beside the last epoch's, so an
interrupted run resumes with them. The test bags are read once, after the last epoch, by the
best epoch's weights: slide-level accuracy and AUC (one-vs-rest, macro over classes when there
are more than two).

Optimisation follows the reference: Adam (weight decay added to the gradient, as
``torch.optim.Adam`` does) for the base model and the experts, SGD with momentum 0.9 for the
student, lr 1e-4, wd 1e-5, one bag per step (the engine's ``adam`` and ``sgd``).
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.config import Configuration
from ssllib.engine.devices import pick_device
from ssllib.engine.fingerprint import shared_code_fingerprint
from ssllib.engine.ledger import results_dir
from ssllib.engine.loop import Run, Task, fit
from ssllib.engine.optim import build_optimizer
from ssllib.engine.params import ParameterError
from ssllib.engine.params import param_field as _p
from ssllib.mil.bags import BagBatches, Bags, pad
from ssllib.mil.dnd import dnd_loss
from ssllib.mil.models import MIL_MODELS, build_mil_model

MIL_CODE = ("ssllib.mil.bags", "ssllib.mil.models", "ssllib.mil.dnd", "ssllib.mil.trainer")


@dataclass(frozen=True)
class MILConfig(Configuration):
    NOT_IDENTITY = ("device", "log_every")

    model: str = _p("abmil", "MIL aggregator", choices=MIL_MODELS)
    role: str = _p("base", "base (all training slides), expert (one cluster's slides) or student (distilled)",
                   choices=("base", "expert", "student"))
    hidden: int = _p(128, "width of the instance embedding", min=1)
    dropout: float = _p(0.25, "dropout after the instance embedding", min=0.0, max=1.0)
    class_weighted: bool = _p(False, "weight cross-entropy by inverse class frequency")
    epochs: int = _p(200, "training epochs (the best on validation is kept)", min=1)
    batch_size: int = _p(1, "bags per step", min=1)
    optimizer: str = _p("adam", "adam (base, experts) or sgd (the student)", choices=("adam", "sgd"))
    lr: float | None = _p(1e-4, "learning rate", min=0.0, nullable=True)
    weight_decay: float = _p(1e-5, "weight decay", min=0.0)
    lr_schedule: str = _p("constant", "learning-rate schedule", choices=("constant", "cosine", "step"))
    temperature: float = _p(0.2, "T of the student's softened distributions", min=1e-3)
    ce_weight: float = _p(1.0, "weight of the student's cross-entropy", min=0.0)
    base_weight: float = _p(1.0, "weight of the KL to the base model", min=0.0)
    expert_weight: float = _p(1.0, "weight of the mean KL to the experts", min=0.0)
    student_init: str = _p("base", "the student starts from the base model's weights, or random",
                           choices=("base", "random"))
    data: str = _p("", "what the bags are (dataset, fold, part): part of the run's identity")
    seed: int = _p(0, "random seed", min=0)
    device: str = _p("auto", "training device", choices=("auto", "cuda", "mps", "cpu"))
    log_every: int = _p(50, "steps between synchronised loss checks", min=1)

    def replace(self, **changes) -> "MILConfig":
        import dataclasses
        return dataclasses.replace(self, **changes)



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
            index = index.to(logits.device)
            loss, metrics = dnd_loss(logits, labels, self.base_logits[index], self.expert_logits[:, index],
                                     self.cfg.temperature, self.cfg.ce_weight, self.cfg.base_weight,
                                     self.cfg.expert_weight)
        else:
            weight = self.class_weights if len(self.class_weights) else None
            loss = F.cross_entropy(logits, labels, weight=weight)
            metrics = {"loss": loss.detach()}
        metrics["train_acc"] = (logits.detach().argmax(1) == labels).float().mean()
        return loss, metrics


@torch.no_grad()
def predict(net: nn.Module, bags: Bags, device: torch.device, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """Logits and embeddings of every bag (eval mode), in order."""
    was = net.training
    net.eval()
    out = {"logits": [], "embedding": []}
    for start in range(0, len(bags), batch_size):
        x, mask = pad([f.to(device) for f in bags.features[start:start + batch_size]])
        o = net(x, mask)
        out["logits"].append(o["logits"].float().cpu())
        out["embedding"].append(o["embedding"].float().cpu())
    net.train(was)
    return {k: torch.cat(v) for k, v in out.items()}


def slide_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy and AUC (%): one-vs-rest, macro over classes for more than two; AUC is None
    when a class is absent from ``labels``."""
    from sklearn.metrics import roc_auc_score

    probs = logits.softmax(1).numpy()
    y = labels.numpy()
    accuracy = 100.0 * float((logits.argmax(1) == labels).float().mean())
    if len(np.unique(y)) < logits.shape[1]:
        return {"accuracy": accuracy, "auc": None}
    auc = roc_auc_score(y, probs[:, 1]) if logits.shape[1] == 2 else roc_auc_score(y, probs, multi_class="ovr",
                                                                                   average="macro")
    return {"accuracy": accuracy, "auc": 100.0 * float(auc)}


class MILTask(Task):
    def __init__(self, cfg: MILConfig, train: Bags, val: Bags, test: Bags, device: torch.device,
                 start_from: dict | None = None, teachers=None, label: str = "MIL"):
        self.cfg, self.train_bags, self.val, self.test, self.device, self.label = cfg, train, val, test, device, label
        torch.manual_seed(cfg.seed)
        net = build_mil_model(cfg.model, train.dim, train.num_classes, cfg.hidden, cfg.dropout)
        if start_from is not None:
            net.load_state_dict(start_from)
        weights = None
        if cfg.class_weighted:
            counts = torch.bincount(train.labels, minlength=train.num_classes).float()
            weights = counts.sum() / (len(counts) * counts.clamp_min(1))
        self.model = MILModel(net, cfg, weights, teachers).to(device)
        self.optimizer = build_optimizer(cfg, [self.model])
        self.batches = BagBatches(train, cfg.batch_size, device)
        self.best = {"epoch": 0, "val_accuracy": -1.0, "weights": copy.deepcopy(net.state_dict())}

    def inputs(self, images, labels, index, generator):
        x, mask = images
        return x, mask, labels, index

    def after_epoch(self, epoch, entry):
        scores = slide_metrics(predict(self.model.net, self.val, self.device)["logits"], self.val.labels)
        entry["val_accuracy"], entry["val_auc"] = scores["accuracy"], scores["auc"]
        if scores["accuracy"] > self.best["val_accuracy"]:
            self.best = {"epoch": epoch + 1, "val_accuracy": scores["accuracy"],
                         "weights": copy.deepcopy(self.model.net.state_dict())}

    def state(self):
        return {"model": self.model.state_dict(), "best": self.best}

    def load_state(self, state, source):
        from ssllib.engine.checkpoint import load_weights

        load_weights(self.model, state["model"], source)
        self.best = state["best"]

    def final_metrics(self, history):
        self.model.net.load_state_dict(self.best["weights"])
        scores = slide_metrics(predict(self.model.net, self.test, self.device)["logits"], self.test.labels)
        protocol = {"epoch": f"best on validation (epoch {self.best['epoch']} of {self.cfg.epochs})",
                    "chosen_by": f"validation accuracy ({len(self.val)} bags)", "test": f"{len(self.test)} bags"}
        return {"test_accuracy": {"value": scores["accuracy"], "protocol": protocol},
                "test_auc": {"value": scores["auc"], "protocol": {**protocol, "auc": "one-vs-rest, macro"}},
                "val_accuracy": {"value": self.best["val_accuracy"], "protocol": protocol}}

    def record_fields(self):
        return {"backbone": self.cfg.model, "best_epoch": self.best["epoch"]}


@dataclass
class MILResult:
    config: MILConfig
    net: nn.Module           # the best epoch's weights
    record: dict
    history: list
    trained_now: bool


def train_mil(cfg: MILConfig, train: Bags, val: Bags, test: Bags, *, start_from: dict | None = None, teachers=None,
              paper: str = "wsi", profile: str = "", label: str = "MIL") -> MILResult:
    """Train (or load) one MIL run; ``teachers`` = (base logits (N, C), expert logits (K, N, C))
    of the training bags makes it a D&D student, ``start_from`` its initial weights."""
    if cfg.role == "student" and teachers is None:
        raise ParameterError("a D&D student needs the base model's and the experts' logits of its training slides")
    if cfg.optimizer == "sgd" and cfg.lr is None:
        raise ParameterError("lr is needed")
    device = pick_device(cfg.device)
    code = shared_code_fingerprint(*MIL_CODE)
    teacher_key = "" if teachers is None else hashlib.sha256(
        b"".join(t.detach().cpu().numpy().astype(np.float32).tobytes() for t in teachers)).hexdigest()[:12]
    start_key = "" if start_from is None else hashlib.sha256(json.dumps(
        {k: v.float().sum().item() for k, v in start_from.items()}, sort_keys=True).encode()).hexdigest()[:12]
    data_key = hashlib.sha256("|".join([*train.ids, "#", *val.ids, "#", *test.ids]).encode()).hexdigest()[:12]
    run_id = f"mil-{cfg.model}-{cfg.role}-s{cfg.seed}-{cfg.fingerprint(code + teacher_key + start_key + data_key)}"
    task = MILTask(cfg, train, val, test, device, start_from, teachers, label)
    run = Run(cfg, run_id, results_dir() / "runs" / run_id, code, device, None, paper=paper, profile=profile,
              method=f"{cfg.model} ({cfg.role})", dataset=cfg.data)
    fitted = fit(task, run)
    task.model.net.load_state_dict(task.best["weights"])
    return MILResult(cfg, task.model.net.eval(), fitted.record, fitted.history, fitted.trained_now)
