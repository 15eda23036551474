"""A distillation run on the engine's loop: ``train_distill`` takes a :class:`DistillConfig`
to a trained network, its accuracy and its ledger record.

It adds to the loop what the benchmark needs: a frozen teacher, per-sample indices for CRD's
memory, and, when ``validation_size`` holds training images out, top-1 on that validation
split after every epoch. The weights of the best validation epoch are kept; after the last
epoch the test split is read once, for the last epoch's weights (the benchmark's number) and
for the best validation epoch's (labelled as such).

A teacher is a run like any other (method ``ce``): trained once, then loaded from its
checkpoint by every student, in every chapter, that names the same teacher and recipe.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from ssllib.data import dataset_info, load_dataset
from ssllib.data.augment import prepare_eval
from ssllib.data.loader import TrainBatches, iterate_eval_batches
from ssllib.data.registry import to_memory
from ssllib.data.splits import train_and_validation
from ssllib.distill.config import DistillConfig
from ssllib.distill.model import Distillation, build_distillation
from ssllib.engine.checkpoint import CheckpointError, load_checkpoint, load_weights
from ssllib.engine.devices import autocast, autocast_dtype, pick_device, place_model, uses_channels_last
from ssllib.engine.distributed import broadcast_state, world_key
from ssllib.engine.fingerprint import run_code_fingerprint
from ssllib.engine.ledger import results_dir
from ssllib.engine.loop import Run, Task, fit
from ssllib.engine.optim import build_optimizer
from ssllib.nets.registry import build_classifier


@dataclass
class DistillData:
    train: object
    test: object            # read only after the last epoch
    size: int               # side of the networks' input
    validation: object | None = None  # held-out training images that choose the best epoch


def load_distill_data(cfg: DistillConfig) -> DistillData:
    """The train subset, the validation split and the test set, loaded once and shared by a
    chapter's runs. Datasets read from image files are decoded once into memory at the
    networks' input size (the benchmark's networks take 32 px images)."""
    info = dataset_info(cfg.dataset)
    size = cfg.image_size or (32 if not info.in_memory else info.image_size)
    train = load_dataset(cfg.dataset, "train", cfg.data_root, cfg.download)
    test = load_dataset(cfg.dataset, "test", cfg.data_root)
    if not train.in_memory:
        train, test = to_memory(train, size), to_memory(test, size)
    train, validation = train_and_validation(train, cfg.train_subset, cfg.validation_size)
    return DistillData(train, test, size, validation)


@dataclass
class DistillResult:
    config: DistillConfig
    run_id: str
    run_dir: Path
    model: Distillation
    history: list[dict]
    record: dict
    trained_now: bool = True
    teacher_accuracy: float | None = None
    data: DistillData | None = field(default=None, repr=False)

    @property
    def network(self) -> nn.Module:
        return self.model.student

    def metric(self, name: str = "test_top1") -> float:
        return self.record["metrics"][name]["value"]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def teacher_key(cfg: DistillConfig) -> str:
    """What identifies the teacher a run learns from: its checkpoint's content, or the id of
    the teacher run."""
    if cfg.teacher is None:
        return ""
    if cfg.teacher_checkpoint:
        return _file_digest(Path(cfg.teacher_checkpoint).expanduser())
    return run_id_for(cfg.teacher_config())


def run_id_for(cfg: DistillConfig) -> str:
    code = run_code_fingerprint(cfg.method) + teacher_key(cfg) + world_key()
    return f"{cfg.method}-{cfg.dataset}-{cfg.network}-s{cfg.seed}-{cfg.fingerprint(code)}"


@torch.no_grad()
def classifier_accuracy(network: nn.Module, dataset, size: int, device: torch.device,
                        dtype: torch.dtype | None = None, batch_size: int = 512) -> float:
    """Top-1 (%) of the network's own classifier on ``dataset``, in eval mode."""
    was_training = network.training
    network.eval()
    channels_last = uses_channels_last(network)
    correct = 0
    for images, labels in iterate_eval_batches(dataset, batch_size, device, size):
        x = prepare_eval(images, dataset.mean, dataset.std, size)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, dtype):
            correct += (network(x)[1].argmax(1) == labels).sum()
    network.train(was_training)
    return 100.0 * correct.item() / len(dataset)


def load_network(path: str | Path, name: str, num_classes: int, in_channels: int,
                 device: torch.device | str = "cpu") -> nn.Module:
    """A trained zoo network from a checkpoint of :func:`train_distill` (or a bare state dict),
    in eval mode; one clear error if the file holds another architecture."""
    state = load_checkpoint(path, map_location=device, hint=f"give the checkpoint of a trained {name}, a dict "
                            f"with its weights (a train_distill checkpoint or a state dict)")
    saved = state.get("network_name")
    if saved is not None and saved != name:
        raise CheckpointError(f"{path} holds a {saved}, not the {name} it was loaded as; name the network it "
                              f"was trained as, or point to the {name} checkpoint")
    network = build_classifier(name, num_classes, in_channels)
    load_weights(network, state.get("network", state), str(path))
    return network.to(device).eval()


def load_teacher(cfg: DistillConfig, data: DistillData, **run_kwargs) -> tuple[nn.Module, float]:
    """The trained teacher of ``cfg`` and its test top-1: from ``teacher_checkpoint``, or
    trained once by the same recipe and loaded from then on."""
    device = pick_device(cfg.device)
    if cfg.teacher_checkpoint:
        teacher = load_network(Path(cfg.teacher_checkpoint).expanduser(), cfg.teacher, data.train.num_classes,
                               data.train.channels, device)
        return teacher, classifier_accuracy(teacher, data.test, data.size, device,
                                            autocast_dtype(device, cfg.precision))
    result = train_distill(cfg.teacher_config(), data=data, **run_kwargs)
    return result.network, result.record["metrics"].get("test_top1", {}).get("value")  # rank 0 evaluates


class DistillationTask(Task):
    """The hooks of a distillation run: the benchmark's crop and flip with each image's index,
    top-1 on the validation split after every epoch (keeping the best epoch's weights), test
    top-1 of the last and of the best validation epoch at the end."""

    def __init__(self, cfg: DistillConfig, data: DistillData, teacher: nn.Module | None,
                 device: torch.device, dtype, teacher_accuracy: float | None = None):
        self.cfg, self.data, self.device, self.dtype = cfg, data, device, dtype
        self.teacher_accuracy = teacher_accuracy
        torch.manual_seed(cfg.seed)
        self.model, self.channels_last = place_model(build_distillation(cfg, data.train, data.size, teacher), device,
                                                     cfg.channels_last)
        broadcast_state(self.model)
        self.optimizer = build_optimizer(cfg, [self.model.student]
                                         + ([self.model.criterion] if self.model.criterion is not None else []))
        self.batches = TrainBatches(data.train, cfg.batch_size, device, data.size, num_workers=0)
        self.label = f"{cfg.title if cfg.teacher is not None else cfg.network + ' (cross-entropy)'} seed {cfg.seed}"
        self.best: dict | None = None   # {'epoch', 'val_top1', 'network': state dict}

    def inputs(self, images, labels, index, generator):
        inputs = self.model.make_inputs(images, labels, index, generator)
        if self.channels_last:
            inputs = (inputs[0].contiguous(memory_format=torch.channels_last),) + inputs[1:]
        return inputs

    def after_epoch(self, epoch, entry):
        if self.data.validation is None:
            return
        entry["val_top1"] = classifier_accuracy(self.model.student, self.data.validation, self.data.size,
                                                self.device, self.dtype)
        if self.best is None or entry["val_top1"] > self.best["val_top1"]:
            self.best = {"epoch": epoch + 1, "val_top1": entry["val_top1"],
                         "network": copy.deepcopy(self.model.student.state_dict())}

    def state(self):
        return {"network": self.model.student.state_dict(), "network_name": self.cfg.network,
                "criterion": self.model.criterion.state_dict() if self.model.criterion is not None else {},
                "best": self.best}

    def load_state(self, state, source):
        load_weights(self.model.student, state["network"], source)
        if self.model.criterion is not None:
            load_weights(self.model.criterion, state["criterion"], source)
        self.best = state.get("best")

    def _test_top1(self, network: nn.Module) -> float:
        return classifier_accuracy(network, self.data.test, self.data.size, self.device, self.dtype)

    def final_metrics(self, history):
        split = {"split": "test"}
        metrics = {"test_top1": {"value": self._test_top1(self.model.student), "protocol": {"epoch": "last", **split}}}
        if self.best is not None:
            network = copy.deepcopy(self.model.student)
            network.load_state_dict(self.best["network"])
            metrics["test_top1_best"] = {"value": self._test_top1(network), "protocol": {
                "epoch": "best", "best_epoch": self.best["epoch"], **split,
                "chosen_on": f"validation: {len(self.data.validation)} held-out training images"}}
        if self.teacher_accuracy is not None:
            metrics["teacher_top1"] = {"value": self.teacher_accuracy, "protocol": {"epoch": "last", **split}}
        return metrics

    def record_fields(self):
        return {"backbone": self.cfg.network, "teacher": self.cfg.teacher, "teacher_key": teacher_key(self.cfg)}


def train_distill(cfg: DistillConfig, *, paper: str = "", profile: str = "", data: DistillData | None = None,
                  runs_dir: str | Path | None = None, ledger_dir: str | Path | None = None,
                  retrain: bool = False) -> DistillResult:
    """Train ``cfg`` (or load it, if this exact run finished before) and record its accuracy."""
    device = pick_device(cfg.device)
    dtype = autocast_dtype(device, cfg.precision)
    data = data or load_distill_data(cfg)
    run_kwargs = dict(paper=paper, profile=profile, runs_dir=runs_dir, ledger_dir=ledger_dir)
    teacher, teacher_accuracy = (None, None) if cfg.teacher is None else load_teacher(cfg, data, **run_kwargs)
    run_id = run_id_for(cfg)
    run = Run(cfg, run_id, Path(runs_dir or results_dir() / "runs") / run_id, run_code_fingerprint(cfg.method),
              device, dtype, paper, profile, cfg.method, cfg.dataset, ledger_dir=ledger_dir)
    task = DistillationTask(cfg, data, teacher, device, dtype, teacher_accuracy)
    fitted = fit(task, run, retrain)
    return DistillResult(cfg, run_id, run.run_dir, task.model, fitted.history, fitted.record, fitted.trained_now,
                         teacher_accuracy, data)
