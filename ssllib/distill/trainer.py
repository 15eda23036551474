"""The distillation training loop: ``train_distill``, from a :class:`DistillConfig` to a
trained network, its per-epoch test accuracy and its ledger record.

It shares the self-supervised trainer's machinery (seeded per-epoch streams, device-resident
batches, atomic checkpoints every epoch with resume, the finite-loss check at log points) and
adds what the benchmark needs: a frozen teacher, per-sample indices for CRD's memory, the
step learning-rate schedule, and test top-1 after every epoch, so the last epoch (the
benchmark's number) and the best epoch (labelled as such) are both recorded.

A teacher is a run like any other (method ``ce``): trained once, then loaded from its
checkpoint by every student, in every chapter, that names the same teacher and recipe.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn as nn

from .. import progress
from ..augment import prepare_eval
from ..checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint, write_json
from ..data import dataset_info, load_dataset
from ..data.registry import to_memory
from ..devices import autocast, autocast_dtype, pick_device, place_model, uses_channels_last
from ..distributed import broadcast_state, is_main_process, world_key, world_size
from ..fingerprint import run_code_fingerprint
from ..ledger import environment, results_dir, write_record
from ..loader import TrainBatches, iterate_eval_batches
from ..schedule import step_decay
from ..trainer import EpochMeter, epoch_generator, fixed_subset, optimise, previous_state, set_lr
from .config import DistillConfig
from .model import Distillation, build_distillation
from .zoo import build_network


@dataclass
class DistillData:
    train: object
    test: object
    size: int  # side of the networks' input


def load_distill_data(cfg: DistillConfig) -> DistillData:
    """The train subset and the test set, loaded once and shared by a chapter's runs. Datasets
    read from image files are decoded once into memory at the networks' input size (the
    benchmark's networks take 32 px images)."""
    size = cfg.image_size or (32 if not dataset_info(cfg.dataset).in_memory else dataset_info(cfg.dataset).image_size)
    train = load_dataset(cfg.dataset, "train", cfg.data_root, cfg.download)
    test = load_dataset(cfg.dataset, "test", cfg.data_root)
    if not train.in_memory:
        train, test = to_memory(train, size), to_memory(test, size)
    return DistillData(fixed_subset(train, cfg.train_subset), test, size)


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
    if cfg.method == "ce":
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
    state = load_checkpoint(path, map_location=device)
    saved = state.get("network_name") if isinstance(state, dict) else None
    if saved is not None and saved != name:
        raise CheckpointError(f"{path} holds a {saved}, not the {name} it was loaded as; name the network it "
                              f"was trained as, or point to the {name} checkpoint")
    network = build_network(name, num_classes, in_channels)
    load_weights(network, state.get("network", state), str(path))
    return network.to(device).eval()


def load_teacher(cfg: DistillConfig, data: DistillData, **run_kwargs) -> tuple[nn.Module, float]:
    """The trained teacher of ``cfg`` and its test top-1: from ``teacher_checkpoint``, or
    trained once by the same recipe and loaded from then on."""
    device = pick_device(cfg.device)
    if cfg.teacher_checkpoint:
        teacher = load_network(Path(cfg.teacher_checkpoint).expanduser(), cfg.teacher, data.train.num_classes, data.train.channels,
                               device)
        return teacher, classifier_accuracy(teacher, data.test, data.size, device,
                                            autocast_dtype(device, cfg.precision))
    result = train_distill(cfg.teacher_config(), data=data, **run_kwargs)
    return result.network, result.metric()


def train_distill(cfg: DistillConfig, *, paper: str = "", profile: str = "", data: DistillData | None = None,
                  runs_dir: str | Path | None = None, ledger_dir: str | Path | None = None,
                  retrain: bool = False) -> DistillResult:
    """Train ``cfg`` (or load it, if this exact run finished before) and record its accuracy."""
    device = pick_device(cfg.device)
    dtype = autocast_dtype(device, cfg.precision)
    data = data or load_distill_data(cfg)
    run_kwargs = dict(paper=paper, profile=profile, runs_dir=runs_dir, ledger_dir=ledger_dir)
    teacher, teacher_accuracy = (None, None) if cfg.method == "ce" else load_teacher(cfg, data, **run_kwargs)
    run_id = run_id_for(cfg)
    run_dir = Path(runs_dir or results_dir() / "runs") / run_id
    ckpt_path, record_path = run_dir / "checkpoint.pt", run_dir / "record.json"

    torch.manual_seed(cfg.seed)
    model, channels_last = place_model(build_distillation(cfg, data.train, data.size, teacher), device,
                                       cfg.channels_last)
    broadcast_state(model)
    optimizer = torch.optim.SGD(model.trainable_parameters(), lr=cfg.lr, momentum=cfg.sgd_momentum,
                                weight_decay=cfg.weight_decay)
    history: list[dict] = []
    start_epoch, started = 0, datetime.now(timezone.utc).isoformat(timespec="seconds")
    state = previous_state(ckpt_path, cfg.to_dict(), device, retrain)
    if state is not None:
        load_weights(model.student, state["network"], str(ckpt_path))
        if model.criterion is not None:
            load_weights(model.criterion, state["criterion"], str(ckpt_path))
        optimizer.load_state_dict(state["optimizer"])
        history, start_epoch, started = state["history"], state["epoch"], state["started"]
        if start_epoch >= cfg.epochs and record_path.exists():
            record = json.loads(record_path.read_text())
            model.eval()
            return DistillResult(cfg, run_id, run_dir, model, history, record, False, teacher_accuracy, data)

    batches = TrainBatches(data.train, cfg.batch_size, device, data.size, num_workers=0)
    steps = len(batches)
    label = cfg.title if cfg.method != "ce" else f"{cfg.network} (cross-entropy)"
    bar = progress.bar(steps * cfg.epochs, f"{label} seed {cfg.seed}", initial=start_epoch * steps)
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        order_gen = epoch_generator(cfg.seed, epoch, 0, torch.device("cpu"))
        aug_gen = epoch_generator(cfg.seed, epoch, 1, device)
        meter = EpochMeter()
        for step, (images, labels, index) in enumerate(batches.epoch(order_gen, with_index=True)):
            # milestones may fall inside an epoch (scaled-down recipes); at whole epochs this is
            # the benchmark's per-epoch schedule
            set_lr(optimizer, step_decay(epoch + step / steps, cfg.lr, cfg.lr_milestones, cfg.lr_decay))
            inputs = model.make_inputs(images, labels, index, aug_gen)
            if channels_last:
                inputs = (inputs[0].contiguous(memory_format=torch.channels_last),) + inputs[1:]
            out = optimise(model, optimizer, inputs, device, dtype, epoch, (epoch * steps + step) / (cfg.epochs * steps),
                           aug_gen)
            meter.add(out.metrics)
            if (step + 1) % cfg.log_every == 0 or step + 1 == steps:
                meter.log_point(epoch * steps + step + 1, epoch, step, ckpt_path, bar, steps)
        entry = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], **meter.epoch_means(steps)}
        entry["test_top1"] = classifier_accuracy(model.student, data.test, data.size, device, dtype)
        entry["seconds"] = time.perf_counter() - t0
        bar.set_postfix(epoch=epoch + 1, loss=f"{entry['loss']:.3f}", test=f"{entry['test_top1']:.1f}")
        history.append(entry)
        if is_main_process():
            save_checkpoint({"network": model.student.state_dict(), "network_name": cfg.network,
                             "criterion": model.criterion.state_dict() if model.criterion is not None else {},
                             "optimizer": optimizer.state_dict(), "epoch": epoch + 1, "history": history,
                             "config": cfg.to_dict(), "code": run_code_fingerprint(cfg.method), "started": started},
                            ckpt_path)
    bar.close()
    model.eval()

    best = max(history, key=lambda h: h["test_top1"])
    metrics = {"test_top1": {"value": history[-1]["test_top1"], "protocol": {"epoch": "last", "split": "test"}},
               "test_top1_best": {"value": best["test_top1"],
                                  "protocol": {"epoch": "best", "best_epoch": best["epoch"], "split": "test"}}}
    if teacher_accuracy is not None:
        metrics["teacher_top1"] = {"value": teacher_accuracy, "protocol": {"epoch": "last", "split": "test"}}
    record = {
        "run_id": run_id, "paper": paper, "method": cfg.method, "dataset": cfg.dataset,
        "backbone": cfg.network, "teacher": cfg.teacher, "profile": profile, "epochs": cfg.epochs,
        "seed": cfg.seed, "metrics": metrics, "config": cfg.to_dict(), "environment": environment(device, world_size()),
        "code": run_code_fingerprint(cfg.method), "teacher_key": teacher_key(cfg),
        "wall_time_s": sum(h["seconds"] for h in history), "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "history": history,
    }
    if is_main_process():
        write_json(record, record_path)
        write_record(record, ledger_dir)
    return DistillResult(cfg, run_id, run_dir, model, history, record, True, teacher_accuracy, data)
