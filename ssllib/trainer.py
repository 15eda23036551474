"""The training loop: one function, ``train``, from a run configuration to a trained encoder,
its metrics and its ledger record.

- The device is picked for you (CUDA, MPS, CPU); on CUDA the step runs under bf16 autocast in
  channels-last format. Data and augmentation live on the device.
- A checkpoint is written atomically at the end of every epoch; a run that is interrupted
  resumes from it, and the result equals that of an uninterrupted run: the data order and
  the augmentation of each epoch come from generators seeded by (seed, epoch).
- A run whose configuration and code are unchanged and that finished before is loaded from
  its checkpoint instead of trained again.
- The loss is checked every ``log_every`` steps (one host sync) and a non-finite loss stops the
  run with the last good checkpoint kept.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn as nn

from . import progress
from .checkpoint import load_checkpoint, load_weights, save_checkpoint, write_json
from .config import RunConfig
from .data import dataset_info, load_dataset
from .devices import autocast, autocast_dtype, pick_device, place_model
from .distributed import (average_gradients, broadcast_state, is_main_process, mean_over_processes, world_key,
                          world_size)
from .evaluate import extract_features, knn_accuracy, knn_protocol, linear_probe
from .fingerprint import run_code_fingerprint
from .ledger import environment, results_dir, write_record
from .loader import TrainBatches
from .methods import build_method
from .schedule import warmup_constant, warmup_cosine


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class EpochMeter:
    """Step metrics summed on the device, read back only at log points: the epoch's means and
    a trace of window means (one entry per log point)."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}    # over the epoch
        self.window: dict[str, torch.Tensor] = {}  # since the last log point
        self.trace: list[dict] = []
        self.window_start = 0

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0) + value.float()
            self.window[name] = self.window.get(name, 0) + value.float()

    def log_point(self, global_step: int, epoch: int, step: int, ckpt_path: Path, bar, steps: int) -> None:
        """One host sync: check the loss is finite, append to the trace, move the progress bar.
        With several processes the metrics are first averaged over them (the global batch's)."""
        self.sums, self.window = mean_over_processes(self.sums), mean_over_processes(self.window)
        check_finite(self.sums["loss"], epoch, step, ckpt_path)
        self.trace.append({"step": global_step,
                           **{name: (value / (step + 1 - self.window_start)).item()
                              for name, value in self.window.items()}})
        self.window, self.window_start = {}, step + 1
        bar.update(step + 1 - (bar.n - epoch * steps))
        bar.set_postfix(epoch=epoch + 1, loss=f"{self.sums['loss'].item() / (step + 1):.3f}")

    def epoch_means(self, steps: int) -> dict:
        return {**{name: (value / steps).item() for name, value in self.sums.items()}, "trace": self.trace}


PRETRAIN_SPLIT = {"stl10": "train+unlabeled"}  # unlabelled images join self-supervised training


def _stream_seed(seed: int, epoch: int, stream: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + stream) % (2 ** 63)


def epoch_generator(seed: int, epoch: int, stream: int, device: torch.device) -> torch.Generator:
    """An independent random stream per (seed, epoch, purpose): 0 data order, 1 augmentation."""
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu")
    return gen.manual_seed(_stream_seed(seed, epoch, stream))


def fixed_subset(dataset, n: int, seed: int = 0):
    """The first ``n`` images of a fixed shuffle (the same for every run seed)."""
    if not n or n >= len(dataset):
        return dataset
    return dataset.subset(torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n])


@dataclass
class RunData:
    train: object          # what self-supervised methods train on (labels may be -1)
    bank: object           # labelled training images: supervised training, kNN bank, linear probe
    test: object
    size: int              # side of the network's input

    def training_set(self, method: str):
        return self.bank if method == "supervised" else self.train


def load_run_data(cfg: RunConfig) -> RunData:
    """The splits a run needs, loaded once and shared by every run on the same data."""
    info = dataset_info(cfg.dataset)
    split = PRETRAIN_SPLIT.get(cfg.dataset, "train")
    bank = fixed_subset(load_dataset(cfg.dataset, "train", cfg.data_root, cfg.download), cfg.train_subset)
    train = bank if split == "train" else fixed_subset(load_dataset(cfg.dataset, split, cfg.data_root),
                                                        cfg.train_subset)
    test = load_dataset(cfg.dataset, "test", cfg.data_root)
    return RunData(train, bank, test, cfg.image_size or info.image_size)


@dataclass
class RunResult:
    config: RunConfig
    run_id: str
    run_dir: Path
    model: nn.Module
    history: list[dict]
    record: dict
    trained_now: bool = True  # False when a finished run was loaded from its checkpoint
    data: RunData | None = field(default=None, repr=False)

    @property
    def backbone(self) -> nn.Module:
        return self.model.backbone

    def metric(self, name: str) -> float:
        return self.record["metrics"][name]["value"]


def run_id_for(cfg: RunConfig) -> str:
    code = run_code_fingerprint(cfg.method) + world_key()
    return f"{cfg.method}-{cfg.dataset}-{cfg.backbone}w{cfg.width}-s{cfg.seed}-{cfg.fingerprint(code)}"


def ready_model(model: nn.Module, cfg: RunConfig, device: torch.device) -> tuple[nn.Module, bool]:
    """``model`` on ``device`` as the run trains it: channels-last where asked for and safe,
    SyncBatchNorm where asked for, rank 0's starting weights on every process, and the method's
    networks compiled where asked for. Returns (model, whether channels-last is in use)."""
    if cfg.sync_bn and world_size() > 1:
        if device.type != "cuda":
            raise ValueError("sync_bn=True needs CUDA (NCCL); on the CPU keep per-process statistics "
                             "(sync_bn=False, shuffle_keys=True)")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model, channels_last = place_model(model, device, cfg.channels_last)
    broadcast_state(model)
    if cfg.compile:
        for part in model.compiled_parts():
            part.compile()
    return model, channels_last


def prepare_inputs(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, generator,
                   channels_last: bool) -> tuple:
    """The method's augmented inputs for one batch, in the memory format the network runs in."""
    inputs = model.make_inputs(images, labels, generator)
    if channels_last:
        inputs = tuple(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in inputs)
    return inputs


def optimise(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: tuple, device: torch.device,
             dtype, epoch: int, progress_fraction: float, generator=None):
    """One forward (under autocast where enabled), backward and optimiser step; with several
    processes the gradients are averaged over them before the step."""
    with autocast(device, dtype):
        out = model(*inputs, epoch=epoch, progress=progress_fraction, generator=generator)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    average_gradients(p for group in optimizer.param_groups for p in group["params"])
    optimizer.step()
    return out


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _features(backbone: nn.Module, dataset, size: int, cfg: RunConfig, device) -> torch.Tensor:
    return extract_features(backbone, dataset, size, device, num_workers=cfg.num_workers, autocast_dtype=autocast_dtype(device, cfg.precision))


def _monitor(model: nn.Module, data: RunData, cfg: RunConfig, device) -> float:
    """kNN top-1 on fixed subsets of the bank and test sets (the per-epoch monitor)."""
    bank, test = fixed_subset(data.bank, cfg.monitor_size, seed=1), fixed_subset(data.test, cfg.monitor_test, seed=1)
    return knn_accuracy(_features(model.backbone, bank, data.size, cfg, device), bank.labels,
                        _features(model.backbone, test, data.size, cfg, device), test.labels,
                        bank.num_classes, cfg.knn_k, cfg.knn_t)


def evaluate_backbone(backbone: nn.Module, data: RunData, cfg: RunConfig, device=None, linear: bool = True,
                      seed: int = 0) -> dict:
    """kNN and linear-probe top-1 of a frozen backbone on the full bank and test sets."""
    device = device or next(backbone.parameters()).device
    return evaluate_features(_features(backbone, data.bank, data.size, cfg, device), data.bank.labels,
                             _features(backbone, data.test, data.size, cfg, device), data.test.labels,
                             data.bank.num_classes, cfg, linear, seed)


def evaluate_features(fb, yb, ft, yt, num_classes: int, cfg: RunConfig, linear: bool = True, seed: int = 0) -> dict:
    metrics = {"knn_top1": {"value": knn_accuracy(fb, yb, ft, yt, num_classes, cfg.knn_k, cfg.knn_t),
                            "protocol": {**knn_protocol(cfg.knn_k, cfg.knn_t, len(fb), len(ft)), "epoch": "last"}}}
    if linear:
        value, protocol = linear_probe(fb, yb, ft, yt, num_classes, seed=seed)
        metrics["linear_top1"] = {"value": value, "protocol": {**protocol, "epoch": "last"}}
    return metrics


def previous_state(ckpt_path: Path, config: dict, device, retrain: bool = False) -> dict | None:
    """The checkpoint of an earlier (finished or interrupted) run of this exact configuration,
    or None to start afresh; a checkpoint of another configuration is left alone, with an error."""
    if retrain or not ckpt_path.exists():
        return None
    state = load_checkpoint(ckpt_path, map_location=device)
    if state.get("config") != config:
        raise RuntimeError(f"{ckpt_path} was written by another configuration; move it aside to train this one")
    return state


def train(cfg: RunConfig, *, paper: str = "", profile: str = "", evaluate: bool = True,
          data: RunData | None = None, runs_dir: str | Path | None = None,
          ledger_dir: str | Path | None = None, retrain: bool = False) -> RunResult:
    """Train ``cfg`` (or load it, if this exact run finished before) and evaluate it."""
    device = pick_device(cfg.device)
    dtype = autocast_dtype(device, cfg.precision)
    data = data or load_run_data(cfg)
    run_id = run_id_for(cfg)
    run_dir = Path(runs_dir or results_dir() / "runs") / run_id
    ckpt_path, record_path = run_dir / "checkpoint.pt", run_dir / "record.json"

    torch.manual_seed(cfg.seed)
    train_set = data.training_set(cfg.method)
    model, channels_last = ready_model(build_method(cfg, train_set, data.size), cfg, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.sgd_momentum, weight_decay=cfg.weight_decay)

    history: list[dict] = []
    start_epoch, started = 0, datetime.now(timezone.utc).isoformat(timespec="seconds")
    state = previous_state(ckpt_path, cfg.to_dict(), device, retrain)
    if state is not None:
        load_weights(model, state["model"], str(ckpt_path))
        optimizer.load_state_dict(state["optimizer"])
        history, start_epoch, started = state["history"], state["epoch"], state["started"]
        if start_epoch >= cfg.epochs and record_path.exists():
            import json

            record = json.loads(record_path.read_text())
            model.eval()
            return RunResult(cfg, run_id, run_dir, model, history, record, trained_now=False, data=data)

    batches = TrainBatches(train_set, cfg.batch_size, device, data.size, (cfg.crop_min_scale, 1.0),
                           num_workers=cfg.num_workers)
    steps, total_steps = len(batches), len(batches) * cfg.epochs
    schedule = warmup_cosine if cfg.lr_schedule == "cosine" else warmup_constant
    warmup_steps = cfg.lr_warmup_epochs * steps
    bar = progress.bar(total_steps, f"{cfg.method} seed {cfg.seed}", initial=start_epoch * steps)

    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        order_gen = epoch_generator(cfg.seed, epoch, 0, torch.device("cpu"))
        aug_gen = epoch_generator(cfg.seed, epoch, 1, device)
        meter = EpochMeter()
        for step, (images, labels) in enumerate(batches.epoch(order_gen)):
            global_step = epoch * steps + step
            set_lr(optimizer, schedule(global_step, total_steps, warmup_steps, cfg.lr))
            inputs = prepare_inputs(model, images, labels, aug_gen, channels_last)
            out = optimise(model, optimizer, inputs, device, dtype, epoch, global_step / total_steps, aug_gen)
            meter.add(out.metrics)
            if (step + 1) % cfg.log_every == 0 or step + 1 == steps:
                meter.log_point(global_step + 1, epoch, step, ckpt_path, bar, steps)
        entry = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], **meter.epoch_means(steps)}
        if cfg.monitor_every and ((epoch + 1) % cfg.monitor_every == 0 or epoch + 1 == cfg.epochs):
            entry["knn_monitor"] = _monitor(model, data, cfg, device)
            bar.set_postfix(epoch=epoch + 1, loss=f"{entry['loss']:.3f}", knn=f"{entry['knn_monitor']:.1f}")
        entry["seconds"] = time.perf_counter() - t0
        history.append(entry)
        if is_main_process():
            save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                             "history": history, "config": cfg.to_dict(), "code": run_code_fingerprint(cfg.method),
                             "started": started}, ckpt_path)
    bar.close()

    model.eval()
    # one process evaluates; the others have the same weights
    metrics = evaluate_backbone(model.backbone, data, cfg, device, seed=cfg.seed) \
        if evaluate and is_main_process() else {}
    if history and "knn_monitor" in history[-1]:
        metrics["knn_monitor_top1"] = {"value": history[-1]["knn_monitor"], "protocol": {
            **knn_protocol(cfg.knn_k, cfg.knn_t, min(cfg.monitor_size or len(data.bank), len(data.bank)),
                           min(cfg.monitor_test or len(data.test), len(data.test))), "epoch": "last"}}
    record = {
        "run_id": run_id, "paper": paper, "method": cfg.method, "dataset": cfg.dataset,
        "backbone": f"{cfg.backbone} ({cfg.stem} stem, width {cfg.width})", "profile": profile,
        "epochs": cfg.epochs, "seed": cfg.seed, "metrics": metrics, "config": cfg.to_dict(),
        "environment": environment(device, world_size()), "code": run_code_fingerprint(cfg.method),
        "wall_time_s": sum(h["seconds"] for h in history), "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "history": history,
    }
    if is_main_process():
        write_json(record, record_path)
        write_record(record, ledger_dir)
    return RunResult(cfg, run_id, run_dir, model, history, record, trained_now=True, data=data)


def check_finite(loss_sum: torch.Tensor, epoch: int, step: int, ckpt_path: Path) -> None:
    if not math.isfinite(loss_sum.item()):
        kept = f"the checkpoint of the last good epoch is kept at {ckpt_path}" if ckpt_path.exists() else \
            "no checkpoint was written yet"
        raise TrainingDiverged(f"the loss became {loss_sum.item()} at epoch {epoch + 1}, step {step + 1}; "
                               f"lower lr or check the data ({kept})")
