"""A distillation run on the engine's loop: ``train_distill`` takes a :class:`DistillConfig`
to its :class:`~ssllib.engine.runs.Result` (record, and the trained networks on demand).

It adds to the loop what the benchmark needs: a frozen teacher, per-sample indices for CRD's
memory, and, when ``validation_size`` holds training images out, top-1 on that validation
split after every epoch, on which the loop keeps the best epoch's weights. After the last epoch
the test split is read once, for the last epoch's weights (the benchmark's number) and for the
best validation epoch's (labelled as such).

A teacher is a run like any other (method ``ce``): trained once, then read by every student, in
every chapter, that names the same teacher and recipe. A student's identity includes its
teacher's (an input of the run), so a new teacher makes new students.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from ssllib.data import dataset_info, load_dataset
from ssllib.data.loader import TrainBatches, eval_inputs
from ssllib.data.registry import data_folder, to_memory
from ssllib.data.splits import train_and_validation
from ssllib.distill.config import DistillConfig
from ssllib.distill.model import build_distillation
from ssllib.engine.checkpoint import CheckpointError, load_checkpoint, load_weights
from ssllib.engine.devices import autocast_dtype, formatted, pick_device, place_model, uses_channels_last
from ssllib.engine.distributed import broadcast_state, world_identity
from ssllib.engine.fingerprint import run_code_fingerprint
from ssllib.engine.identity import Input, RunKey, run_key
from ssllib.engine.loop import Run, Task
from ssllib.engine.optim import build_optimizer
from ssllib.engine.predict import device_of, predict
from ssllib.engine.runs import Result, obtain
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


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def teacher_input(cfg: DistillConfig) -> dict:
    """What the run reads of its teacher: the teacher run (an input), or the content of the
    given checkpoint; nothing for a run without a teacher."""
    if cfg.teacher is None:
        return {}
    if cfg.teacher_checkpoint:
        return {"teacher": f"checkpoint sha256 {_file_digest(Path(cfg.teacher_checkpoint).expanduser())}"}
    teacher = run_key_for(cfg.teacher_config())
    return {"teacher": Input(teacher.run_id, teacher.setting)}


def teacher_key(cfg: DistillConfig) -> str:
    """A short name of the teacher a run learns from (its run id, or its checkpoint's digest)."""
    value = teacher_input(cfg).get("teacher", "")
    return value.run_id if isinstance(value, Input) else value.rsplit(" ", 1)[-1]


def run_key_for(cfg: DistillConfig) -> RunKey:
    """The run's identity: its configuration, its teacher's, and the code of its method."""
    return run_key(f"{cfg.method}-{cfg.dataset}-{cfg.network}-s{cfg.seed}", {**cfg.identity(), **world_identity()},
                   run_code_fingerprint(cfg.method), teacher_input(cfg))


def run_id_for(cfg: DistillConfig) -> str:
    return run_key_for(cfg).run_id


def classifier_accuracy(network: nn.Module, dataset, size: int, dtype: torch.dtype | None = None,
                        batch_size: int = 512) -> float:
    """Top-1 (%) of the network's own classifier on ``dataset``, in eval mode, on its device."""
    batches = eval_inputs(dataset, size, device_of(network), uses_channels_last(network), batch_size)
    logits = predict(network, batches, forward=lambda x: network(x)[1], dtype=dtype)
    return 100.0 * (logits.argmax(1).cpu() == dataset.labels.cpu()).sum().item() / len(dataset)


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
    """The trained teacher of ``cfg`` and its test top-1: from ``teacher_checkpoint``, or the
    teacher run (found, or trained once by the same recipe)."""
    device = pick_device(cfg.device)
    if cfg.teacher_checkpoint:
        teacher = load_network(Path(cfg.teacher_checkpoint).expanduser(), cfg.teacher, data.train.num_classes,
                               data.train.channels, device)
        return teacher, classifier_accuracy(teacher, data.test, data.size, autocast_dtype(device, cfg.precision))
    result = train_distill(cfg.teacher_config(), data=data, **run_kwargs)
    return result.model.student, result.record["metrics"].get("test_top1", {}).get("value")  # rank 0 evaluates


class DistillationTask(Task):
    """The hooks of a distillation run: the benchmark's crop and flip with each image's index,
    top-1 on the validation split after every epoch (the loop keeps the best epoch's weights),
    test top-1 of the last and of the best validation epoch at the end."""

    def __init__(self, cfg: DistillConfig, data: DistillData, teacher: nn.Module | None,
                 device: torch.device, dtype, teacher_accuracy: float | None = None, evaluate: bool = True):
        self.cfg, self.data, self.device, self.dtype, self.evaluate = cfg, data, device, dtype, evaluate
        self.teacher_accuracy = teacher_accuracy
        torch.manual_seed(cfg.seed)
        self.model, self.channels_last = place_model(build_distillation(cfg, data.train, data.size, teacher), device,
                                                     cfg.channels_last)
        broadcast_state(self.model)
        self.optimizer = build_optimizer(cfg, [self.model.student]
                                         + ([self.model.criterion] if self.model.criterion is not None else []))
        self.batches = TrainBatches(data.train, cfg.batch_size, device, data.size, num_workers=0)
        self.label = f"{cfg.title if cfg.teacher is not None else cfg.network + ' (cross-entropy)'} seed {cfg.seed}"
        self.selects_on = "val_top1" if data.validation is not None else None

    def inputs(self, images, labels, index, generator):
        return formatted(self.model.make_inputs(images, labels, index, generator), self.channels_last)

    def after_epoch(self, epoch, entry):
        if self.data.validation is not None:
            entry["val_top1"] = classifier_accuracy(self.model.student, self.data.validation, self.data.size,
                                                    self.dtype)

    def selected_module(self):
        return self.model.student

    def state(self):
        return {"network": self.model.student.state_dict(), "network_name": self.cfg.network,
                "criterion": self.model.criterion.state_dict() if self.model.criterion is not None else {}}

    def load_state(self, state, source):
        load_weights(self.model.student, state["network"], source)
        if self.model.criterion is not None:
            load_weights(self.model.criterion, state["criterion"], source)

    def _test_top1(self, network: nn.Module) -> float:
        return classifier_accuracy(network, self.data.test, self.data.size, self.dtype)

    def final_metrics(self, history):
        if not self.evaluate:
            return {}
        split = {"split": "test"}
        metrics = {"test_top1": {"value": self._test_top1(self.model.student), "protocol": {"epoch": "last", **split}}}
        if self.best is not None:
            metrics["test_top1_best"] = {"value": self._test_top1(self.module_at_best()), "protocol": {
                "epoch": "best", "best_epoch": self.best["epoch"], **split,
                "chosen_on": f"validation: {len(self.data.validation)} held-out training images"}}
        if self.teacher_accuracy is not None:
            metrics["teacher_top1"] = {"value": self.teacher_accuracy, "protocol": {"epoch": "last", **split}}
        return metrics

    def record_fields(self):
        return {"backbone": self.cfg.network, "teacher": self.cfg.teacher, "teacher_key": teacher_key(self.cfg),
                "data_folder": data_folder(self.cfg.dataset, self.cfg.data_root)}


def train_distill(cfg: DistillConfig, *, paper: str = "", profile: str = "", data: DistillData | None = None,
                  runs_dir: str | Path | None = None, ledger_dir: str | Path | None = None,
                  retrain: bool = False, evaluate: bool = True) -> Result:
    """The run ``cfg``: found (committed or local), checked, resumed or trained; its teacher
    (and the data) are loaded only when the run must train or its networks are asked for."""
    device = pick_device(cfg.device)
    dtype = autocast_dtype(device, cfg.precision)
    run_kwargs = dict(paper=paper, profile=profile, runs_dir=runs_dir, ledger_dir=ledger_dir)
    loaded = [data]

    def make_task() -> DistillationTask:
        if loaded[0] is None:
            loaded[0] = load_distill_data(cfg)
        teacher, accuracy = (None, None) if cfg.teacher is None else load_teacher(cfg, loaded[0], **run_kwargs)
        return DistillationTask(cfg, loaded[0], teacher, device, dtype, accuracy, evaluate)

    run = Run(cfg, run_key_for(cfg), device, make_task=make_task, dtype=dtype, paper=paper, profile=profile,
              method=cfg.method, dataset=cfg.dataset, ledger_dir=Path(ledger_dir) if ledger_dir else None,
              runs_dir=Path(runs_dir) if runs_dir else None)
    return obtain(run, retrain)
